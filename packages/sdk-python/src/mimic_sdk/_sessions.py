"""client.sessions: the generated methods (create, get, list, stop, messages …) plus live events, written by
hand: subscribe() with a callback, and events() to iterate. The sync client runs its live connection on an
event loop in a background thread; the async client runs it on the caller's loop."""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
from typing import Any, AsyncIterator, Callable, Iterator, Optional, Tuple, TypeVar, Union

from ._errors import MimicError
from ._live import Handlers, LiveConnection, RawEvent, live_url
from ._transport import AsyncTransport, RequestOptions, SyncTransport
from .generated.models import (
    LiveErrorEvent,
    NewMessageEvent,
    SessionDetail,
    SessionEndEvent,
    SessionUpdateEvent,
)
from .generated.resources import AsyncSessionsResource as GeneratedAsyncSessionsResource
from .generated.resources import SessionsResource as GeneratedSessionsResource

__all__ = [
    "SessionsResource",
    "AsyncSessionsResource",
    "SessionEvent",
    "SessionDataEvent",
    "EventStream",
]

logger = logging.getLogger("mimic_sdk")

#: What a subscription's callback receives: the session's events, and the error that ended the subscription.
SessionEvent = Union[SessionUpdateEvent, NewMessageEvent, SessionEndEvent, LiveErrorEvent]
#: A session's own events, without errors: what ``events()`` yields.
SessionDataEvent = Union[SessionUpdateEvent, NewMessageEvent, SessionEndEvent]

R = TypeVar("R")


def decode_event(raw: RawEvent) -> SessionEvent:
    kind = raw.get("type")
    if kind == "session_update":
        return SessionUpdateEvent.from_dict(raw)
    if kind == "new_message":
        return NewMessageEvent.from_dict(raw)
    if kind == "session_end":
        return SessionEndEvent.from_dict(raw)
    return LiveErrorEvent.from_dict(raw)


def _invoke(function: Optional[Callable[[Any], None]], argument: Any) -> None:
    """Runs a user callback; what it raises is logged, as from an event listener, and the events go on."""
    if function is None:
        return
    try:
        function(argument)
    except Exception:  # noqa: BLE001 - a callback's failure must not end everyone's subscription
        logger.exception("a live-events callback raised")


def _check(session_id: Any, callback: Any = None, need_callback: bool = False) -> None:
    if not isinstance(session_id, str) or not session_id:
        raise ValueError(f"session_id must be a non-empty string, got {session_id!r}")
    if need_callback and not callable(callback):
        raise TypeError("callback must be callable")


def _handlers(
    callback: Callable[[SessionEvent], None],
    on_error: Optional[Callable[[MimicError], None]],
    on_end: Optional[Callable[[SessionEndEvent], None]],
) -> Handlers:
    return Handlers(
        event=lambda raw: _invoke(callback, decode_event(raw)),
        error=lambda error, fatal: _invoke(on_error, error),
        end=lambda raw: _invoke(on_end, SessionEndEvent.from_dict(raw)),
        closed=lambda: None,
    )


# One item of an event stream: ("event", model), ("error", exception) or ("end", None).
_Item = Tuple[str, Any]


