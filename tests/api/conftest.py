"""Fixtures of the HTTP API tests.

Every test that takes `service` (or `db_url`) runs twice: on a fresh SQLite file and on a
fresh PostgreSQL schema created for it (and dropped after; the URL's search_path points at
it), so runs never collide, with pytest-xdist or with another checkout. PostgreSQL is
DATABASE_URL_TEST, or the local server at 127.0.0.1:5432 (database `test`, user postgres);
where none answers, those runs are skipped with a message saying so, and the closing
summary says how many PostgreSQL runs passed."""
from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from api.process import stop, wait_until_ready

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN_URL = os.environ.get("DATABASE_URL_TEST", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

_pg_state: dict = {}


def pg_reason() -> str | None:
    """None when PostgreSQL answers, else why not (cached per process)."""
    if "reason" not in _pg_state:
        try:
            import sqlalchemy as sa

            eng = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
            with eng.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            eng.dispose()
            _pg_state["reason"] = None
        except Exception as exc:  # no server, no driver, refused …
            _pg_state["reason"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return _pg_state["reason"]


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def pytest_report_header(config):
    reason = pg_reason()
    if reason is None:
        return f"decision-screen API tests: PostgreSQL reachable at {_redacted(PG_ADMIN_URL)}; postgres runs enabled"
    return f"decision-screen API tests: PostgreSQL NOT reachable ({reason}); postgres runs will be skipped"


_pg_runs = {"passed": 0, "failed": 0, "skipped": 0}


def pytest_runtest_logreport(report):
    if "[postgres" not in report.nodeid:
        return
    if report.when == "call" and report.passed:
        _pg_runs["passed"] += 1
    elif report.failed:
        _pg_runs["failed"] += 1
    elif report.skipped:
        _pg_runs["skipped"] += 1


def _pg_line(who: str = "") -> str:
    reason = pg_reason()
    where = _redacted(PG_ADMIN_URL) if reason is None else f"unreachable ({reason})"
    return (f"PostgreSQL{who}: {_pg_runs['passed']} API test runs passed against a real server, "
            f"{_pg_runs['failed']} did not, {_pg_runs['skipped']} were skipped; server {where}")


def pytest_sessionfinish(session):
    # Under pytest-xdist this conftest lives only in the workers (the controller collects
    # nothing), so each worker says what it ran on stderr, which xdist passes through.
    workerinput = getattr(session.config, "workerinput", None)
    if workerinput is not None and any(_pg_runs.values()):
        sys.__stderr__.write("\n" + _pg_line(f" [{workerinput.get('workerid', '?')}]") + "\n")
        sys.__stderr__.flush()


def pytest_terminal_summary(terminalreporter):
    if any(_pg_runs.values()) and not hasattr(terminalreporter.config, "workerinput"):
        terminalreporter.write_line(_pg_line())


# -- databases ------------------------------------------------------------------------------------

def _admin_engine():
    import sqlalchemy as sa

    return sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})


def make_pg_database() -> str:
    """A URL whose connections see only a new, empty schema (cheaper than a database each)."""
    from sqlalchemy.engine import make_url

    name = f"ds_test_{os.getpid()}_{secrets.token_hex(4)}"
    eng = _admin_engine()
    with eng.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    eng.dispose()
    url = make_url(PG_ADMIN_URL)
    return url.update_query_dict({"options": f"-csearch_path={name}"}).render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    from sqlalchemy.engine import make_url

    name = make_url(url).query["options"].split("=", 1)[1]
    eng = _admin_engine()
    with eng.connect() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    eng.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'var' / 'decision_screen.db'}"
        return
    reason = pg_reason()
    if reason is not None:
        pytest.skip(f"PostgreSQL not reachable at {_redacted(PG_ADMIN_URL)} ({reason}): postgres run skipped")
    url = make_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


# -- the service in process -------------------------------------------------------------------------

@pytest.fixture(scope="session")
def screener():
    """One loaded engine for the whole session: loading the model takes seconds, the apps share it."""
    from model.screener import Screener

    # DECISION_SCREEN_MODEL=rules-only runs the suite without the learned model, as the service does.
    rules_only = os.environ.get("DECISION_SCREEN_MODEL") in ("rules-only", "none")
    return Screener(model=None if rules_only else "default")


