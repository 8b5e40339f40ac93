// When a failed request is worth another try, and how long to wait first: the server's hint when it gives
// one, else capped exponential backoff with jitter.

/** First backoff step; doubles per attempt. */
export const RETRY_BASE_DELAY_MS = 500;
/** Longest backoff the SDK picks by itself. */
export const RETRY_MAX_BACKOFF_MS = 8_000;
/** Longest wait a server may ask for: beyond it, retrying would stall the caller, so the error is thrown. */
export const RETRY_MAX_SERVER_DELAY_MS = 60_000;

/** Request timeout, rate limit, and server-side failures (including 503 while the database is down). */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * How long the server asks the client to wait, in ms, or undefined when it does not say.
 * `Retry-After` (seconds or an HTTP date) wins; on a 429 without it, `X-RateLimit-Reset` (Unix seconds).
 */
export function serverDelayMs(headers: Headers, status: number, now = Date.now()): number | undefined {
  const retryAfter = headers.get("retry-after")?.trim();
  if (retryAfter) {
    if (/^\d+(\.\d+)?$/.test(retryAfter)) return Number(retryAfter) * 1000;
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  // Every Mimic response carries X-RateLimit-Reset, the end of the rate-limit window: it only says when to
  // come back when the request was refused for the rate limit, not when a 503 happened mid-window.
  const reset = headers.get("x-ratelimit-reset")?.trim();
  if (status === 429 && reset && /^\d+(\.\d+)?$/.test(reset)) {
    const value = Number(reset);
    // Some servers send seconds from now rather than a timestamp; a value before 2001 cannot be a timestamp.
    return value < 1_000_000_000 ? value * 1000 : Math.max(0, value * 1000 - now);
  }
  return undefined;
}

/** Backoff before retry number `attempt + 1`: 0.5 s, 1 s, 2 s … up to 8 s, minus up to 25 % jitter. */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const delay = Math.min(RETRY_MAX_BACKOFF_MS, RETRY_BASE_DELAY_MS * 2 ** attempt);
  // Jitter spreads out clients that failed together, so they do not come back together.
  return Math.round(delay * (1 - 0.25 * random()));
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