class EventStream:
    """A session's live events: ``for event in stream`` (blocking) or ``async for event in stream``. The
    iteration ends after ``session_end``; leaving it early (``break``, an exception) or ``close()``
    unsubscribes. It raises the MimicError that ends a subscription (NotFoundError for a session that is not
    yours …). A stream is iterated once."""

    def __init__(self, start: Callable[[Callable[[_Item], None]], Callable[[], None]], *, blocking: bool) -> None:
        self._start = start
        self._blocking = blocking
        self._unsubscribe: Optional[Callable[[], None]] = None
        self._deliver: Optional[Callable[[_Item], None]] = None
        self._started = False
        self._closed = False

    def _begin(self, deliver: Callable[[_Item], None]) -> None:
        if self._started:
            raise RuntimeError("an EventStream is iterated once; call events() again for another")
        self._started = True
        self._deliver = deliver

        def sink(item: _Item) -> None:
            if item[0] == "event" and isinstance(item[1], LiveErrorEvent):
                return  # the error itself follows
            deliver(item)

        if not self._closed:
            self._unsubscribe = self._start(sink)

    def __iter__(self) -> Iterator[SessionDataEvent]:
        if not self._blocking:
            raise TypeError("iterate the async client's events with `async for`")
        items: "queue.Queue[_Item]" = queue.Queue()
        self._begin(items.put)
        return self._iterate(items)

    def _iterate(self, items: "queue.Queue[_Item]") -> Iterator[SessionDataEvent]:
        try:
            while not self._closed:
                kind, value = items.get()
                if kind == "error":
                    raise value
                if kind == "end":
                    return
                yield value
                if isinstance(value, SessionEndEvent):
                    return
        finally:
            self.close()

    def __aiter__(self) -> AsyncIterator[SessionDataEvent]:
        loop = asyncio.get_running_loop()
        items: "asyncio.Queue[_Item]" = asyncio.Queue()

        def put(item: _Item) -> None:
            # The sync client's callbacks run on its live-events thread: hand over to this loop.
            loop.call_soon_threadsafe(items.put_nowait, item)

        self._begin(put)
        return self._aiterate(items)

    async def _aiterate(self, items: "asyncio.Queue[_Item]") -> AsyncIterator[SessionDataEvent]:
        try:
            while not self._closed:
                kind, value = await items.get()
                if kind == "error":
                    raise value
                if kind == "end":
                    return
                yield value
                if isinstance(value, SessionEndEvent):
                    return
        finally:
            self.close()

    def close(self) -> None:
        """Unsubscribes; iterating then ends (a loop waiting for the next event, in another thread, too)."""
        if self._closed:
            return
        self._closed = True
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()
        if self._deliver is not None:
            self._deliver(("end", None))

    def __enter__(self) -> "EventStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    async def __aenter__(self) -> "EventStream":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()


def _stream_handlers(sink: Callable[[_Item], None]) -> Handlers:
    return Handlers(
        event=lambda raw: sink(("event", decode_event(raw))),
        error=lambda error, fatal: sink(("error", error)) if fatal else None,
        end=lambda raw: sink(("end", None)),
        closed=lambda: None,
    )


class _LiveThread:
    """An event loop in a daemon thread that runs the sync client's live connection; callbacks run there."""

    def __init__(self, make: Callable[[], LiveConnection]) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._main, name="mimic-live-events", daemon=True)
        self.thread.start()
        self.stopped = False
        self.connection = self.call(make)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    def call(self, function: Callable[[], R]) -> R:
        """Runs `function` on the loop's thread and returns its result (at once when already there)."""
        if threading.current_thread() is self.thread:
            return function()
        future: "concurrent.futures.Future[R]" = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(function())
            except BaseException as error:  # noqa: BLE001 - handed to the caller
                future.set_exception(error)

        self.loop.call_soon_threadsafe(run)
        return future.result()

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        self.call(self.connection.close)

        async def finish() -> None:
            # Let the socket's closing handshake and pending tasks run for a moment.
            await asyncio.sleep(0.05)
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.loop.stop()

        if threading.current_thread() is self.thread:
            asyncio.ensure_future(finish())
            return
        asyncio.run_coroutine_threadsafe(finish(), self.loop)
        self.thread.join(timeout=5)


