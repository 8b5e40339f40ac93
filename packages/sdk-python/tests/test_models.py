"""Models: snake_case attributes over camelCase JSON, request bodies from keyword arguments (no server needed)."""
from __future__ import annotations

import datetime

from mimic_sdk import (
    NOT_GIVEN,
    CreatePersonaRequest,
    CreateSessionRequest,
    LiveEvent,
    NewMessageEvent,
    PersonaConfig,
    SessionCheck,
    SessionDetail,
)
from mimic_sdk._models import decode, encode_body
from mimic_sdk.generated.models import SessionUpdateEvent

DETAIL = {
    "id": "5b0c0a4e-1111-4a8e-8a57-0d6f9e3c2b10",
    "agentId": "a",
    "personaId": "p",
    "status": "completed",
    "config": {"duration": 60, "maxMessages": 10, "messageInterval": 1, "replyTimeout": 5},
    "metadata": {"build_id": "ci-1", "camelCase": {"nested_key": 1}},
    "endReason": "goal_reached",
    "reason": "goal reached",
    "checks": [{"type": "reply_within", "ms": 2000}],
    "result": {"passed": True, "checks": [{"type": "reply_within", "name": "replies", "status": "passed", "passed": True, "detail": "ok"}]},
    "groupId": None,
    "usage": {"promptTokens": 0, "completionTokens": 0},
    "startedAt": "2026-12-01T10:00:00.000Z",
    "endedAt": "2026-12-01T10:01:00.000Z",
    "createdAt": "2026-12-01T10:00:00.000Z",
    "updatedAt": "2026-12-01T10:01:00.000Z",
    "messages": [{"id": "m1", "sessionId": "s", "senderType": "agent", "content": "Hi", "timestamp": "t", "latencyMs": 420}],
    "aFieldFromANewerServer": {"kept": True},
}


def test_responses_become_models_with_snake_case_attributes_and_back() -> None:
    session = SessionDetail.from_dict(DETAIL)
    assert session.agent_id == "a" and session.end_reason == "goal_reached" and session.group_id is None
    assert session.config.max_messages == 10 and session.usage.prompt_tokens == 0
    assert session.messages[0].latency_ms == 420 and session.messages[0].sender_type == "agent"
    assert session.checks == [SessionCheck(type="reply_within", ms=2000)]
    assert session.result is not None and session.result.checks[0].status == "passed"
    assert session.metadata == {"build_id": "ci-1", "camelCase": {"nested_key": 1}}  # your JSON, untouched
    assert session.to_dict() == DETAIL  # unknown fields included


def test_bodies_accept_either_case_models_and_dates_and_leave_out_what_was_not_given() -> None:
    body = encode_body(
        CreateSessionRequest,
        {
            "agent_id": "a",
            "persona_id": "p",
            "config": {"duration": 300, "max_messages": 50, "messageInterval": 2},
            "checks": [{"type": "must_match", "pattern": "date"}, SessionCheck(type="goal_reached")],
            "metadata": {"snake_key": datetime.date(2026, 12, 1)},
            "repeat": NOT_GIVEN,
            "inherit_checks": NOT_GIVEN,
        },
    )
    assert body == {
        "agentId": "a",
        "personaId": "p",
        "config": {"duration": 300, "maxMessages": 50, "messageInterval": 2},
        "checks": [{"type": "must_match", "pattern": "date"}, {"type": "goal_reached"}],
        "metadata": {"snake_key": "2026-12-01"},
    }
    cleared = encode_body(CreatePersonaRequest, {"name": "Ivy", "goal": None, "config": PersonaConfig(max_messages=3)})
    assert cleared == {"name": "Ivy", "goal": None, "config": {"maxMessages": 3}}


def test_live_events_decode_by_their_type() -> None:
    from mimic_sdk._models import UnionOf

    shape = UnionOf("type", {"session_update": SessionUpdateEvent, "new_message": NewMessageEvent})
    event = decode(shape, {"type": "new_message", "sessionId": "s", "seq": 3, "data": {"id": "m", "senderType": "persona", "content": "Hi", "timestamp": "t", "latencyMs": None}})
    assert isinstance(event, NewMessageEvent) and event.data.content == "Hi" and event.to_dict()["seq"] == 3
    assert decode(shape, {"type": "from_the_future"}) == {"type": "from_the_future"}
    assert LiveEvent is not None
