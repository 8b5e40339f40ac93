"""Retries with jittered backoff on 429, 5xx and network errors, honouring Retry-After, for idempotent requests
only (or with an idempotency key); per-call timeouts. Against a scripted local HTTP server: a healthy Mimic does
not fail on demand."""
from __future__ import annotations

import asyncio
import json
import time

import pytest

from conftest import Reply, StubServer
from mimic_sdk import (
    APIConnectionError,
    APITimeoutError,
    AsyncMimicClient,
    InternalServerError,
    MimicClient,
    RateLimitError,
    ServiceUnavailableError,
)
from mimic_sdk._retry import backoff, server_delay

USER = {"id": "3f1c2a70-5b7e-4e43-9b5c-6a4f7e2d1c00", "email": "a@example.com", "name": None, "createdAt": "2026-01-01T00:00:00.000Z"}
UNAVAILABLE = {"error": {"code": "SERVICE_UNAVAILABLE", "message": "Database unavailable", "requestId": "req-1"}}


def test_a_get_is_retried_after_503_and_succeeds(stub: StubServer) -> None:
    stub.replies = [Reply(503, UNAVAILABLE, {"retry-after": "0"}), Reply(503, UNAVAILABLE), Reply(200, USER)]
    with MimicClient(base_url=stub.base_url, token="t") as client:
        started = time.monotonic()
        me = client.auth.me()
    assert me.email == "a@example.com" and me.created_at == "2026-01-01T00:00:00.000Z"
    assert len(stub.requests) == 3
    assert all(r.headers["authorization"] == "Bearer t" for r in stub.requests)
    # Retry-After: 0 first, then the SDK's own backoff (0.5 s for the second retry, minus up to 25 %).
    assert 0.3 < time.monotonic() - started < 3


def test_retry_after_is_honoured_and_a_429_becomes_rate_limit_error_when_retries_run_out(stub: StubServer) -> None:
    limited = {"error": {"code": "RATE_LIMIT_EXCEEDED", "message": "Slow down"}}
    stub.replies = [Reply(429, limited, {"retry-after": "1"}), Reply(429, limited, {"retry-after": "1"})]
    with MimicClient(base_url=stub.base_url, token="t", max_retries=1) as client:
        started = time.monotonic()
        with pytest.raises(RateLimitError) as caught:
            client.personas.list()
    assert time.monotonic() - started >= 1.0
    assert len(stub.requests) == 2 and caught.value.retry_after == 1.0 and caught.value.message == "Slow down"


def test_a_server_asking_for_a_long_wait_gets_its_error_at_once(stub: StubServer) -> None:
    stub.replies = [Reply(429, {"error": {"code": "RATE_LIMIT_EXCEEDED", "message": "Hourly limit"}}, {"retry-after": "3000"})]
    with MimicClient(base_url=stub.base_url, token="t") as client, pytest.raises(RateLimitError):
        client.auth.me()
    assert len(stub.requests) == 1


def test_a_post_is_not_retried_without_an_idempotency_key(stub: StubServer) -> None:
    stub.replies = [Reply(503, UNAVAILABLE), Reply(201, {})]
    with MimicClient(base_url=stub.base_url, token="t") as client, pytest.raises(ServiceUnavailableError) as caught:
        client.personas.create(name="Ivy", prompt="A customer.")
    assert len(stub.requests) == 1
    assert (caught.value.status, caught.value.code, caught.value.request_id) == (503, "SERVICE_UNAVAILABLE", "req-1")
    assert isinstance(caught.value, InternalServerError)


def test_a_post_with_an_idempotency_key_is_retried_with_the_same_key(stub: StubServer) -> None:
    message = {"id": "8d7c4f0e-2b4a-4c1e-9f3d-0a1b2c3d4e5f", "sessionId": "s", "senderType": "agent", "content": "Hi", "timestamp": "2026-01-01T00:00:00.000Z", "latencyMs": None}
    stub.replies = [Reply(502, None), Reply(drop=True), Reply(201, message)]
    with MimicClient(base_url=stub.base_url, token="t") as client:
        created = client.sessions.messages.create(
            "s", id=message["id"], sender_type="agent", content="Hi", idempotency_key="msg-8d7c"
        )
    assert created.id == message["id"] and created.latency_ms is None
    assert len(stub.requests) == 3
    assert {r.headers.get("idempotency-key") for r in stub.requests} == {"msg-8d7c"}
    assert stub.requests[0].body == stub.requests[2].body
    assert json.loads(stub.requests[0].body) == {"id": message["id"], "senderType": "agent", "content": "Hi"}


def test_network_errors_are_retried_then_raised(stub: StubServer) -> None:
    stub.replies = [Reply(drop=True), Reply(drop=True)]
    with MimicClient(base_url=stub.base_url, token="t", max_retries=1) as client, pytest.raises(APIConnectionError):
        client.auth.me()
    assert len(stub.requests) == 2


def test_a_per_call_timeout_bounds_each_attempt(stub: StubServer) -> None:
    stub.replies = [Reply(200, USER, delay=1.0)]
    with MimicClient(base_url=stub.base_url, token="t") as client:
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            client.auth.me(timeout=0.2, max_retries=0)
        assert time.monotonic() - started < 0.9


def test_the_async_client_retries_too(stub: StubServer) -> None:
    stub.replies = [Reply(500, None, {"retry-after": "0"}), Reply(200, USER)]

    async def run() -> str:
        async with AsyncMimicClient(base_url=stub.base_url, token=lambda: "fresh") as client:
            return (await client.auth.me()).email

    assert asyncio.run(run()) == "a@example.com"
    assert [r.headers["authorization"] for r in stub.requests] == ["Bearer fresh", "Bearer fresh"]


def test_backoff_doubles_up_to_eight_seconds_with_jitter_and_reads_server_hints() -> None:
    assert [backoff(n, lambda: 0.0) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert backoff(0, lambda: 1.0) == 0.375
    assert server_delay({"retry-after": "2"}, 503) == 2.0
    assert server_delay({"retry-after": "Thu, 01 Jan 2099 00:00:10 GMT"}, 503, now=4070908800.0) == 10.0
    assert server_delay({"x-ratelimit-reset": "4070908830"}, 429, now=4070908800.0) == 30.0
    assert server_delay({"x-ratelimit-reset": "4070908830"}, 503, now=4070908800.0) is None
