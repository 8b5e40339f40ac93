// The one MimicClient of the dashboard, on this page's origin (the API serves the build; Vite proxies in dev). The
// token lives in localStorage; live events go through a WebSocket class that reports the connection's state, so
// the pages can say "reconnecting" while the SDK reconnects and catches up.
import { MimicClient } from "@mimic/sdk";
import { createStore } from "./store";

const TOKEN_KEY = "mimic.token";

function readToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/** Why the user is on the sign-in page: they signed out, or the API refused their token. */
export type SignOutReason = "signed-out" | "expired";

/** Why this tab was signed out, kept for the tab's life: a reload still tells the user their session ended. */
const REASON_KEY = "mimic.signed-out";

function readReason(): SignOutReason | null {
  try {
    const reason = sessionStorage.getItem(REASON_KEY);
    return reason === "expired" || reason === "signed-out" ? reason : null;
  } catch {
    return null;
  }
}

const initialToken = readToken();
export const auth = createStore<{ token: string | null; reason: SignOutReason | null }>({
  token: initialToken,
  reason: initialToken ? null : readReason(),
});

export function signIn(token: string): void {
  localStorage.setItem(TOKEN_KEY, token);
  sessionStorage.removeItem(REASON_KEY);
  auth.set({ token, reason: null });
}

export function signOut(reason: SignOutReason = "signed-out"): void {
  localStorage.removeItem(TOKEN_KEY);
  sessionStorage.setItem(REASON_KEY, reason);
  client.sessions.unsubscribeAll();
  auth.set({ token: null, reason });
}

// Another tab signed in or out.
window.addEventListener("storage", (event) => {
  if (event.key === TOKEN_KEY) auth.set({ token: event.newValue, reason: null });
});

/** The live-event connection: `idle` without subscriptions, `reconnecting` after an unexpected close. */
export type LiveState = "idle" | "connecting" | "live" | "reconnecting";
export const liveState = createStore<LiveState>("idle");

/** The browser's WebSocket, reporting open and close to `liveState`; the SDK uses it like the plain one. */
class ObservedWebSocket extends WebSocket {
  #closedByClient = false;

  constructor(url: string | URL, protocols?: string | string[]) {
    super(url, protocols);
    if (liveState.get() !== "reconnecting") liveState.set("connecting");
    this.addEventListener("open", () => liveState.set("live"));
    this.addEventListener("close", () => liveState.set(this.#closedByClient ? "idle" : "reconnecting"));
  }

  override close(code?: number, reason?: string): void {
    this.#closedByClient = true;
    super.close(code, reason);
  }
}

export const client = new MimicClient({
  baseUrl: "",
  token: () => auth.get().token,
  webSocket: ObservedWebSocket,
});
