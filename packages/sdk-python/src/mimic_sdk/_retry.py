"""When a failed request is worth another try, and how long to wait first: the server's hint when it gives
one, else capped exponential backoff with jitter. The same rules as the TypeScript SDK's retry.ts."""
from __future__ import annotations

import email.utils
import random
import re
import time
from typing import Callable, Mapping, Optional

#: First backoff step, in seconds; doubles per attempt.
RETRY_BASE_DELAY = 0.5
#: Longest backoff the SDK picks by itself.
RETRY_MAX_BACKOFF = 8.0
#: Longest wait a server may ask for: beyond it, retrying would stall the caller, so the error is raised.
RETRY_MAX_SERVER_DELAY = 60.0

#: Methods retried without an idempotency key: repeating them cannot do anything twice. DELETE is left out:
#: repeating one that succeeded answers 404, which would hide the success.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT"})

_NUMBER_RE = re.compile(r"^\d+(\.\d+)?$")


def is_retryable_status(status: int) -> bool:
    """Request timeout, rate limit, and server-side failures (including 503 while the database is down)."""
    return status == 408 or status == 429 or status >= 500


def server_delay(headers: Mapping[str, str], status: int, now: Optional[float] = None) -> Optional[float]:
    """How long the server asks the client to wait, in seconds, or None when it does not say.

    ``Retry-After`` (seconds or an HTTP date) wins; on a 429 without it, ``X-RateLimit-Reset`` (Unix seconds).
    """
    now = time.time() if now is None else now
    retry_after = (headers.get("retry-after") or "").strip()
    if retry_after:
        if _NUMBER_RE.match(retry_after):
            return float(retry_after)
        try:
            date = email.utils.parsedate_to_datetime(retry_after)
        except (TypeError, ValueError, IndexError):
            date = None
        if date is not None:
            return max(0.0, date.timestamp() - now)
    # Every Mimic response carries X-RateLimit-Reset, the end of the window: it says when to come back only
    # when the request was refused for the rate limit, not when a 503 happened mid-window.
    reset = (headers.get("x-ratelimit-reset") or "").strip()
    if status == 429 and reset and _NUMBER_RE.match(reset):
        value = float(reset)
        # Some servers send seconds from now rather than a timestamp; a value before 2001 cannot be a timestamp.
        return value if value < 1_000_000_000 else max(0.0, value - now)
    return None


def backoff(attempt: int, rand: Callable[[], float] = random.random) -> float:
    """Backoff before retry number ``attempt + 1``: 0.5 s, 1 s, 2 s … up to 8 s, minus up to 25 % jitter."""
    delay = min(RETRY_MAX_BACKOFF, RETRY_BASE_DELAY * 2.0**attempt)
    # Jitter spreads out clients that failed together, so they do not come back together.
    return delay * (1 - 0.25 * rand())