class SessionsResource(GeneratedSessionsResource):
    """Sessions: a persona talking to an agent. ``client.sessions``

    Live events travel over one WebSocket per client (``GET /api/ws``), opened by the first subscription and
    closed with the last one, on an event loop in a background thread.
    """

    def __init__(self, transport: SyncTransport) -> None:
        super().__init__(transport)
        self._live: Optional[_LiveThread] = None
        self._live_lock = threading.Lock()

    def _live_thread(self) -> _LiveThread:
        with self._live_lock:
            if self._live is None or self._live.stopped:
                transport = self._transport

                def make() -> LiveConnection:
                    loop = asyncio.get_running_loop()  # make() runs on the thread's loop

                    async def token() -> Optional[str]:
                        return await loop.run_in_executor(None, transport.token)

                    async def fetch_session(session_id: str) -> SessionDetail:
                        return await loop.run_in_executor(None, lambda: self.get(session_id, max_retries=1))

                    async def check_auth() -> Any:
                        return await loop.run_in_executor(
                            None,
                            lambda: transport.request("GET", "/api/auth/me", options=RequestOptions(max_retries=0)),
                        )

                    return LiveConnection(
                        url=live_url(transport.base_url),
                        token=token,
                        fetch_session=fetch_session,
                        check_auth=check_auth,
                    )

                self._live = _LiveThread(make)
            return self._live

    def subscribe(
        self,
        session_id: str,
        callback: Callable[[SessionEvent], None],
        *,
        replay: bool = False,
        on_error: Optional[Callable[[MimicError], None]] = None,
        on_end: Optional[Callable[[SessionEndEvent], None]] = None,
    ) -> Callable[[], None]:
        """Calls ``callback`` with the session's live events, on a background thread: ``session_update`` (one
        right away, then on changes), ``new_message`` (each message once, in order), then one ``session_end``,
        after which the subscription ends by itself. A ``LiveErrorEvent`` (with ``on_error``) means the
        subscription failed and is over.

        Returns the function that unsubscribes: once it returns, the callback is not called again.

        ``replay=True`` delivers the messages the session already has first. The connection is shared by all
        subscriptions of this client and re-established with backoff after a drop; the messages sent meanwhile
        are delivered, in order, before the new ones, and none twice.
        """
        _check(session_id, callback, need_callback=True)
        live = self._live_thread()
        handlers = _handlers(callback, on_error, on_end)
        remove = live.call(lambda: live.connection.subscribe(session_id, replay, handlers))

        def unsubscribe() -> None:
            if not live.stopped:
                live.call(remove)

        return unsubscribe

    def events(self, session_id: str, *, replay: bool = False) -> EventStream:
        """The session's live events to iterate, with ``for`` (blocking) or ``async for``; the iteration ends
        after ``session_end``.

        .. code-block:: python

            for event in client.sessions.events(session.id, replay=True):
                if isinstance(event, NewMessageEvent):
                    print(event.data.sender_type, event.data.content)
        """
        _check(session_id)

        def start(sink: Callable[[_Item], None]) -> Callable[[], None]:
            live = self._live_thread()
            handlers = _stream_handlers(sink)
            remove = live.call(lambda: live.connection.subscribe(session_id, replay, handlers))
            return lambda: None if live.stopped else live.call(remove)

        return EventStream(start, blocking=True)

    def unsubscribe_all(self) -> None:
        """Ends every live subscription of this client at once and closes its WebSocket."""
        live = self._live
        if live is not None and not live.stopped:
            live.call(live.connection.close)

    def _close_live(self) -> None:
        with self._live_lock:
            live, self._live = self._live, None
        if live is not None:
            live.stop()


class AsyncSessionsResource(GeneratedAsyncSessionsResource):
    """Sessions: a persona talking to an agent. ``client.sessions``

    Live events travel over one WebSocket per client (``GET /api/ws``), on the event loop that subscribes.
    """

    def __init__(self, transport: AsyncTransport) -> None:
        super().__init__(transport)
        self._live: Optional[LiveConnection] = None
        self._live_loop: Optional[asyncio.AbstractEventLoop] = None

    def _connection(self) -> LiveConnection:
        loop = asyncio.get_running_loop()
        if self._live is None or self._live_loop is not loop:
            transport = self._transport

            async def fetch_session(session_id: str) -> SessionDetail:
                return await self.get(session_id, max_retries=1)

            async def check_auth() -> Any:
                return await transport.request("GET", "/api/auth/me", options=RequestOptions(max_retries=0))

            self._live = LiveConnection(
                url=live_url(transport.base_url),
                token=transport.token,
                fetch_session=fetch_session,
                check_auth=check_auth,
            )
            self._live_loop = loop
        return self._live

    def subscribe(
        self,
        session_id: str,
        callback: Callable[[SessionEvent], None],
        *,
        replay: bool = False,
        on_error: Optional[Callable[[MimicError], None]] = None,
        on_end: Optional[Callable[[SessionEndEvent], None]] = None,
    ) -> Callable[[], None]:
        """As the sync client's ``subscribe``, on the running event loop (call it from a coroutine)."""
        _check(session_id, callback, need_callback=True)
        return self._connection().subscribe(session_id, replay, _handlers(callback, on_error, on_end))

    def events(self, session_id: str, *, replay: bool = False) -> EventStream:
        """The session's live events as an async iterator, which ends after ``session_end``:

        .. code-block:: python

            async for event in client.sessions.events(session.id, replay=True):
                print(event)
        """
        _check(session_id)

        def start(sink: Callable[[_Item], None]) -> Callable[[], None]:
            return self._connection().subscribe(session_id, replay, _stream_handlers(sink))

        return EventStream(start, blocking=False)

    def unsubscribe_all(self) -> None:
        """Ends every live subscription of this client at once and closes its WebSocket."""
        if self._live is not None:
            self._live.close()
