"""Typed errors per status, carrying the API's code, message, details and request id."""
from __future__ import annotations

import time
import uuid

import pytest

from conftest import PASSWORD, Server
from mimic_sdk import (
    APIConnectionError,
    AuthenticationError,
    AuthorizationError,
    ConflictError,
    MimicClient,
    MimicError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ValidationError,
)


def test_a_missing_or_bad_token_raises_authentication_error(server: Server) -> None:
    with MimicClient(base_url=server.base_url, token="not-a-token") as client:
        with pytest.raises(AuthenticationError) as caught:
            client.personas.list()
    error = caught.value
    assert (error.status, error.code) == (401, "AUTHENTICATION_ERROR")
    assert error.message and error.request_id and error.headers.get("x-request-id") == error.request_id
    assert isinstance(error, MimicError) and error.details == []


def test_another_users_resource_raises_not_found_error(server: Server, user: MimicClient) -> None:
    persona = user.personas.create(name="Mine", prompt="A customer.")
    other, _ = server.sign_up()
    with other, pytest.raises(NotFoundError) as caught:
        other.personas.get(persona.id)
    assert (caught.value.status, caught.value.code) == (404, "RESOURCE_NOT_FOUND")
    assert "Mine" not in str(caught.value.body)


def test_invalid_fields_raise_validation_error_with_details(user: MimicClient) -> None:
    with pytest.raises(ValidationError) as caught:
        user.sessions.create(
            agent_id=str(uuid.uuid4()), persona_id=str(uuid.uuid4()), config={"duration": 0, "max_messages": 50}
        )
    error = caught.value
    assert (error.status, error.code) == (422, "VALIDATION_ERROR")
    assert any(d.field == "config.duration" and d.message for d in error.details), error.details
    assert "config.duration" in str(error) and error.request_id


def test_a_taken_email_raises_conflict_error(server: Server) -> None:
    email = f"twice-{uuid.uuid4()}@example.com"
    with MimicClient(base_url=server.base_url) as client:
        client.auth.register(email=email, password=PASSWORD)
        with pytest.raises(ConflictError) as caught:
            client.auth.register(email=email, password=PASSWORD)
    assert (caught.value.status, caught.value.code) == (409, "CONFLICT")


def test_an_api_key_creating_a_key_raises_permission_denied(server: Server, user: MimicClient) -> None:
    key = user.api_keys.create(name="ci")
    with MimicClient(base_url=server.base_url, token=key.key) as ci, pytest.raises(AuthorizationError) as caught:
        ci.api_keys.create(name="another")
    assert isinstance(caught.value, PermissionDeniedError)
    assert (caught.value.status, caught.value.code) == (403, "AUTHORIZATION_ERROR")


def test_the_rate_limit_raises_rate_limit_error_at_once_when_the_wait_is_long(server: Server) -> None:
    client, _ = server.sign_up()  # 100 requests per user per hour on the test server
    with client:
        started = time.monotonic()
        with pytest.raises(RateLimitError) as caught:
            for _ in range(150):
                client.auth.me()
        error = caught.value
        assert (error.status, error.code) == (429, "RATE_LIMIT_EXCEEDED")
        assert error.retry_after is not None and error.retry_after > 60  # the rest of the hour: no retry
        assert error.headers["x-ratelimit-remaining"] == "0" and error.request_id
        assert time.monotonic() - started < 30


def test_an_unreachable_server_raises_api_connection_error() -> None:
    with MimicClient(base_url="http://127.0.0.1:9", token="t", max_retries=0) as client:
        with pytest.raises(APIConnectionError) as caught:
            client.auth.me()
    assert caught.value.status is None and "GET http://127.0.0.1:9/api/auth/me" in caught.value.message
