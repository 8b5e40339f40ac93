"""Live session events (GET /api/ws) on asyncio: one WebSocket per client, shared by every subscription, opened
on the first subscribe and closed when the last one goes away.

Every event the server sends carries its session's `seq`. After a dropped connection the client reconnects with
capped, jittered exponential backoff and subscribes again with the last seq it has (`afterSeq`): the server
sends what the gap hid, in order. Messages are also de-duplicated by id, and a session that ended meanwhile
gets its `session_end`. Without a seq (an older server), the catch-up reads the session over HTTP instead.
A second subscription to a session the socket already follows reads the session over HTTP too (the server
sends it nothing of its own).
"""
from __future__ import annotations

import asyncio
import datetime
import inspect
import json
import logging
import random
from typing import Any, Awaitable, Callable, Dict, List, Mapping, NamedTuple, Optional, Set, Tuple

import websockets
import websockets.exceptions

from ._errors import AuthenticationError, MimicError, RateLimitError, error_from_event
from .generated.models import Message, SessionDetail

__all__ = ["LiveConnection", "Handlers", "live_url", "reconnect_delay"]

logger = logging.getLogger("mimic_sdk")

RECONNECT_BASE = 0.25
RECONNECT_MAX = 10.0
OPEN_TIMEOUT = 10.0
#: The server closes with it when the user holds too many connections: reconnecting would not help.
CLOSE_POLICY_VIOLATION = 1008
#: The server closes with it when the connection's credential expired or was revoked.
CLOSE_AUTH_EXPIRED = 4401
FINAL_STATUSES = frozenset({"completed", "failed", "stopped"})
SESSION_EVENTS = frozenset({"session_update", "new_message", "session_end"})

RawEvent = Dict[str, Any]


def reconnect_delay(attempt: int, rand: Callable[[], float] = random.random) -> float:
    """Delay before reconnection attempt ``attempt + 1``: 0.25 s doubling up to 10 s, the upper half jittered."""
    cap = min(RECONNECT_MAX, RECONNECT_BASE * 2.0**attempt)
    return cap / 2 + cap / 2 * rand()


def live_url(base_url: str) -> str:
    """``ws://`` or ``wss://`` + the API's origin (and path prefix, if any) + ``/api/ws``."""
    if base_url.startswith("https://"):
        return "wss://" + base_url[len("https://"):] + "/api/ws"
    if base_url.startswith("http://"):
        return "ws://" + base_url[len("http://"):] + "/api/ws"
    raise ValueError(f"Cannot open live events for base_url {base_url!r}")


class Handlers(NamedTuple):
    """How a subscription's owner hears of it (raw JSON events; the public layer makes models of them)."""

    event: Callable[[RawEvent], None]
    error: Callable[[MimicError, bool], None]  # (error, fatal)
    end: Callable[[RawEvent], None]
    closed: Callable[[], None]


def _as_mimic_error(error: BaseException, message: str) -> MimicError:
    if isinstance(error, MimicError):
        return error
    return MimicError(f"{message}: {error or type(error).__name__}")


