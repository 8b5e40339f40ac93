"""Live events: full simulations with the demo bot followed through subscribe() (a background thread) and
events() (async for), a dropped connection caught up without loss or duplicates, and refused subscriptions."""
from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from typing import Any, List, Tuple
from urllib.parse import urlsplit

import pytest

from conftest import Server, make_agent, make_persona, wait_for
from mimic_sdk import (
    AsyncMimicClient,
    LiveErrorEvent,
    MimicClient,
    MimicError,
    NewMessageEvent,
    NotFoundError,
    SessionEndEvent,
    SessionEvent,
    SessionUpdateEvent,
)

SESSION_CONFIG = {"duration": 60, "max_messages": 12, "message_interval": 0.2, "reply_timeout": 10}


def start_simulation(client: MimicClient, server: Server) -> str:
    persona = make_persona(client)
    agent = make_agent(client, server)
    return client.sessions.create(agent_id=agent.id, persona_id=persona.id, config=SESSION_CONFIG).id


def assert_whole_conversation(client: MimicClient, session_id: str, events: List[Any]) -> None:
    """Each message once, in the transcript's order, then one session_end that closes a passed session."""
    messages = [e for e in events if isinstance(e, NewMessageEvent)]
    ends = [e for e in events if isinstance(e, SessionEndEvent)]
    assert len(ends) == 1 and events[-1] is ends[0], [type(e).__name__ for e in events]
    transcript = client.sessions.get(session_id).messages
    assert [m.data.id for m in messages] == [m.id for m in transcript]
    senders = [m.data.sender_type for m in messages if m.data.sender_type != "system"]
    assert senders[:2] == ["persona", "agent"] and senders.count("agent") >= 2
    replies = [m.data for m in messages if m.data.sender_type == "agent"]
    assert all(r.latency_ms is not None and r.latency_ms > 0 for r in replies)
    end = ends[0].data
    assert (end.status, end.end_reason) == ("completed", "goal_reached")
    assert end.message_count == len(senders) and end.result is not None and end.result.passed
    assert all(e.session_id == session_id for e in events)


def test_a_whole_simulation_through_subscribe(server: Server, user: MimicClient) -> None:
    session_id = start_simulation(user, server)
    events: List[SessionEvent] = []
    ended = threading.Event()
    threads = set()

    def on_event(event: SessionEvent) -> None:
        threads.add(threading.current_thread().name)
        events.append(event)

    unsubscribe = user.sessions.subscribe(session_id, on_event, replay=True, on_end=lambda end: ended.set())
    assert ended.wait(45), f"no session_end; got {[type(e).__name__ for e in events]}"
    assert isinstance(events[0], SessionUpdateEvent) or isinstance(events[0], NewMessageEvent)
    assert any(isinstance(e, SessionUpdateEvent) for e in events)
    assert_whole_conversation(user, session_id, events)
    assert threads == {"mimic-live-events"}  # callbacks run on the client's background thread
    unsubscribe()  # after the end: harmless
    unsubscribe()


def test_a_whole_simulation_through_async_for(server: Server, user: MimicClient) -> None:
    session_id = start_simulation(user, server)
    token = user._transport.token()

    async def follow() -> List[Any]:
        async with AsyncMimicClient(base_url=server.base_url, token=token) as client:
            collected = [event async for event in client.sessions.events(session_id, replay=True)]
            assert (await client.sessions.get(session_id)).status == "completed"
            return collected

    events = asyncio.run(asyncio.wait_for(follow(), 45))
    assert_whole_conversation(user, session_id, events)


def test_the_sync_clients_events_work_with_async_for(server: Server, user: MimicClient) -> None:
    session_id = start_simulation(user, server)

    async def follow() -> List[Any]:
        return [event async for event in user.sessions.events(session_id, replay=True)]

    events = asyncio.run(asyncio.wait_for(follow(), 45))
    assert_whole_conversation(user, session_id, events)


