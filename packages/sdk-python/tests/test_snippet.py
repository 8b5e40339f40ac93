"""The API reference's snippet, verbatim but for real ids and token, run by a Python that has the package
installed the way the README says (a venv with Debian's httpx and websockets, pip without an index)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import Server, make_agent, make_persona, pip_installed, venv_env
from mimic_sdk import MimicClient

SNIPPET = '''
from mimic_sdk import MimicClient

client = MimicClient(
    base_url="http://localhost:4000",
    token="your-jwt-token"
)

# Create a session
session = client.sessions.create(
    agent_id="agent-uuid",
    persona_id="persona-uuid",
    config={
        "duration": 300,
        "max_messages": 50
    }
)
'''


def test_the_reference_snippet_runs_against_a_pip_installed_package(
    server: Server, user: MimicClient, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    python = pip_installed(tmp_path_factory).result(timeout=300)
    shown = subprocess.run(
        [str(python), "-c", "import mimic_sdk, pathlib; print(pathlib.Path(mimic_sdk.__file__).parent)"],
        check=True, capture_output=True, text=True, env=venv_env(), cwd=tmp_path,
    ).stdout.strip()
    installed = Path(shown)
    assert installed.is_relative_to(python.parent.parent), "mimic_sdk must come from the venv, not the source tree"
    assert (installed / "py.typed").exists() and (installed / "generated" / "resources.py").exists()

    agent = make_agent(user, server)
    persona = make_persona(user, config={"message_interval": 3600})
    token = user._transport.token()
    assert token
    script = (
        SNIPPET.replace("http://localhost:4000", server.base_url)
        .replace("your-jwt-token", token)
        .replace("agent-uuid", agent.id)
        .replace("persona-uuid", persona.id)
        + "print(session.id)\n"
    )
    run = subprocess.run(
        [str(python), "-c", script], capture_output=True, text=True, env=venv_env(), cwd=tmp_path, timeout=60
    )
    assert run.returncode == 0, run.stderr
    session = user.sessions.get(run.stdout.strip())
    assert (session.agent_id, session.persona_id) == (agent.id, persona.id)
    assert (session.config.duration, session.config.max_messages) == (300, 50)
    user.sessions.stop(session.id)