async def _open(url: str, token: Optional[str]) -> Any:
    """Opens a WebSocket with the token in the Authorization header, whichever websockets version is installed."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    connect: Any = getattr(websockets, "connect")  # noqa: B009 - exported lazily, unseen by type checkers
    parameters = inspect.signature(connect).parameters
    # websockets >= 14 names it additional_headers; 10-13 (Debian 12 ships 10.4) extra_headers.
    header_argument = "additional_headers" if "additional_headers" in parameters else "extra_headers"
    return await connect(url, open_timeout=OPEN_TIMEOUT, max_size=2**24, **{header_argument: headers})


def _refused_status(error: BaseException) -> Optional[int]:
    """The HTTP status of a refused upgrade (websockets 10: InvalidStatusCode; >= 14: InvalidStatus)."""
    status = getattr(error, "status_code", None)
    if status is None:
        status = getattr(getattr(error, "response", None), "status_code", None)
    return status if isinstance(status, int) else None


def _parse_time(value: Optional[str]) -> Optional[datetime.datetime]:
    if not value:
        return None
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _message_event(message: Message) -> RawEvent:
    data = message.to_dict()
    return {
        "type": "new_message",
        "sessionId": message.session_id,
        "data": {k: data.get(k) for k in ("id", "senderType", "content", "timestamp", "latencyMs")},
    }


def _message_count(session: SessionDetail) -> int:
    counted = session.metadata.get("messageCount") if isinstance(session.metadata, Mapping) else None
    if isinstance(counted, int):
        return counted
    return sum(1 for m in session.messages if m.sender_type != "system")


def _snapshot_event(session: SessionDetail) -> RawEvent:
    """What the server sends a new subscriber first, made from the session (for a second local subscriber)."""
    return {
        "type": "session_update",
        "sessionId": session.id,
        "data": {
            "status": session.status,
            "messageCount": _message_count(session),
            "lastMessage": session.messages[-1].timestamp if session.messages else None,
        },
    }


def _has_ended(session: SessionDetail) -> bool:
    """Over and announced: a completed or failed session is announced once its verdict (`result`) is stored."""
    if session.status not in FINAL_STATUSES:
        return False
    return session.status == "stopped" or session.result is not None


def _end_event(session: SessionDetail) -> RawEvent:
    """The session_end a subscriber missed, rebuilt from the session."""
    started = _parse_time(session.started_at) or _parse_time(session.created_at)
    ended = _parse_time(session.ended_at) or _parse_time(session.updated_at)
    duration = max(0, round((ended - started).total_seconds())) if started and ended else 0
    data: Dict[str, Any] = {
        "reason": session.reason or session.status,
        "endReason": session.end_reason,
        "status": session.status,
        "duration": duration,
        "messageCount": _message_count(session),
    }
    if session.result is not None:
        data["result"] = session.result.to_dict()
    return {"type": "session_end", "sessionId": session.id, "data": data}


class _Subscription:
    def __init__(self, session_id: str, replay: bool, handlers: Handlers) -> None:
        self.session_id = session_id
        self.replay = replay
        self.handlers = handlers
        # pending: waiting for the server's `subscribed`; syncing: reading the session over HTTP; live: events
        # go straight to the owner. Until live, events wait in `buffer`.
        self.state = "pending"
        #: Read the session before going live: a second local subscriber, or a catch-up without seq.
        self.needs_sync = False
        #: A second local subscriber: the server sends it no snapshot, so the catch-up makes one.
        self.joined = False
        self.synced_once = False
        self.sync_generation = 0
        self.buffer: List[RawEvent] = []
        #: Messages handed over.
        self.delivered: Set[str] = set()
        #: Messages handed over, or that existed before the subscription (without replay).
        self.known: Set[str] = set()
        self.ended = False
        self.was_live = False


class _Topic:
    """One session on the socket: the server holds one subscription per session and connection."""

    def __init__(self, session_id: str, replay: bool) -> None:
        self.session_id = session_id
        self.subs: List[_Subscription] = []
        #: The latest seq received; a resubscription asks for what follows it.
        self.seq: Optional[int] = None
        #: The first subscription asked for every message (afterSeq 0).
        self.replay = replay
        self.confirmed = False


class LiveConnection:
    """The shared WebSocket of one client and every subscription multiplexed on it. Lives on one event loop:
    call every method from that loop."""

    def __init__(
        self,
        *,
        url: str,
        token: Callable[[], Awaitable[Optional[str]]],
        fetch_session: Callable[[str], Awaitable[SessionDetail]],
        check_auth: Callable[[], Awaitable[Any]],
    ) -> None:
        self._url = url
        self._token = token
        self._fetch_session = fetch_session
        self._check_auth = check_auth
        self._topics: Dict[str, _Topic] = {}
        self._socket: Any = None
        self._outbox: Optional["asyncio.Queue[str]"] = None
        self._runner: Optional["asyncio.Task[None]"] = None
        #: Bumped whenever the connection is abandoned: older runners then stop.
        self._generation = 0
        self._tasks: Set["asyncio.Task[Any]"] = set()
        #: Sockets opened so far (tests and diagnostics).
        self.connections = 0

    # Public ----------------------------------------------------------------------------------------------

    def subscribe(self, session_id: str, replay: bool, handlers: Handlers) -> Callable[[], None]:
        subscription = _Subscription(session_id, replay, handlers)
        topic = self._topics.get(session_id)
        if topic is None:
            topic = _Topic(session_id, replay)
            self._topics[session_id] = topic
            topic.subs.append(subscription)
            self._send_subscribe(topic)
        else:
            topic.subs.append(subscription)
            subscription.needs_sync = True
            subscription.joined = True
            if topic.confirmed:
                self._start_sync(subscription)
        self._ensure_running()
        return lambda: self._remove(subscription)

    def close(self) -> None:
        """Ends every subscription quietly and closes the socket."""
        subscriptions = [s for topic in self._topics.values() for s in topic.subs]
        self._topics.clear()
        self._shutdown()
        for subscription in subscriptions:
            if subscription.state != "closed":
                subscription.state = "closed"
                subscription.buffer.clear()
                subscription.handlers.closed()

    @property
    def active(self) -> bool:
        return bool(self._topics)

    # Connection ------------------------------------------------------------------------------------------

    def _spawn(self, coroutine: Awaitable[Any]) -> "asyncio.Task[Any]":
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _ensure_running(self) -> None:
        if self._runner is None or self._runner.done():
            self._runner = self._spawn(self._run(self._generation))

    def _shutdown(self) -> None:
        """Nothing is subscribed any more, or nothing can be: close the socket and stop retrying."""
        self._generation += 1
        socket, self._socket, self._outbox = self._socket, None, None
        runner, self._runner = self._runner, None
        if socket is not None:
            self._spawn(socket.close(1000))
        current = asyncio.current_task() if _in_loop() else None
        if runner is not None and runner is not current and not runner.done():
            runner.cancel()

    async def _run(self, generation: int) -> None:
        attempt = 0
        while self._topics and generation == self._generation:
            try:
                token = await self._token()
            except Exception as error:  # noqa: BLE001 - the user's token function: report, retry later
                if generation != self._generation:
                    return
                self._report_all(_as_mimic_error(error, "The token function failed before a live-events connection"))
                await asyncio.sleep(reconnect_delay(attempt))
                attempt += 1
                continue
            try:
                socket = await _open(self._url, token)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - any failure to connect is retried, unless refused for good
                if generation != self._generation:
                    return
                if _refused_status(error) == 401:
                    self._fail_all(AuthenticationError("The live-events connection was refused: invalid or expired token", status=401, code="AUTHENTICATION_ERROR"))
                    return
                logger.debug("live events: connection failed (%s), retrying", error)
                await asyncio.sleep(reconnect_delay(attempt))
                attempt += 1
                continue
            if generation != self._generation:
                await socket.close(1000)
                return
            self.connections += 1
            received, code, reason = await self._serve(socket, generation)
            if generation != self._generation or not self._topics:
                return
            if code == CLOSE_POLICY_VIOLATION:
                self._fail_all(
                    RateLimitError(reason or "Too many live-event connections", status=429, code="RATE_LIMIT_EXCEEDED")
                )
                return
            if code == CLOSE_AUTH_EXPIRED:
                try:
                    await self._check_auth()
                except AuthenticationError as error:
                    if generation == self._generation:
                        self._fail_all(error)
                    return
                except Exception:  # noqa: BLE001 - the API is away: reconnecting will tell
                    pass
            if received:
                attempt = 0
            logger.debug("live events: connection closed (%s), reconnecting", code)
            await asyncio.sleep(reconnect_delay(attempt))
            attempt += 1

    async def _serve(self, socket: Any, generation: int) -> Tuple[bool, Optional[int], str]:
        """Subscribes every topic on a fresh socket, then reads until it closes: (received any?, code, reason)."""
        outbox: "asyncio.Queue[str]" = asyncio.Queue()
        self._socket, self._outbox = socket, outbox
        for topic in self._topics.values():
            topic.confirmed = False
            for subscription in topic.subs:
                if subscription.state == "closed":
                    continue
                # Resuming by seq needs nothing more; without one, a subscription that was live reads the session.
                if topic.seq is None and (subscription.was_live or subscription.synced_once):
                    subscription.needs_sync = True
                subscription.state = "pending"
                subscription.sync_generation += 1
            self._send_subscribe(topic)
        writer = self._spawn(self._write(socket, outbox))
        received = False
        try:
            async for raw in socket:
                received = True
                if generation != self._generation:
                    break
                self._handle(raw)
        except websockets.exceptions.ConnectionClosed:
            pass
        finally:
            writer.cancel()
            if self._socket is socket:
                self._socket, self._outbox = None, None
                for topic in self._topics.values():
                    topic.confirmed = False
        code = getattr(socket, "close_code", None)
        reason = getattr(socket, "close_reason", None) or ""
        return received, code if isinstance(code, int) else None, str(reason)

    @staticmethod
    async def _write(socket: Any, outbox: "asyncio.Queue[str]") -> None:
        try:
            while True:
                await socket.send(await outbox.get())
        except websockets.exceptions.ConnectionClosed:
            pass

    def _send(self, message: Mapping[str, Any]) -> None:
        if self._outbox is not None:
            self._outbox.put_nowait(json.dumps(message))

    def _send_subscribe(self, topic: _Topic) -> None:
        after_seq = topic.seq if topic.seq is not None else (0 if topic.replay else None)
        message: Dict[str, Any] = {"type": "subscribe", "sessionId": topic.session_id}
        if after_seq is not None:
            message["afterSeq"] = after_seq
        self._send(message)

    # Incoming --------------------------------------------------------------------------------------------

    def _handle(self, raw: Any) -> None:
        try:
            message = json.loads(raw)
        except (TypeError, ValueError):
            return
        if not isinstance(message, dict):
            return
        kind = message.get("type")
        session_id = message.get("sessionId")
        if kind == "subscribed":
            topic = self._topics.get(session_id) if isinstance(session_id, str) else None
            if topic is None:
                # Unsubscribed meanwhile, and the server subscribed anyway: undo it.
                if isinstance(session_id, str):
                    self._send({"type": "unsubscribe", "sessionId": session_id})
                return
            topic.confirmed = True
            for subscription in list(topic.subs):
                if subscription.state != "pending":
                    continue
                if subscription.needs_sync:
                    self._start_sync(subscription)
                else:
                    self._go_live(subscription)
        elif kind == "error":
            error = error_from_event(message)
            if not isinstance(session_id, str):
                self._report_all(error)
                return
            topic = self._topics.pop(session_id, None)
            if topic is None:
                return
            # The server reports a session's errors in answer to a subscribe it refused: it holds nothing more.
            for subscription in list(topic.subs):
                self._fail(subscription, error, message)
            if not self._topics:
                self._shutdown()
        elif kind in SESSION_EVENTS and isinstance(session_id, str):
            topic = self._topics.get(session_id)
            if topic is None:
                return
            seq = message.get("seq")
            if isinstance(seq, int) and not isinstance(seq, bool):
                if topic.seq is not None and seq <= topic.seq and kind == "new_message":
                    return  # sent again after a resubscription, and delivered already
                if topic.seq is None or seq > topic.seq:
                    topic.seq = seq
            for subscription in list(topic.subs):
                if subscription.state == "live":
                    self._deliver(subscription, message)
                elif subscription.state != "closed":
                    subscription.buffer.append(message)

    def _go_live(self, subscription: _Subscription) -> None:
        subscription.state = "live"
        subscription.was_live = True
        subscription.needs_sync = False
        self._flush(subscription)

    def _flush(self, subscription: _Subscription) -> None:
        while subscription.state == "live" and subscription.buffer:
            self._deliver(subscription, subscription.buffer.pop(0))

    def _deliver(self, subscription: _Subscription, event: RawEvent) -> None:
        """Hands an event to the owner: each message once, one session_end, after which the subscription ends."""
        if subscription.state == "closed":
            return
        kind = event.get("type")
        handlers = subscription.handlers
        if kind == "new_message":
            data = event.get("data")
            message_id = data.get("id") if isinstance(data, Mapping) else None
            if isinstance(message_id, str):
                if message_id in subscription.delivered:
                    return
                subscription.delivered.add(message_id)
                subscription.known.add(message_id)
            handlers.event(event)
        elif kind == "session_end":
            if subscription.ended:
                return
            subscription.ended = True
            handlers.event(event)
            if subscription.state == "closed":
                return  # the callback unsubscribed
            self._detach(subscription)
            handlers.end(event)
            handlers.closed()
        else:
            handlers.event(event)

    # Catch-up over HTTP ----------------------------------------------------------------------------------

    def _start_sync(self, subscription: _Subscription) -> None:
        subscription.state = "syncing"
        subscription.sync_generation += 1
        generation = subscription.sync_generation

        def current() -> bool:
            return subscription.sync_generation == generation and subscription.state == "syncing"

        async def run() -> None:
            try:
                session = await self._fetch_session(subscription.session_id)
            except Exception as error:  # noqa: BLE001 - reported; live events go on
                if not current():
                    return
                subscription.handlers.error(
                    _as_mimic_error(error, "Could not read the session to catch up on its events"), False
                )
                if current():
                    self._go_live(subscription)
                return
            if current():
                self._catch_up(subscription, session)

        self._spawn(run())

    def _catch_up(self, subscription: _Subscription, session: SessionDetail) -> None:
        first = not subscription.synced_once
        subscription.synced_once = True
        waiting = {
            e["data"].get("id")
            for e in subscription.buffer
            if e.get("type") == "new_message" and isinstance(e.get("data"), Mapping)
        }
        missed: List[RawEvent] = []
        for message in session.messages:
            if message.id in subscription.known:
                continue
            # The first time, without replay, what existed before the subscription is the baseline, not news.
            if first and not subscription.replay and message.id not in waiting:
                subscription.known.add(message.id)
                continue
            missed.append(_message_event(message))
        if subscription.joined:
            missed.insert(0, _snapshot_event(session))
            subscription.joined = False
        subscription.state = "live"
        subscription.was_live = True
        subscription.needs_sync = False
        for event in missed:
            self._deliver(subscription, event)
        self._flush(subscription)
        if _has_ended(session) and not subscription.ended:
            self._deliver(subscription, _end_event(session))

    # Endings ---------------------------------------------------------------------------------------------

    def _remove(self, subscription: _Subscription) -> None:
        if subscription.state == "closed":
            return
        self._detach(subscription)
        subscription.handlers.closed()

    def _detach(self, subscription: _Subscription) -> None:
        """Takes a subscription off the socket, unsubscribing from its session when it was the last one."""
        subscription.state = "closed"
        subscription.buffer.clear()
        topic = self._topics.get(subscription.session_id)
        if topic is None or subscription not in topic.subs:
            return
        topic.subs.remove(subscription)
        if topic.subs:
            return
        del self._topics[subscription.session_id]
        if not self._topics:
            self._shutdown()
        else:
            self._send({"type": "unsubscribe", "sessionId": subscription.session_id})

    def _fail(self, subscription: _Subscription, error: MimicError, event: Optional[RawEvent] = None) -> None:
        """Ends one subscription on an error: the callback gets the error event, then `on_error` the error."""
        if subscription.state == "closed":
            return
        self._detach(subscription)
        subscription.handlers.event(
            event
            or {
                "type": "error",
                "sessionId": subscription.session_id,
                "error": {"code": error.code or "ERROR", "message": error.message},
            }
        )
        subscription.handlers.error(error, True)
        subscription.handlers.closed()

    def _fail_all(self, error: MimicError) -> None:
        """Ends every subscription on an error no retry can fix (token refused, too many connections)."""
        subscriptions = [s for topic in self._topics.values() for s in topic.subs]
        self._topics.clear()
        self._shutdown()
        for subscription in subscriptions:
            self._fail(subscription, error)

    def _report_all(self, error: MimicError) -> None:
        """A problem the subscriptions survive."""
        for topic in list(self._topics.values()):
            for subscription in list(topic.subs):
                subscription.handlers.error(error, False)


def _in_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
