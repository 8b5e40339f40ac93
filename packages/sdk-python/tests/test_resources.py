"""Every resource of the API through the sync client, against the real server: models with snake_case
attributes, keyword arguments for body fields and query parameters, nested dicts in either case."""
from __future__ import annotations

import datetime
import json
import uuid

from conftest import DEMO_SECRET, PASSWORD, Server, make_agent, make_persona, wait_for
from mimic_sdk import (
    AccessToken,
    Agent,
    AuthenticationError,
    Message,
    MimicClient,
    NotFoundError,
    Persona,
    Registration,
    Session,
    SessionCheck,
    SessionDetail,
    SyncPage,
    User,
)


def test_auth_registers_logs_in_and_reads_the_current_user(server: Server) -> None:
    email = f"ada-{uuid.uuid4()}@example.com"
    with MimicClient(base_url=server.base_url) as client:
        registration = client.auth.register(email=email, password=PASSWORD, name="Ada")
        assert isinstance(registration, Registration)
        assert registration.token_type == "bearer" and registration.user.email == email
        login = client.auth.login(email=email, password=PASSWORD)
        assert isinstance(login, AccessToken) and login.expires_in > 0
        client.set_token(login.access_token)
        me = client.auth.me()
        assert isinstance(me, User)
        assert (me.id, me.name) == (registration.user.id, "Ada")
        assert me.created_at  # createdAt on the wire


def test_api_keys_are_shown_once_work_as_tokens_and_can_be_revoked(server: Server, user: MimicClient) -> None:
    created = user.api_keys.create(name="ci", expires_in_days=30)
    assert created.key.startswith(created.prefix) and created.expires_at
    listed = user.api_keys.list()
    assert [k.id for k in listed.data] == [created.id]
    assert not hasattr(listed.data[0], "key")
    with MimicClient(base_url=server.base_url, token=created.key) as ci:
        assert ci.auth.me().id == user.auth.me().id
        user.api_keys.revoke(created.id)
        try:
            ci.auth.me()
            raise AssertionError("a revoked key must be refused")
        except AuthenticationError as error:
            assert error.status == 401


def test_personas_round_trip_with_snake_case_attributes_and_either_case_in_dicts(user: MimicClient) -> None:
    persona = user.personas.create(
        name="Frustrated Customer",
        prompt="You are a frustrated customer whose order is late.",
        goal="get a new delivery date",
        traits={"communication_style": "direct", "patience_level": "low"},  # free-form: keys kept as written
        config={"messageInterval": 3, "max_messages": 20},  # camelCase and snake_case both accepted
        checks=[{"type": "reply_within", "ms": 5000}, SessionCheck(type="must_not_match", pattern="sorry")],
        script=["Hi, my parcel is late."],
    )
    assert isinstance(persona, Persona)
    assert persona.config.message_interval == 3 and persona.config.max_messages == 20
    assert persona.traits == {"communication_style": "direct", "patience_level": "low"}
    assert persona.provider == "scripted" and persona.script == ["Hi, my parcel is late."]
    assert {(c.type, c.ms, c.pattern) for c in persona.checks} == {
        ("reply_within", 5000, None),
        ("must_not_match", None, "sorry"),
    }
    assert persona.to_dict()["config"]["maxMessages"] == 20

    updated = user.personas.update(persona.id, description="Has waited ten days", goal=None)
    assert updated.description == "Has waited ten days" and updated.goal is None
    assert updated.name == "Frustrated Customer"  # PUT changes only what is sent
    assert user.personas.get(persona.id) == updated

    page = user.personas.list(limit=5)
    assert isinstance(page, SyncPage) and [p.id for p in page.data] == [persona.id]
    assert page.pagination.total == 1

    user.personas.delete(persona.id)
    try:
        user.personas.get(persona.id)
        raise AssertionError("a deleted persona must be gone")
    except NotFoundError:
        pass


def test_agents_mask_secrets_filter_by_type_and_update(server: Server, user: MimicClient) -> None:
    agent = make_agent(user, server, config={"webhook_url": server.demo_url, "secret": DEMO_SECRET, "timeout_ms": 5000})
    assert isinstance(agent, Agent) and agent.type == "webhook" and agent.status == "active"
    assert agent.config["webhook_url"] == server.demo_url  # agent config keys travel as written
    assert agent.config["secret"].startswith("****") and DEMO_SECRET not in json.dumps(agent.to_dict())
    assert [a.id for a in user.agents.list(type="webhook")] == [agent.id]
    assert list(user.agents.list(type="websocket")) == []
    renamed = user.agents.update(agent.id, name="Renamed bot", status="inactive")
    assert (renamed.name, renamed.status) == ("Renamed bot", "inactive")
    assert user.agents.get(agent.id).name == "Renamed bot"
    user.agents.delete(agent.id)
    assert list(user.agents.list()) == []


