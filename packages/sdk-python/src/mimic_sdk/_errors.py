"""What SDK methods raise: one class per HTTP status family, all carrying the API's error envelope
({"error": {"code", "message", "details"?, "requestId"}}), plus APIConnectionError and APITimeoutError when no
response arrived."""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Type

import httpx

from ._retry import server_delay
from .generated.models import ErrorDetail

__all__ = [
    "MimicError",
    "APIStatusError",
    "BadRequestError",
    "AuthenticationError",
    "PermissionDeniedError",
    "AuthorizationError",
    "NotFoundError",
    "ConflictError",
    "ValidationError",
    "RateLimitError",
    "InternalServerError",
    "ServiceUnavailableError",
    "APIConnectionError",
    "APITimeoutError",
]


class MimicError(Exception):
    """Base class of every error the SDK raises: ``except MimicError`` catches them all."""

    #: The HTTP status, or None when no response arrived.
    status: Optional[int]
    #: The API's error code, e.g. ``RESOURCE_NOT_FOUND`` (None when the response had no envelope).
    code: Optional[str]
    #: The human-readable explanation.
    message: str
    #: Field-level problems of a rejected request: ``[ErrorDetail(field="config.duration", message="…")]``.
    details: List[ErrorDetail]
    #: The request's id (X-Request-Id): quote it when you report a problem.
    request_id: Optional[str]
    #: The response headers (empty when no response arrived).
    headers: httpx.Headers
    #: The parsed response body (or the live event) the error was made from, if any.
    body: Any

    def __init__(
        self,
        message: str,
        *,
        status: Optional[int] = None,
        code: Optional[str] = None,
        details: Optional[List[ErrorDetail]] = None,
        request_id: Optional[str] = None,
        headers: Optional[httpx.Headers] = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.details = details or []
        self.request_id = request_id
        self.headers = headers if headers is not None else httpx.Headers()
        self.body = body

    def __str__(self) -> str:
        parts = [self.message]
        if self.code:
            parts.insert(0, f"{self.code}:")
        if self.details:
            parts.append("(" + "; ".join(f"{d.field}: {d.message}" for d in self.details) + ")")
        if self.request_id:
            parts.append(f"[request {self.request_id}]")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, message={self.message!r})"


class APIStatusError(MimicError):
    """The API answered with a status that is not 2xx (the subclasses below name the usual ones)."""

    status: int


class BadRequestError(APIStatusError):
    """400: the request could not be read (a body that is not JSON, for instance)."""


class AuthenticationError(APIStatusError):
    """401: missing, invalid, expired or revoked credentials."""


class PermissionDeniedError(APIStatusError):
    """403: authenticated, but not allowed. Also exported as AuthorizationError, after the API's code."""


AuthorizationError = PermissionDeniedError


class NotFoundError(APIStatusError):
    """404: no such resource, or it belongs to another user (the API never tells the two apart)."""


class ConflictError(APIStatusError):
    """409: the request conflicts with the current state (an email already registered, a finished session)."""


class ValidationError(APIStatusError):
    """422: the request was read but is invalid; ``details`` says which fields and why."""


class RateLimitError(APIStatusError):
    """429: too many requests. Idempotent requests are retried for you when the wait is short (<= 60 s)."""

    #: How long the server asks you to wait (Retry-After, else X-RateLimit-Reset), in seconds.
    retry_after: Optional[float]

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = server_delay(self.headers, 429)


class InternalServerError(APIStatusError):
    """5xx: the server failed. Idempotent requests are retried for you first."""


class ServiceUnavailableError(InternalServerError):
    """503: the service is temporarily unavailable (database down, not ready yet)."""


class APIConnectionError(MimicError):
    """No response arrived: refused or reset connection, DNS failure, TLS error."""


class APITimeoutError(APIConnectionError):
    """No complete response arrived within the timeout."""


_BY_STATUS: Dict[int, Type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: ValidationError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}

# The codes the API sends over the WebSocket, with the status they stand for.
_BY_CODE: Dict[str, Type[APIStatusError]] = {
    "VALIDATION_ERROR": ValidationError,
    "AUTHENTICATION_ERROR": AuthenticationError,
    "AUTHORIZATION_ERROR": PermissionDeniedError,
    "RESOURCE_NOT_FOUND": NotFoundError,
    "CONFLICT": ConflictError,
    "RATE_LIMIT_EXCEEDED": RateLimitError,
    "INTERNAL_ERROR": InternalServerError,
    "SERVICE_UNAVAILABLE": ServiceUnavailableError,
}
_STATUS_OF_CODE = {
    "VALIDATION_ERROR": 422,
    "AUTHENTICATION_ERROR": 401,
    "AUTHORIZATION_ERROR": 403,
    "RESOURCE_NOT_FOUND": 404,
    "CONFLICT": 409,
    "RATE_LIMIT_EXCEEDED": 429,
    "INTERNAL_ERROR": 500,
    "SERVICE_UNAVAILABLE": 503,
}


def _envelope(body: Any) -> Optional[Mapping[str, Any]]:
    if not isinstance(body, Mapping):
        return None
    error = body.get("error")
    if isinstance(error, Mapping) and isinstance(error.get("message"), str):
        return error
    return None


def error_from_response(response: httpx.Response) -> APIStatusError:
    """The error to raise for a response that is not 2xx."""
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text or None
    envelope = _envelope(body)
    status = response.status_code
    cls = _BY_STATUS.get(status) or (InternalServerError if status >= 500 else APIStatusError)
    message = (
        envelope["message"]
        if envelope
        else f"Request failed with status {status}{' ' + response.reason_phrase if response.reason_phrase else ''}"
    )
    details: List[ErrorDetail] = []
    if envelope and isinstance(envelope.get("details"), list):
        details = [ErrorDetail.from_dict(d) for d in envelope["details"] if isinstance(d, Mapping)]
    request_id = envelope.get("requestId") if envelope else None
    return cls(
        message,
        status=status,
        code=envelope.get("code") if envelope else None,
        details=details,
        request_id=request_id if isinstance(request_id, str) else response.headers.get("x-request-id"),
        headers=response.headers,
        body=body,
    )


def error_from_event(event: Mapping[str, Any]) -> MimicError:
    """The error for a live `error` event, after the HTTP status its code stands for."""
    error = event.get("error") if isinstance(event.get("error"), Mapping) else {}
    assert isinstance(error, Mapping)
    code = error.get("code") if isinstance(error.get("code"), str) else None
    message = error.get("message") if isinstance(error.get("message"), str) else "Live events failed"
    cls = _BY_CODE.get(code or "")
    if cls is None:
        return MimicError(str(message), code=code, body=dict(event))
    return cls(str(message), status=_STATUS_OF_CODE[str(code)], code=code, body=dict(event))
