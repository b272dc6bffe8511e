"""Persistence: SQLAlchemy 2 tables, the engine (SQLite by default, PostgreSQL by URL) and
Alembic migrations.

SQLite runs in WAL mode with synchronous=FULL, so a transaction that has committed
survives a crash of the process (and of the machine); write transactions start with
BEGIN IMMEDIATE, so two writers queue on the busy timeout instead of failing with
"database is locked" when a reader tries to become a writer."""
from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    create_engine,
    event,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine, make_url

log = logging.getLogger("decision_screen.db")
API_DIR = Path(__file__).resolve().parent


class RawJSON(str):
    """JSON text serialised already (the answer is serialised once for the HTTP response):
    written to JSON columns as it is instead of being parsed and serialised again."""


def _json_serializer(value) -> str:
    if isinstance(value, RawJSON):
        return value
    return json.dumps(value, ensure_ascii=False)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


JSONType = JSON().with_variant(postgresql.JSONB(), "postgresql")
metadata = MetaData()

api_keys = Table(
    "api_keys", metadata,
    Column("id", String(16), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("salt", String(64), nullable=False),
    Column("key_hash", String(64), nullable=False),
    Column("scopes", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
    # Raised when the key signs out of the pages or is revoked: page sessions signed in with an
    # older generation end at once (api/web/session.py).
    Column("session_generation", Integer, nullable=False, default=0, server_default="0"),
)

jobs = Table(
    "jobs", metadata,
    Column("id", String(32), primary_key=True),
    Column("key_id", String(16), nullable=True),
    Column("status", String(16), nullable=False),  # queued | running | done | failed
    Column("filename", String(255), nullable=False),
    Column("profile", String(64), nullable=True),
    Column("options", JSONType, nullable=False),
    Column("total_rows", Integer, nullable=False),
    Column("next_row", Integer, nullable=False),  # first row not yet screened (1-based)
    Column("done_rows", Integer, nullable=False),
    Column("n_major", Integer, nullable=False),
    Column("n_not_major", Integer, nullable=False),
    Column("n_review", Integer, nullable=False),
    Column("n_error", Integer, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("started_at", UTCDateTime(), nullable=True),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("lease_owner", String(200), nullable=True),
    Column("lease_until", UTCDateTime(), nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("error", JSONType, nullable=True),
    Column("result_url", String(2000), nullable=True),
    Column("callback_url", String(2000), nullable=True),
    Column("callback_state", String(16), nullable=True),  # pending | sent | failed
    Column("callback_attempts", Integer, nullable=False),
    Column("callback_next_at", UTCDateTime(), nullable=True),
    Column("callback_last_error", Text, nullable=True),
    Index("ix_jobs_status", "status"),
    Index("ix_jobs_callback", "callback_state", "callback_next_at"),
)

job_rows = Table(
    "job_rows", metadata,
    Column("job_id", String(32), ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("row_no", Integer, primary_key=True),
    Column("data", JSONType, nullable=False),
    Column("error", JSONType, nullable=True),  # a row found bad at upload (only with skip_bad_rows)
)

# A running job's rows in chunks, each claimed by one worker at a time under a lease
# (api/jobs/worker.py): workers on any number of machines share one job, a dead worker's chunk
# is taken over when its lease runs out, and a chunk's records commit with its state.
job_chunks = Table(
    "job_chunks", metadata,
    Column("job_id", String(32), ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("chunk_no", Integer, primary_key=True),
    Column("first_row", Integer, nullable=False),
    Column("last_row", Integer, nullable=False),
    Column("state", String(16), nullable=False),  # pending | running | done
    Column("lease_owner", String(200), nullable=True),
    Column("lease_until", UTCDateTime(), nullable=True),
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
    Index("ix_job_chunks_state", "state", "lease_until"),
)

screenings = Table(
    "screenings", metadata,
    Column("id", String(32), primary_key=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("key_id", String(16), nullable=True),
    Column("source", String(16), nullable=False),  # screen | batch | job
    Column("job_id", String(32), ForeignKey("jobs.id", ondelete="CASCADE"), nullable=True),
    Column("row_no", Integer, nullable=True),
    Column("input", JSONType, nullable=False),
    Column("answer", JSONType, nullable=True),
    Column("error", JSONType, nullable=True),
    Column("verdict", String(16), nullable=True),
    Column("model_version", String(100), nullable=False),
    Column("rules_version", String(100), nullable=False),
    UniqueConstraint("job_id", "row_no", name="uq_screenings_job_row"),
    Index("ix_screenings_created_at", "created_at"),
)

feedback = Table(
    "feedback", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("screening_id", String(32), ForeignKey("screenings.id"), nullable=False),
    Column("key_id", String(16), nullable=True),
    Column("agree", Boolean, nullable=False),
    Column("label", String(16), nullable=False),
    Column("verdict", String(16), nullable=True),  # what the service had answered
    Column("category", String(32), nullable=True),
    Column("exclusion", String(32), nullable=True),
    Column("comment", Text, nullable=True),
    Column("reviewer", String(200), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_feedback_screening", "screening_id"),
)

# -- the catalogue year (issue 12): decisions, versions, the change log, the tracking board -----

# The compiler's decision on one row: adopt | reject | pending, with why, who and when. A row
# adopted and later withdrawn keeps "adopt" and gets withdrawn_version; a row added mid-year
# carries the version that added it.
row_decisions = Table(
    "row_decisions", metadata,
    Column("job_id", String(32), ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("row_no", Integer, primary_key=True),
    Column("decision", String(16), nullable=False),
    Column("reason", Text, nullable=True),
    Column("key_id", String(16), nullable=True),
    Column("reviewer", String(200), nullable=True),
    Column("decided_at", UTCDateTime(), nullable=False),
    Column("added_version", Integer, nullable=True),
    Column("withdrawn_version", Integer, nullable=True),
)

catalogue_versions = Table(
    "catalogue_versions", metadata,
    Column("job_id", String(32), ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("reason", Text, nullable=False),
    Column("key_id", String(16), nullable=True),
    Column("reviewer", String(200), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

# Every decision, fix and adjustment, oldest first: the catalogue's change log.
catalogue_changes = Table(
    "catalogue_changes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(32), ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=True),  # the adjustment's version; None before publication
    Column("action", String(16), nullable=False),  # adopt|reject|pending|fix|add|withdraw|reschedule
    Column("row_no", Integer, nullable=True),
    Column("reason", Text, nullable=True),
    Column("details", JSONType, nullable=True),
    Column("key_id", String(16), nullable=True),
    Column("reviewer", String(200), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_catalogue_changes_job", "job_id", "id"),
)

procedure_ticks = Table(
    "procedure_ticks", metadata,
    Column("job_id", String(32), ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("row_no", Integer, primary_key=True),
    Column("procedure", String(32), primary_key=True),
    Column("done", Boolean, nullable=False),
    Column("note", Text, nullable=True),
    Column("key_id", String(16), nullable=True),
    Column("reviewer", String(200), nullable=True),
    Column("ticked_at", UTCDateTime(), nullable=False),
)


# Rows per INSERT statement on SQLite (below): every distinct row count is a distinct statement
# that sqlite3 keeps prepared per connection, so the counts are kept few (a full page, or the
# rest of a batch), and each statement small.
SQLITE_ROWS_PER_INSERT = 50


class Database:
    """One engine per process, plus a view of it whose transactions take the write lock."""

    def __init__(self, url: str):
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(
                url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=10, max_overflow=20,
                json_serializer=_json_serializer, insertmanyvalues_page_size=SQLITE_ROWS_PER_INSERT)
            _sqlite_setup(self.engine)
        else:
            self.engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20,
                                        json_serializer=_json_serializer)
        if self.dialect == "sqlite":
            # Many rows in one INSERT … VALUES (…), (…) statement instead of one statement a row:
            # sqlite3 gives the GIL up around every statement, and a writer thread in a busy
            # process then waits a whole switch interval (5 ms) to get it back, which capped the
            # screening-record writer near 300 rows/s while the event loop screened. SQLAlchemy's
            # own insertmanyvalues batching (its dialects' way for INSERT … RETURNING), here for
            # plain inserts too. Not for PostgreSQL: psycopg's executemany pipelines the rows
            # already, and one large statement measured slower there (jobs, uploads).
            self.engine.dialect.use_insertmanyvalues_wo_returning = True
        self.write_engine = self.engine.execution_options(ds_write=True)

    @contextmanager
    def write(self):
        with self.write_engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self):
        with self.engine.connect() as conn:
            yield conn

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # We issue BEGIN ourselves (below); pysqlite's own implicit transactions would defer
        # the write lock and fail instead of waiting when two writers meet.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("ds_write") else "BEGIN")


def alembic_config(url: str):
    from alembic.config import Config

    # No .ini needed at run time (an installed wheel carries only the migrations package);
    # api/alembic.ini is for running Alembic by hand.
    cfg = Config()
    cfg.set_main_option("script_location", str(API_DIR / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


_MIGRATE_LOCK = threading.Lock()


def head_revision() -> str | None:
    """The newest revision of api/migrations/versions, read from the files' `revision` and
    `down_revision` lines without importing Alembic; None where that is not one clear head
    (Alembic then decides)."""
    import re

    revisions: set[str] = set()
    parents: set[str] = set()
    rev_line = re.compile(r"""^revision\s*(?::\s*str\s*)?=\s*["']([^"']+)["']\s*$""", re.MULTILINE)
    down_line = re.compile(r"""^down_revision\s*(?::[^=\n]*)?=\s*(?:None|["']([^"']+)["'])\s*$""", re.MULTILINE)
    for path in (API_DIR / "migrations" / "versions").glob("*.py"):
        if path.name.startswith(("__", ".#")):  # as Alembic skips them
            continue
        source = path.read_text(encoding="utf-8")
        rev, down = rev_line.findall(source), down_line.findall(source)
        if len(rev) != 1 or len(down) != 1:
            return None
        revisions.add(rev[0])
        if down[0]:
            parents.add(down[0])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def at_head(db: Database) -> bool:
    """Whether the database's alembic_version already names the newest revision (one query,
    no Alembic import: most starts find the schema current)."""
    head = head_revision()
    if head is None:
        return False
    try:
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    except Exception:  # noqa: BLE001  (no table yet, another database: Alembic decides)
        return False
    return [r[0] for r in rows] == [head]


def migrate(db: Database) -> None:
    """Bring the schema to the newest revision. Safe when several processes start at once:
    SQLite serialises them on BEGIN IMMEDIATE, PostgreSQL on an advisory lock (env.py).
    Within one process a lock is needed too: Alembic's migration context is a global.
    A schema already at the newest revision costs one query (Alembic is not imported)."""
    if at_head(db):
        return
    from alembic import command

    cfg = alembic_config(db.url)
    with _MIGRATE_LOCK, db.write_engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        conn.commit()


def current_revision(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