def test_sessions_transcripts_search_export_stats_and_metadata(server: Server, user: MimicClient) -> None:
    persona = make_persona(user, config={"message_interval": 3600})  # one persona message, then a long wait
    agent = make_agent(user, server)
    session = user.sessions.create(
        agent_id=agent.id,
        persona_id=persona.id,
        config={"duration": 600, "max_messages": 50, "reply_timeout": 10},
        metadata={"build": "ci-1", "nested_key": {"keepMe": True}},
        checks=[{"type": "must_match", "pattern": "delivery"}],
    )
    assert isinstance(session, Session)
    assert session.config.max_messages == 50 and session.config.duration == 600
    assert session.metadata["build"] == "ci-1" and session.metadata["nested_key"] == {"keepMe": True}
    assert session.status in ("pending", "active")

    own = str(uuid.uuid4())
    first = user.sessions.messages.create(session.id, id=own, sender_type="system", content="Recorded by the test")
    assert isinstance(first, Message) and first.id == own and first.sender_type == "system"
    again = user.sessions.messages.create(session.id, id=own, sender_type="system", content="Recorded by the test")
    assert again.id == own  # the same id stores one message
    batch = user.sessions.messages.create_batch(
        session.id,
        messages=[
            {"sender_type": "persona", "content": "Is a refund possible instead of a new delivery date?"},
            {"senderType": "agent", "content": "Yes, a refund takes three days."},
        ],
    )
    assert batch.created == 2 and [m.sender_type for m in batch.data] == ["persona", "agent"]

    mine = [m for m in user.sessions.messages.list(session.id, limit=2) if m.id in {own, *(m.id for m in batch.data)}]
    assert [m.content for m in mine] == [
        "Recorded by the test",
        "Is a refund possible instead of a new delivery date?",
        "Yes, a refund takes three days.",
    ]
    assert all(m.sender_type == "agent" for m in user.sessions.messages.list(session.id, sender_type="agent"))

    hits = wait_for(lambda: user.sessions.search(session.id, q="refund").results, what="a search hit")
    assert all("refund" in h.content.lower() for h in hits) and hits[0].highlight
    found = user.search.messages(q="refund", agent_id=agent.id)
    assert found.count >= 2 and all(h.session_id == session.id for h in found.results)

    markdown = user.sessions.export(session.id, format="markdown")
    assert isinstance(markdown, str) and "Yes, a refund takes three days." in markdown
    jsonl = user.sessions.export(session.id, format="jsonl")
    assert any(json.loads(line).get("content") == "Recorded by the test" for line in jsonl.splitlines() if line)
    exported = json.loads(user.sessions.export(session.id))  # json by default, returned as text too
    assert exported["session"]["id"] == session.id
    assert own in {m["id"] for m in exported["messages"]}

    updated = user.sessions.update(session.id, metadata={"flaky": True, "build": None})
    assert updated.metadata.get("flaky") is True and "build" not in updated.metadata

    detail = user.sessions.get(session.id)
    assert isinstance(detail, SessionDetail) and {own} <= {m.id for m in detail.messages}
    assert [s.id for s in user.sessions.list(agent_id=agent.id, persona_id=persona.id)] == [session.id]

    stopped = user.sessions.stop(session.id)
    assert stopped.status == "stopped" and stopped.end_reason == "stopped"
    assert [s.id for s in user.sessions.list(status="stopped")] == [session.id]
    stats = user.sessions.stats(session.id)
    assert stats.session_id == session.id and stats.status == "stopped"
    assert stats.by_sender.system >= 1 and stats.by_sender.agent >= 1 and stats.message_count >= 3
    assert stats.reply_latency.count >= 0 and stats.usage.prompt_tokens == 0


def test_repeated_sessions_form_a_group_and_analytics_count_them(server: Server, user: MimicClient) -> None:
    persona = make_persona(user, config={"message_interval": 3600})
    agent = make_agent(user, server)
    session = user.sessions.create(agent_id=agent.id, persona_id=persona.id, repeat=2)
    assert session.group_id
    group = user.session_groups.get(session.group_id)
    assert group.id == session.group_id and group.total == 2 and len(group.runs) == 2
    more = user.sessions.repeat(session.id, times=1)
    assert more.total == 1 and len(more.runs) == 1
    for run in user.sessions.list(status="active"):
        user.sessions.stop(run.id)
    for run in user.sessions.list(status="pending"):
        user.sessions.stop(run.id)

    overall = user.analytics.sessions(agent_id=agent.id)
    assert overall.total_sessions >= 3 and overall.daily_stats
    by_agent = user.analytics.agent(agent.id, start_date=datetime.date.today() - datetime.timedelta(days=30))
    assert by_agent.agent_id == agent.id and by_agent.total_sessions >= 3 and by_agent.name == agent.name
    assert by_agent.reply_latency.count >= 0 and isinstance(by_agent.failure_reasons, list)


def test_health_needs_no_token(server: Server) -> None:
    with MimicClient(base_url=server.base_url) as anonymous:
        assert anonymous.health.check().status == "ok"
        ready = anonymous.health.ready()
        assert ready.status == "ready" and ready.checks.database == "ok"