class Proxy:
    """A TCP proxy to the server whose connections the test can cut, as a flaky network would."""

    def __init__(self, target: Tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.open: List[socket.socket] = []
        self.accepted = 0
        #: While set, new connections are dropped at once: the server is unreachable.
        self.down = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return
            if self.down.is_set():
                downstream.close()
                continue
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.accepted += 1
                self.open += [downstream, upstream]
            for a, b in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                chunk = source.recv(65536)
                if not chunk:
                    break
                sink.sendall(chunk)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        """Drops every open connection (no WebSocket close frame: the client sees the network fail)."""
        with self.lock:
            sockets, self.open = self.open, []
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self.listener.close()
        self.cut()


def test_a_dropped_connection_is_resumed_without_losing_or_repeating_a_message(
    server: Server, user: MimicClient
) -> None:
    target = urlsplit(server.base_url)
    proxy = Proxy((target.hostname or "127.0.0.1", target.port or 80))
    try:
        with MimicClient(base_url=f"http://127.0.0.1:{proxy.port}", token=user._transport.token()) as client:
            session_id = start_simulation(client, server)
            events: List[SessionEvent] = []
            errors: List[MimicError] = []
            ended = threading.Event()
            client.sessions.subscribe(
                session_id, events.append, replay=True, on_end=lambda e: ended.set(), on_error=errors.append
            )
            wait_for(lambda: any(isinstance(e, NewMessageEvent) for e in events), 20, what="a first message")
            proxy.down.set()
            proxy.cut()
            # The conversation goes on while the client cannot reach the server: it must catch up on that.
            before = len([e for e in events if isinstance(e, NewMessageEvent)])
            wait_for(lambda: len(user.sessions.get(session_id).messages) >= before + 2, 30, 0.2, what="messages")
            proxy.down.clear()
            assert ended.wait(45), f"no session_end after the cut; got {[type(e).__name__ for e in events]}"
            assert_whole_conversation(client, session_id, events)
            live = client.sessions._live
            assert live is not None and live.connection.connections >= 2, "the connection was not re-established"
            assert errors == []
    finally:
        proxy.close()


def test_subscribing_to_a_session_that_is_not_yours_fails_with_not_found(server: Server, user: MimicClient) -> None:
    unknown = str(uuid.uuid4())
    events: List[SessionEvent] = []
    errors: List[MimicError] = []
    done = threading.Event()

    def on_error(error: MimicError) -> None:
        errors.append(error)
        done.set()

    user.sessions.subscribe(unknown, events.append, on_error=on_error)
    assert done.wait(10)
    assert len(events) == 1 and isinstance(events[0], LiveErrorEvent)
    assert events[0].error.code == "RESOURCE_NOT_FOUND"
    assert isinstance(errors[0], NotFoundError) and errors[0].code == "RESOURCE_NOT_FOUND"

    with pytest.raises(NotFoundError):
        for _ in user.sessions.events(unknown):
            pass

    async def iterate() -> None:
        async with AsyncMimicClient(base_url=server.base_url, token=user._transport.token()) as client:
            async for _ in client.sessions.events(unknown):
                pass

    with pytest.raises(NotFoundError):
        asyncio.run(asyncio.wait_for(iterate(), 10))


def test_after_unsubscribe_returns_the_callback_is_not_called_again(server: Server, user: MimicClient) -> None:
    persona = make_persona(user, config={"message_interval": 3600})
    agent = make_agent(user, server)
    session_id = user.sessions.create(agent_id=agent.id, persona_id=persona.id).id
    first: List[SessionEvent] = []
    second: List[SessionEvent] = []
    ended = threading.Event()
    unsubscribe = user.sessions.subscribe(session_id, first.append, replay=True)
    wait_for(lambda: first, 20, what="a first event")
    # A second subscriber to the same session shares the socket; the SDK makes its snapshot from the session.
    user.sessions.subscribe(session_id, second.append, on_end=lambda e: ended.set())
    wait_for(lambda: second, 20, what="the second subscriber's snapshot")
    unsubscribe()
    seen = len(first)
    user.sessions.stop(session_id)
    assert ended.wait(20)
    assert len(first) == seen
    assert isinstance(second[0], SessionUpdateEvent) and isinstance(second[-1], SessionEndEvent)
    assert second[-1].data.status == "stopped"


def test_leaving_an_events_loop_early_unsubscribes(server: Server, user: MimicClient) -> None:
    persona = make_persona(user, config={"message_interval": 3600})
    agent = make_agent(user, server)
    session_id = user.sessions.create(agent_id=agent.id, persona_id=persona.id).id
    for event in user.sessions.events(session_id, replay=True):
        assert event.session_id == session_id
        break
    live = user.sessions._live
    assert live is not None
    wait_for(lambda: not live.call(lambda: live.connection.active), 10, what="the subscription to end")

    async def leave() -> None:
        async with AsyncMimicClient(base_url=server.base_url, token=user._transport.token()) as client:
            async for _ in client.sessions.events(session_id, replay=True):
                break
            await asyncio.sleep(0)  # the async generator is closed as the loop finalizes it
            connection = client.sessions._live
            assert connection is not None
            for _ in range(100):
                if not connection.active:
                    break
                await asyncio.sleep(0.02)
            assert not connection.active

    asyncio.run(asyncio.wait_for(leave(), 10))
    user.sessions.stop(session_id)
