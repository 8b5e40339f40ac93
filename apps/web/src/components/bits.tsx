// Small pieces shared by the pages: status badges, verdicts, loading and error states, pagination, a confirm
// dialog and the live-connection indicator.
import type { Session } from "@mimic/sdk";
import { MimicError, NotFoundError } from "@mimic/sdk";
import { type ReactNode, useEffect, useId, useRef } from "react";
import { Link } from "react-router";
import { type LiveState, liveState } from "../api/client";
import { useStore } from "../api/store";

export type SessionStatus = Session["status"];

const STATUS_LABEL: Record<SessionStatus, string> = {
  pending: "Pending",
  active: "Running",
  completed: "Completed",
  failed: "Failed",
  stopped: "Stopped",
};

export const isRunning = (status: SessionStatus) => status === "pending" || status === "active";

export function StatusBadge({ status }: { status: SessionStatus }) {
  return (
    <span className={`badge badge-${status}`}>
      {isRunning(status) && <span className="pulse" aria-hidden="true" />}
      {STATUS_LABEL[status]}
    </span>
  );
}

/** A session's verdict: passed, failed, or none (running, stopped). */
export function Verdict({ passed }: { passed: boolean | null | undefined }) {
  if (passed === null || passed === undefined) return <span className="muted">—</span>;
  return passed ? (
    <span className="verdict verdict-pass">
      <span aria-hidden="true">✓ </span>Passed
    </span>
  ) : (
    <span className="verdict verdict-fail">
      <span aria-hidden="true">✗ </span>Failed
    </span>
  );
}

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <p className="loading">
      <output>{label}</output>
    </p>
  );
}

/** What a failed query shows; a 404 reads as "not found", not as an error. */
export function ErrorMessage({ error, retry }: { error: unknown; retry?: () => void }) {
  const message =
    error instanceof NotFoundError
      ? "Not found. It may have been deleted, or it belongs to another account."
      : error instanceof MimicError
        ? error.message
        : "Something went wrong.";
  return (
    <div className="alert alert-error" role="alert">
      <p>{message}</p>
      {retry && !(error instanceof NotFoundError) && (
        <button type="button" className="button" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

/** Previous / next over an API list; `page` starts at 1. */
export function Pagination({
  page,
  pages,
  total,
  hrefFor,
  label = "Pagination",
}: {
  page: number;
  pages: number;
  total: number;
  hrefFor: (page: number) => string;
  label?: string;
}) {
  if (pages <= 1) return null;
  return (
    <nav className="pagination" aria-label={label}>
      {page > 1 ? (
        <Link to={hrefFor(page - 1)} rel="prev">
          ← Previous
        </Link>
      ) : (
        <span aria-hidden="true" className="muted">
          ← Previous
        </span>
      )}
      <span aria-current="page">
        Page {page} of {pages} <span className="muted">({total} in all)</span>
      </span>
      {page < pages ? (
        <Link to={hrefFor(page + 1)} rel="next">
          Next →
        </Link>
      ) : (
        <span aria-hidden="true" className="muted">
          Next →
        </span>
      )}
    </nav>
  );
}

/** A modal confirmation on the native <dialog>: focus moves into it and back, Escape cancels. */
export function ConfirmDialog({
  open,
  title,
  children,
  confirmLabel,
  onConfirm,
  onCancel,
  busy,
}: {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  onConfirm: () => void;
  onCancel: () => void;
  busy?: boolean;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog ref={ref} className="dialog" aria-labelledby={titleId} onCancel={onCancel} onClose={onCancel}>
      <h2 id={titleId}>{title}</h2>
      <div className="dialog-body">{children}</div>
      <div className="dialog-actions">
        <button type="button" className="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="button" className="button button-danger" onClick={onConfirm} disabled={busy}>
          {confirmLabel}
        </button>
      </div>
    </dialog>
  );
}

const LIVE_LABEL: Record<LiveState, string> = {
  idle: "Not connected",
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Connection lost — reconnecting…",
};

/** The live-event connection's state, announced when it changes. */
export function LiveIndicator() {
  const state = useStore(liveState);
  return (
    <output className={`live live-${state}`} data-state={state}>
      <span className="live-dot" aria-hidden="true" />
      {LIVE_LABEL[state]}
    </output>
  );
}
