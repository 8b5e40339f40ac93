"""A real Mimic server for the whole test session: `apps/api/src/main.ts` started with Node (tsx, from source),
on a free port, with the built-in demo bot, over a fresh embedded database (PGlite in a temp dir) — or, when
DATABASE_URL is set, over a fresh PostgreSQL database created for this run and dropped after it."""
from __future__ import annotations

import concurrent.futures
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional, Tuple
from urllib.parse import urlsplit, urlunsplit

import pytest

from mimic_sdk import MimicClient

REPO = Path(__file__).resolve().parents[3]
API_DIR = REPO / "apps" / "api"
DB_DIR = REPO / "packages" / "db"
PASSWORD = "correct horse battery staple"
#: The demo bot checks this signature secret (apps/api/src/demo/seed.ts).
DEMO_SECRET = "whsec_demo_bot_signing_secret"
START_TIMEOUT = 90.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05, what: str = "") -> Any:
    """Polls until `condition()` is truthy and returns it; fails the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what or condition}")
        time.sleep(interval)


@dataclass
class Server:
    base_url: str
    #: Where the demo bot listens: POST here, signed with DEMO_SECRET.
    demo_url: str
    logs: Deque[str] = field(default_factory=lambda: deque(maxlen=400))

    def sign_up(self) -> Tuple[MimicClient, str]:
        """Registers a new user and returns a client carrying its access token, and the token."""
        client = MimicClient(base_url=self.base_url)
        registration = client.auth.register(email=f"user-{uuid.uuid4()}@example.com", password=PASSWORD)
        client.set_token(registration.access_token)
        return client, registration.access_token


def _postgres(admin_url: str, statement: str) -> None:
    """Runs one statement on PostgreSQL through the postgres.js driver packages/db already depends on."""
    script = (
        "import postgres from 'postgres';"
        "const sql = postgres(process.env.ADMIN_URL, { max: 1, onnotice() {} });"
        "try { await sql.unsafe(process.env.STATEMENT); } finally { await sql.end({ timeout: 5 }); }"
    )
    subprocess.run(
        ["node", "--input-type=module", "-e", script],
        cwd=DB_DIR,
        env={**os.environ, "ADMIN_URL": admin_url, "STATEMENT": statement},
        check=True,
        timeout=60,
    )


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


PACKAGE_ROOT = Path(__file__).resolve().parents[1]
_installs: "Dict[str, concurrent.futures.Future[Path]]" = {}


def _install_in_venv(root: Path) -> Path:
    """A venv that sees Debian's httpx and websockets, with this package pip-installed (no index, no build
    isolation), from a copy so that the build leaves nothing in the repository. Returns its python."""
    source = root / "sdk-python"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(PACKAGE_ROOT / name, source / name)
    shutil.copytree(PACKAGE_ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=180)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", str(source)],
        check=True,
        timeout=180,
        env=venv_env(),
        cwd=root,
    )
    return python


def venv_env() -> Dict[str, str]:
    return {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INDEX": "1", "PYTHONPATH": ""}


def pip_installed(tmp_path_factory: pytest.TempPathFactory) -> "concurrent.futures.Future[Path]":
    """Starts (once) building the venv of test_snippet.py in the background: it overlaps the server's start."""
    if "venv" not in _installs:
        root = tmp_path_factory.mktemp("pip-install")
        _installs["venv"] = concurrent.futures.ThreadPoolExecutor(1).submit(_install_in_venv, root)
    return _installs["venv"]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Server]:
    if any(item.fspath.basename == "test_snippet.py" for item in request.session.items):
        pip_installed(tmp_path_factory)
    data_dir = tmp_path_factory.mktemp("mimic-data")
    demo_port = free_port()
    env = {
        **os.environ,
        "NODE_ENV": "development",
        "HOST": "127.0.0.1",
        "PORT": "0",  # read back from the log
        "MIMIC_DATA_DIR": str(data_dir),
        "MIMIC_DEMO": "true",
        "MIMIC_DEMO_PORT": str(demo_port),
        "MIMIC_ALLOW_PRIVATE_TARGETS": "true",
        "MIMIC_LOG_LEVEL": "info",
        "MIMIC_LOG_FORMAT": "json",
        "MIMIC_ENGINE_POLL_MS": "50",
        # Generous for registrations from one IP; 100 per user lets one test reach the limit quickly.
        "MIMIC_RATE_LIMIT_USER": "100",
        "MIMIC_RATE_LIMIT_ANON": "10000",
        "MIMIC_RATE_LIMIT_LOGIN": "10000",
        "MIMIC_SHUTDOWN_DRAIN_MS": "500",
    }
    env.pop("MIMIC_TEST_TOKEN", None)
    admin_url = os.environ.get("DATABASE_URL")
    database: Optional[str] = None
    if admin_url:
        # A database of our own: other test files (and other runs) keep theirs.
        database = f"mimic_sdk_python_{secrets.token_hex(6)}"
        _postgres(admin_url, f'create database "{database}"')
        env["DATABASE_URL"] = _with_database(admin_url, database)

    process = subprocess.Popen(
        ["node", "--import", "tsx", "--conditions=@mimic/source", "src/main.ts"],
        cwd=API_DIR,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    logs: Deque[str] = deque(maxlen=400)
    found: Dict[str, str] = {}
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            logs.append(line.rstrip("\n"))
            try:
                message = str(json.loads(line).get("msg", ""))
            except ValueError:
                message = line
            if "base_url" not in found and message.startswith("Server listening at "):
                found["base_url"] = message[len("Server listening at "):].strip()
            if "Demo:" in message and "demo bot at " in message:
                found["demo"] = message
                ready.set()
        ready.set()

    reader = threading.Thread(target=read, name="mimic-server-log", daemon=True)
    reader.start()
    try:
        if not ready.wait(START_TIMEOUT) or "demo" not in found or "base_url" not in found:
            raise RuntimeError("the Mimic server did not start:\n" + "\n".join(logs))
        yield Server(
            base_url=found["base_url"], demo_url=f"http://127.0.0.1:{demo_port}/webhook", logs=logs
        )
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        reader.join(5)
        if admin_url and database:
            _postgres(admin_url, f'drop database if exists "{database}" with (force)')


@pytest.fixture()
def user(server: Server) -> Iterator[MimicClient]:
    """A client signed in as a fresh user (each test gets its own, so their data never mix)."""
    client, _ = server.sign_up()
    with client:
        yield client


def make_persona(client: MimicClient, **overrides: Any) -> Any:
    fields: Dict[str, Any] = {
        "name": "Late parcel",
        "description": "Ordered headphones ten days ago; the parcel has not arrived",
        "prompt": "You ordered wireless headphones ten days ago and the parcel is late. You want a new date.",
        "goal": "get a new delivery date",
        "traits": {"communication_style": "direct", "patience_level": "low"},
        "config": {"message_interval": 0, "max_messages": 12, "reply_timeout": 10},
        "seed": 7,  # the scripted persona then says the same things in every session
    }
    fields.update(overrides)
    return client.personas.create(**fields)


def make_agent(client: MimicClient, server: Server, **overrides: Any) -> Any:
    fields: Dict[str, Any] = {
        "name": "ShopCo demo bot",
        "type": "webhook",
        "config": {"webhook_url": server.demo_url, "secret": DEMO_SECRET},
    }
    fields.update(overrides)
    return client.agents.create(**fields)


# ---------------------------------------------------------------------------------------------------------
# A scripted HTTP server, for what a healthy Mimic never does (503s, dropped connections, slow answers).


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: Dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    #: Close the connection without answering.
    drop: bool = False


@dataclass
class Seen:
    method: str
    path: str
    headers: Dict[str, str]
    body: bytes


class StubServer:
    def __init__(self) -> None:
        self.replies: List[Reply] = []
        self.requests: List[Seen] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def handle_any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                stub.requests.append(
                    Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                reply = stub.replies.pop(0) if stub.replies else Reply(404, {"error": {"code": "RESOURCE_NOT_FOUND", "message": "no reply scripted"}})
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.drop:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                payload = b"" if reply.body is None else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def stub() -> Iterator[StubServer]:
    server = StubServer()
    try:
        yield server
    finally:
        server.close()