@pytest.fixture
def settings(tmp_path, db_url):
    from api.settings import Settings

    return Settings(var_dir=tmp_path / "var", database_url=db_url, job_poll_seconds=0.05,
                    callback_backoff_seconds=0.1, callback_timeout_seconds=2.0, key_cache_seconds=0.0,
                    freeze_gc=False)


@dataclass
class Service:
    client: object
    app: object
    key: str
    db: object
    settings: object

    closed: bool = False

    def close(self) -> None:
        """Shut the app down as a server would (lifespan shutdown), once."""
        if not self.closed:
            self.closed = True
            self.client.__exit__(None, None, None)

    @property
    def headers(self) -> dict:
        return {"X-API-Key": self.key}

    @property
    def ctx(self):
        return self.app.state.ctx

    def new_key(self, *scopes: str) -> str:
        from api.auth import create_key

        key, _ = create_key(self.db, "test", list(scopes))
        return key

    def wait_job(self, job_id: str, timeout: float = 30.0, key: str | None = None) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            r = self.client.get(f"/api/v1/jobs/{job_id}", headers={"X-API-Key": key or self.key})
            assert r.status_code == 200, r.text
            job = r.json()
            if job["status"] in ("done", "failed"):
                return job
            assert time.monotonic() < deadline, f"job still {job['status']} after {timeout}s: {job}"
            time.sleep(0.05)


def start_service(settings, screener):
    import warnings

    from api.app import create_app
    from api.auth import create_key
    from api.db import Database, migrate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from fastapi.testclient import TestClient

    db = Database(settings.db_url)
    migrate(db)
    key, _ = create_key(db, "admin (tests)", ["admin"])
    app = create_app(settings, screener=screener)
    return TestClient(app), app, key, db


@pytest.fixture
def service(settings, screener):
    client, app, key, db = start_service(settings, screener)
    with client:
        yield Service(client, app, key, db, settings)
    db.dispose()


@pytest.fixture
def service_with(tmp_path, db_url, screener):
    """Start a service with some settings changed: service_with(max_job_rows=10)."""
    from contextlib import ExitStack

    from api.settings import Settings

    stack = ExitStack()
    count = [0]

    def make(**changes) -> Service:
        count[0] += 1
        base = {"var_dir": tmp_path / f"var{count[0]}", "database_url": db_url, "job_poll_seconds": 0.05,
                "callback_backoff_seconds": 0.1, "callback_timeout_seconds": 2.0, "key_cache_seconds": 0.0,
                "freeze_gc": False}
        settings = Settings(**{**base, **changes})
        client, app, key, db = start_service(settings, screener)
        stack.callback(db.dispose)
        client.__enter__()
        svc = Service(client, app, key, db, settings)
        stack.callback(svc.close)
        return svc

    with stack:
        yield make


@pytest.fixture
def another_db_url(db_url, tmp_path):
    """A second, empty database of the same kind as db_url."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'another.db'}"
        return
    url = make_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


# -- the real server in a subprocess ----------------------------------------------------------------

@pytest.fixture
def unused_port() -> int:
    return free_port()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`decision-screen serve` as a real process, on a port of its own."""

    def __init__(self, var_dir: Path, db_url: str, extra_env: dict | None = None):
        self.var_dir, self.db_url = var_dir, db_url
        self.port = free_port()
        self.env = {**os.environ, "DECISION_SCREEN_VAR": str(var_dir), "DATABASE_URL": db_url,
                    "DECISION_SCREEN_JOB_POLL_SECONDS": "0.1", **(extra_env or {})}
        self.proc: subprocess.Popen | None = None
        self.log = var_dir / f"server-{self.port}.log"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:

        self.var_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as fh:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "decision_screen", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=ROOT, env=self.env, stdout=fh, stderr=subprocess.STDOUT)
        try:
            wait_until_ready(self.proc, self.base, self.log, timeout)
        except RuntimeError:
            self.kill()
            raise

    def kill(self) -> None:
        """SIGKILL, as a crash would: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        stop(self.proc)


@pytest.fixture
def server_factory(tmp_path, db_url):
    started: list[ServerProcess] = []

    def make(extra_env: dict | None = None) -> ServerProcess:
        srv = ServerProcess(tmp_path / "var", db_url, extra_env)
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.kill()
