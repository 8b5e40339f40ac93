// The frame of every signed-in page: a skip link, the header with the main navigation (a menu button on narrow
// screens) and the page's <main>. Moving to another page puts focus on its heading, as a page load would.
import { type ReactNode, useEffect, useId, useRef, useState } from "react";
import { NavLink, Outlet, useLocation } from "react-router";
import { signOut } from "../api/client";
import { useMe } from "../api/queries";

const NAV = [
  { to: "/sessions", label: "Sessions" },
  { to: "/personas", label: "Personas" },
  { to: "/agents", label: "Agents" },
  { to: "/analytics", label: "Analytics" },
  { to: "/search", label: "Search" },
  { to: "/settings/api-keys", label: "API keys" },
];

export function Layout() {
  const me = useMe();
  const location = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  const menuId = useId();

  // biome-ignore lint/correctness/useExhaustiveDependencies: closes the menu whenever the page changes.
  useEffect(() => setMenuOpen(false), [location.pathname]);

  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="header">
        <div className="header-inner">
          <NavLink to="/sessions" className="brand">
            <span className="brand-mark" aria-hidden="true">
              M
            </span>
            <span className="brand-name">Mimic</span>
          </NavLink>
          <button
            type="button"
            className="menu-button"
            aria-expanded={menuOpen}
            aria-controls={menuId}
            onClick={() => setMenuOpen((open) => !open)}
          >
            Menu
          </button>
          <nav aria-label="Main" id={menuId} className={`nav${menuOpen ? " nav-open" : ""}`}>
            <ul>
              {NAV.map((item) => (
                <li key={item.to}>
                  <NavLink to={item.to}>{item.label}</NavLink>
                </li>
              ))}
            </ul>
            <div className="nav-user">
              {me.data && <span className="nav-email">{me.data.email}</span>}
              <button type="button" className="button button-quiet" onClick={() => signOut()}>
                Sign out
              </button>
            </div>
          </nav>
        </div>
      </header>
      <main id="main" className="main" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}

/** A page: its title (document and h1), optional actions beside the heading, and its content. */
export function Page({
  title,
  actions,
  children,
  description,
}: {
  title: string;
  actions?: ReactNode;
  children: ReactNode;
  description?: ReactNode;
}) {
  const heading = useRef<HTMLHeadingElement>(null);
  // "default" is the page the browser loaded; every later page was reached by navigating inside the app.
  const { key } = useLocation();
  useEffect(() => {
    document.title = `${title} · Mimic`;
  }, [title]);
  useEffect(() => {
    // Not on the first page (the browser starts at the top of the document), on every page after it.
    if (key !== "default") heading.current?.focus();
  }, [key]);
  return (
    <>
      <div className="page-header">
        <div>
          <h1 tabIndex={-1} ref={heading}>
            {title}
          </h1>
          {description && <p className="page-description">{description}</p>}
        </div>
        {actions && <div className="page-actions">{actions}</div>}
      </div>
      {children}
    </>
  );
}
