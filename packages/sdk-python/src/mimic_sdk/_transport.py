"""The HTTP layer every resource shares, sync (httpx.Client) and async (httpx.AsyncClient): the bearer token,
per-call timeouts, retries of idempotent requests with jittered backoff, and typed errors."""
from __future__ import annotations

import asyncio
import datetime
import inspect
import json
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Tuple, Union
from urllib.parse import quote

import httpx

from ._errors import APIConnectionError, APITimeoutError, MimicError, error_from_response
from ._models import NOT_GIVEN, NotGiven
from ._retry import IDEMPOTENT_METHODS, RETRY_MAX_SERVER_DELAY, backoff, is_retryable_status, server_delay
from ._version import __version__

__all__ = ["RequestOptions", "SyncTransport", "AsyncTransport", "TokenSource", "AsyncTokenSource"]

#: A JWT from ``auth.login``, an API key (``mk_…``), or a function returning one (called before every request).
TokenSource = Union[str, Callable[[], Optional[str]]]
#: As TokenSource; the function may also be a coroutine function.
AsyncTokenSource = Union[str, Callable[[], Optional[str]], Callable[[], Awaitable[Optional[str]]]]

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 2


@dataclass(frozen=True)
class RequestOptions:
    """Per-call settings: the keyword arguments every SDK method ends with."""

    #: Seconds, for each of connecting, sending and waiting for each chunk of the response. Default: the client's.
    timeout: Optional[float] = None
    #: Retries of a failed idempotent request. Default: the client's.
    max_retries: Optional[int] = None
    #: Extra headers; an ``Authorization`` header here replaces the client's token.
    extra_headers: Optional[Mapping[str, str]] = None
    #: Sent as ``Idempotency-Key`` (the same on every attempt), and lets a POST or DELETE be retried.
    idempotency_key: Optional[str] = None


