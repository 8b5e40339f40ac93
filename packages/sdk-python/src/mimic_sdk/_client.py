"""MimicClient and AsyncMimicClient, the SDK's entry points. Their resource attributes (auth, personas, agents …)
come from the generated MimicResources; what is written here by hand is construction, the token, closing, and
`sessions`, which adds live events (subscribe, events) to the generated methods."""
from __future__ import annotations

import os
from typing import Any, Mapping, Optional

import httpx

from ._sessions import AsyncSessionsResource, SessionsResource
from ._transport import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    AsyncTokenSource,
    AsyncTransport,
    SyncTransport,
    TokenSource,
)
from .generated.resources import AsyncMimicResources, MimicResources

__all__ = ["MimicClient", "AsyncMimicClient"]


def _base_url(base_url: Optional[str]) -> str:
    value = base_url or os.environ.get("MIMIC_BASE_URL")
    if not value:
        raise ValueError(
            'base_url is required, e.g. MimicClient(base_url="http://localhost:4000"), or set MIMIC_BASE_URL'
        )
    return value


class MimicClient(MimicResources):
    """A client of the Mimic API.

    .. code-block:: python

        client = MimicClient(base_url="http://localhost:4000", token="your-jwt-token")
        persona = client.personas.create(name="Impatient Ivy", prompt="…")

    Methods return models (snake_case attributes) and raise a MimicError subclass (NotFoundError,
    ValidationError …) for any other answer. ``base_url`` and ``token`` default to the environment's
    ``MIMIC_BASE_URL`` and ``MIMIC_API_KEY``. Close the client (or use it in a ``with`` block) to release its
    connections.
    """

    #: Sessions: the generated methods plus live events (``subscribe``, ``events``).
    sessions: SessionsResource

    def __init__(
        self,
        base_url: Optional[str] = None,
        token: Optional[TokenSource] = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        headers: Optional[Mapping[str, str]] = None,
        http_client: Optional[httpx.Client] = None,
    ) -> None:
        """
        Args:
            base_url: Where the API listens, without ``/api``: ``http://localhost:4000``.
            token: A JWT from ``auth.login``, an API key, or a function returning one (called before every
                request). Change it later with ``set_token``.
            timeout: Seconds for each of connecting, sending and each wait for the response. Default 30.
            max_retries: Retries of a failed idempotent request (429, 5xx, network error). Default 2.
            headers: Headers sent with every request.
            http_client: Your own httpx.Client (proxies, certificates, instrumentation); you close it.
        """
        transport = SyncTransport(
            _base_url(base_url),
            token=token if token is not None else os.environ.get("MIMIC_API_KEY"),
            timeout=timeout,
            max_retries=max_retries,
            headers=headers,
            http_client=http_client,
        )
        super().__init__(transport)
        self.sessions = SessionsResource(transport)

    @property
    def base_url(self) -> str:
        """The API's origin, as given (without a trailing slash)."""
        return self._transport.base_url

    def set_token(self, token: Optional[TokenSource]) -> None:
        """Uses another token from the next request on, e.g. ``client.auth.login(...).access_token``."""
        self._transport.set_token(token)

    def close(self) -> None:
        """Ends live subscriptions and closes the HTTP connections (not an http_client you passed)."""
        self.sessions._close_live()
        self._transport.close()

    def __enter__(self) -> "MimicClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class AsyncMimicClient(AsyncMimicResources):
    """The asyncio client: the same resources and methods as MimicClient, to ``await``.

    .. code-block:: python

        async with AsyncMimicClient(base_url="http://localhost:4000", token=token) as client:
            session = await client.sessions.create(agent_id=agent_id, persona_id=persona_id)
            async for event in client.sessions.events(session.id):
                print(event)
    """

    #: Sessions: the generated methods plus live events (``subscribe``, ``events``).
    sessions: AsyncSessionsResource

    def __init__(
        self,
        base_url: Optional[str] = None,
        token: Optional[AsyncTokenSource] = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        headers: Optional[Mapping[str, str]] = None,
        http_client: Optional[httpx.AsyncClient] = None,
    ) -> None:
        """As MimicClient's; ``token`` may also be a coroutine function."""
        transport = AsyncTransport(
            _base_url(base_url),
            token=token if token is not None else os.environ.get("MIMIC_API_KEY"),
            timeout=timeout,
            max_retries=max_retries,
            headers=headers,
            http_client=http_client,
        )
        super().__init__(transport)
        self.sessions = AsyncSessionsResource(transport)

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    def set_token(self, token: Optional[AsyncTokenSource]) -> None:
        self._transport.set_token(token)

    async def close(self) -> None:
        """Ends live subscriptions and closes the HTTP connections (not an http_client you passed)."""
        self.sessions.unsubscribe_all()
        await self._transport.close()

    async def __aenter__(self) -> "AsyncMimicClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()
