// The dashboard's routes. Every page but sign-in and register needs a token; without one (or once the API
// refuses it) the user goes to sign-in and comes back to where they were.
import { Navigate, Outlet, Route, Routes, useLocation } from "react-router";
import { auth } from "./api/client";
import { useStore } from "./api/store";
import { Layout } from "./components/layout";
import { AgentFormPage } from "./pages/agent-form";
import { AgentReportPage } from "./pages/agent-report";
import { AgentsPage } from "./pages/agents";
import { AnalyticsPage } from "./pages/analytics";
import { ApiKeysPage } from "./pages/api-keys";
import { GroupPage } from "./pages/group";
import { NotFoundPage } from "./pages/not-found";
import { PersonaFormPage } from "./pages/persona-form";
import { PersonasPage } from "./pages/personas";
import { SearchPage } from "./pages/search";
import { SessionPage } from "./pages/session";
import { SessionsPage } from "./pages/sessions";
import { SignInPage } from "./pages/sign-in";
import { StartSessionPage } from "./pages/start-session";

function RequireAuth() {
  const { token } = useStore(auth);
  const location = useLocation();
  if (!token) return <Navigate to="/sign-in" replace state={{ from: location.pathname + location.search }} />;
  return <Outlet />;
}

function GuestOnly() {
  const { token } = useStore(auth);
  const location = useLocation();
  if (token)
    return <Navigate to={(location.state as { from?: string } | null)?.from ?? "/sessions"} replace />;
  return <Outlet />;
}

export function App() {
  return (
    <Routes>
      <Route element={<GuestOnly />}>
        <Route path="/sign-in" element={<SignInPage mode="sign-in" />} />
        <Route path="/register" element={<SignInPage mode="register" />} />
      </Route>
      <Route element={<RequireAuth />}>
        <Route element={<Layout />}>
          <Route index element={<Navigate to="/sessions" replace />} />
          <Route path="/sessions" element={<SessionsPage />} />
          <Route path="/sessions/new" element={<StartSessionPage />} />
          <Route path="/sessions/:id" element={<SessionPage />} />
          <Route path="/groups/:id" element={<GroupPage />} />
          <Route path="/personas" element={<PersonasPage />} />
          <Route path="/personas/new" element={<PersonaFormPage />} />
          <Route path="/personas/:id" element={<PersonaFormPage />} />
          <Route path="/agents" element={<AgentsPage />} />
          <Route path="/agents/new" element={<AgentFormPage />} />
          <Route path="/agents/:id" element={<AgentFormPage />} />
          <Route path="/agents/:id/report" element={<AgentReportPage />} />
          <Route path="/analytics" element={<AnalyticsPage />} />
          <Route path="/search" element={<SearchPage />} />
          <Route path="/settings/api-keys" element={<ApiKeysPage />} />
          <Route path="*" element={<NotFoundPage />} />
        </Route>
      </Route>
    </Routes>
  );
}