def _check_retries(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return value


def _check_timeout(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a number of seconds > 0, got {value!r}")
    return float(value)


def _query_value(value: Any) -> Union[str, List[str]]:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [str(_query_value(v)) for v in value]
    return str(value)


@dataclass
class _Prepared:
    method: str
    url: str
    params: List[Tuple[str, Union[str, int, float, bool, None]]]
    content: Optional[bytes]
    headers: Dict[str, str]
    timeout: float
    max_retries: int
    retryable: bool


class _BaseTransport:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        headers: Optional[Mapping[str, str]] = None,
    ) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ValueError(
                f'base_url must be an http(s) URL such as "http://localhost:4000", got {base_url!r}'
            )
        self.base_url = base_url.rstrip("/")
        self.timeout = _check_timeout(timeout, "timeout")
        self.max_retries = _check_retries(max_retries, "max_retries")
        self.headers = dict(headers or {})

    def _prepare(
        self,
        method: str,
        template: str,
        path: Optional[Mapping[str, Any]],
        query: Optional[Mapping[str, Any]],
        body: Any,
        options: RequestOptions,
    ) -> _Prepared:
        url_path = template
        for name, value in (path or {}).items():
            if value is None or str(value) in ("", ".", ".."):
                raise ValueError(f"path parameter {name} must be a non-empty id, got {value!r}")
            url_path = url_path.replace("{" + name + "}", quote(str(value), safe=""))
        params: List[Tuple[str, Union[str, int, float, bool, None]]] = []
        for key, value in (query or {}).items():
            if value is None or isinstance(value, NotGiven):
                continue
            encoded = _query_value(value)
            for item in encoded if isinstance(encoded, list) else [encoded]:
                params.append((key, item))
        headers = {"accept": "application/json", "user-agent": f"mimic-sdk-python/{__version__}"}
        headers.update({k.lower(): v for k, v in self.headers.items()})
        content: Optional[bytes] = None
        if body is not NOT_GIVEN:
            content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            headers["content-type"] = "application/json"
        if options.idempotency_key:
            headers["idempotency-key"] = options.idempotency_key
        headers.update({k.lower(): v for k, v in (options.extra_headers or {}).items()})
        return _Prepared(
            method=method,
            url=self.base_url + url_path,
            params=params,
            content=content,
            headers=headers,
            timeout=_check_timeout(options.timeout if options.timeout is not None else self.timeout, "timeout"),
            max_retries=_check_retries(
                options.max_retries if options.max_retries is not None else self.max_retries, "max_retries"
            ),
            retryable=method in IDEMPOTENT_METHODS or bool(options.idempotency_key),
        )

    @staticmethod
    def _with_token(prepared: _Prepared, token: Optional[str]) -> Dict[str, str]:
        headers = dict(prepared.headers)
        if token and "authorization" not in headers:
            headers["authorization"] = f"Bearer {token}"
        return headers

    @staticmethod
    def _network_error(prepared: _Prepared, error: Exception) -> APIConnectionError:
        target = f"{prepared.method} {prepared.url}"
        if isinstance(error, httpx.TimeoutException):
            return APITimeoutError(f"{target} timed out after {prepared.timeout:g} s")
        detail = str(error) or type(error).__name__
        return APIConnectionError(f"{target} failed: {detail}")

    @staticmethod
    def _retry_wait(prepared: _Prepared, attempt: int, response: Optional[httpx.Response]) -> Optional[float]:
        """Seconds to wait before trying again, or None when this outcome is final."""
        if not prepared.retryable or attempt >= prepared.max_retries:
            return None
        if response is None:
            return backoff(attempt)
        if not is_retryable_status(response.status_code):
            return None
        asked = server_delay(response.headers, response.status_code)
        if asked is None:
            return backoff(attempt)
        # A server that asks for a long wait (the rest of an hourly window) gets its error back at once.
        return asked if asked <= RETRY_MAX_SERVER_DELAY else None

    @staticmethod
    def _result(response: httpx.Response, parse: str) -> Any:
        if not 200 <= response.status_code < 300:
            raise error_from_response(response)
        if parse == "none":
            return None
        if parse == "text":
            return response.text
        if parse == "bytes":
            return response.content
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as error:
            raise MimicError(
                f"The API answered {response.status_code} with a body that is not JSON",
                status=response.status_code,
                headers=response.headers,
                body=response.text,
            ) from error


class SyncTransport(_BaseTransport):
    """Sends requests with an httpx.Client (yours, or one it creates and closes)."""

    def __init__(
        self,
        base_url: str,
        *,
        token: Optional[TokenSource] = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        headers: Optional[Mapping[str, str]] = None,
        http_client: Optional[httpx.Client] = None,
    ) -> None:
        super().__init__(base_url, timeout=timeout, max_retries=max_retries, headers=headers)
        self._token = token
        self._owns_client = http_client is None
        self.http_client = http_client if http_client is not None else httpx.Client()

    def token(self) -> Optional[str]:
        """The token to send now: the string given, or what the token function returns."""
        token = self._token() if callable(self._token) else self._token
        return token or None

    def set_token(self, token: Optional[TokenSource]) -> None:
        self._token = token

    def request(
        self,
        method: str,
        template: str,
        *,
        path: Optional[Mapping[str, Any]] = None,
        query: Optional[Mapping[str, Any]] = None,
        body: Any = NOT_GIVEN,
        options: RequestOptions = RequestOptions(),
        parse: str = "json",
    ) -> Any:
        prepared = self._prepare(method, template, path, query, body, options)
        attempt = 0
        while True:
            try:
                response = self.http_client.request(
                    prepared.method,
                    prepared.url,
                    params=prepared.params,
                    content=prepared.content,
                    headers=self._with_token(prepared, self.token()),
                    timeout=prepared.timeout,
                )
            except httpx.TransportError as error:
                wait = self._retry_wait(prepared, attempt, None)
                if wait is None:
                    raise self._network_error(prepared, error) from error
            else:
                wait = self._retry_wait(prepared, attempt, response)
                if wait is None:
                    return self._result(response, parse)
            time.sleep(wait)
            attempt += 1

    def close(self) -> None:
        if self._owns_client:
            self.http_client.close()


class AsyncTransport(_BaseTransport):
    """Sends requests with an httpx.AsyncClient (yours, or one it creates and closes)."""

    def __init__(
        self,
        base_url: str,
        *,
        token: Optional[AsyncTokenSource] = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        headers: Optional[Mapping[str, str]] = None,
        http_client: Optional[httpx.AsyncClient] = None,
    ) -> None:
        super().__init__(base_url, timeout=timeout, max_retries=max_retries, headers=headers)
        self._token = token
        self._owns_client = http_client is None
        self.http_client = http_client if http_client is not None else httpx.AsyncClient()

    async def token(self) -> Optional[str]:
        """The token to send now: the string given, or what the token function returns (awaited)."""
        token: Any = self._token() if callable(self._token) else self._token
        if inspect.isawaitable(token):
            token = await token
        return str(token) if token else None

    def set_token(self, token: Optional[AsyncTokenSource]) -> None:
        self._token = token

    async def request(
        self,
        method: str,
        template: str,
        *,
        path: Optional[Mapping[str, Any]] = None,
        query: Optional[Mapping[str, Any]] = None,
        body: Any = NOT_GIVEN,
        options: RequestOptions = RequestOptions(),
        parse: str = "json",
    ) -> Any:
        prepared = self._prepare(method, template, path, query, body, options)
        attempt = 0
        while True:
            try:
                response = await self.http_client.request(
                    prepared.method,
                    prepared.url,
                    params=prepared.params,
                    content=prepared.content,
                    headers=self._with_token(prepared, await self.token()),
                    timeout=prepared.timeout,
                )
            except httpx.TransportError as error:
                wait = self._retry_wait(prepared, attempt, None)
                if wait is None:
                    raise self._network_error(prepared, error) from error
            else:
                wait = self._retry_wait(prepared, attempt, response)
                if wait is None:
                    return self._result(response, parse)
            await asyncio.sleep(wait)
            attempt += 1

    async def close(self) -> None:
        if self._owns_client:
            await self.http_client.aclose()
