"""The database layer: Alembic migrations match the tables the code uses, SQLite runs in
WAL mode, and the record writer never drops a record."""
import time

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select

from api.db import Database, metadata, migrate, screenings, utcnow
from api.jobs import new_id
from api.recorder import Recorder


@pytest.fixture
def db(db_url):
    d = Database(db_url)
    migrate(d)
    yield d
    d.dispose()


def test_migrations_create_exactly_the_tables_the_code_uses(db):
    with db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diffs == []
    assert set(inspect(db.engine).get_table_names()) == {"alembic_version", *metadata.tables}


def test_migrating_twice_and_from_three_processes_at_once_is_safe(db, another_db_url, tmp_path):
    # What happens when several uvicorn workers start together on a new database.
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DATABASE_URL": another_db_url, "DECISION_SCREEN_VAR": str(tmp_path)}
    procs = [subprocess.Popen([sys.executable, "-m", "decision_screen", "migrate"], cwd=root, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(3)]
    outputs = [p.communicate(timeout=120)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    from alembic.script import ScriptDirectory

    from api.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config(another_db_url)).get_current_head()
    assert all(f"revision {head}" in out for out in outputs), outputs


def test_large_json_columns_are_lz4_compressed_on_postgresql(db):
    # lz4 halves PostgreSQL's cost of storing a job's ~6 KB answers (migration 0005).
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no per-column compression")
    from sqlalchemy import text

    with db.engine.connect() as conn:
        if not conn.execute(text("SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                                 "WHERE name = 'default_toast_compression'")).scalar():
            pytest.skip("this PostgreSQL server was built without lz4")
        methods = dict(conn.execute(text(
            "SELECT attrelid::regclass::text || '.' || attname, attcompression FROM pg_attribute "
            "WHERE attrelid IN ('screenings'::regclass, 'job_rows'::regclass) AND attnum > 0")).all())
    assert methods["screenings.answer"] == methods["screenings.input"] == methods["job_rows.data"] == "l"
    assert methods["screenings.verdict"] == ""  # small columns keep the server's default


def test_downgrade_to_base_and_back(db):
    from alembic import command

    from api.db import alembic_config

    cfg = alembic_config(db.url)
    with db.write_engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
        conn.commit()
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    migrate(db)
    assert "screenings" in inspect(db.engine).get_table_names()


def test_sqlite_file_is_in_wal_mode_with_full_sync(tmp_path):
    d = Database(f"sqlite:///{tmp_path / 'new' / 'x.db'}")  # the folder is created on first use
    migrate(d)
    with d.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    d.dispose()


def _record(i: int) -> dict:
    return {"id": new_id(), "created_at": utcnow(), "key_id": None, "source": "screen", "job_id": None,
            "row_no": None, "input": {"title": f"事项{i}"}, "answer": {"verdict": "major"}, "error": None,
            "verdict": "major", "model_version": "m", "rules_version": "r"}


def _count(db) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(screenings)).scalar_one()


def test_a_full_queue_waits_instead_of_dropping(db, tmp_path):
    rec = Recorder(db, tmp_path, maxsize=3, batch=2, interval=0.01)
    rec.start()
    accepted_without_waiting = sum(rec.try_submit(_record(i)) for i in range(50))
    for i in range(50, 300):
        rec.submit(_record(i))
    rec.stop()
    assert accepted_without_waiting < 50  # the queue did fill up …
    assert _count(db) == 300 - (50 - accepted_without_waiting)  # … and everything accepted was written


def test_a_failing_database_is_retried_until_the_records_land(db, tmp_path, monkeypatch):
    rec = Recorder(db, tmp_path, interval=0.01)
    real = rec._insert
    failures = {"left": 3}

    def flaky(items):
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("database went away")
        real(items)

    monkeypatch.setattr(rec, "_insert", flaky)
    rec.start()
    records = [_record(i) for i in range(20)]
    for r in records:
        rec.submit(r)
    assert rec.flush(10)
    rec.stop()
    assert failures["left"] == 0 and _count(db) == 20
    assert not any(rec.is_pending(r["id"]) for r in records)


def test_records_still_queued_are_written_on_stop(db, tmp_path):
    rec = Recorder(db, tmp_path, batch=1000, interval=5.0)  # would wait 5 s before writing on its own
    rec.start()
    for i in range(100):
        rec.submit(_record(i))
    rec.stop()
    assert _count(db) == 100


def test_records_arriving_within_the_flush_interval_share_one_commit(db, tmp_path, monkeypatch):
    # A lone client's records used to be committed one by one as they came: a transaction and an
    # fsync per request. They now wait up to `interval` for company.
    rec = Recorder(db, tmp_path, batch=100, interval=2.0)
    real, batches = rec._insert, []
    monkeypatch.setattr(rec, "_insert", lambda items: (batches.append(len(items)), real(items)))
    rec.start()
    records = [_record(i) for i in range(5)]
    for r in records:
        rec.submit(r)
        time.sleep(0.02)  # a few requests a second apart, well inside the interval
    assert rec.wait_written(records[-1]["id"], timeout=20)
    rec.stop()
    assert batches == [5] and _count(db) == 5


def test_a_batch_of_records_goes_to_sqlite_in_a_few_many_row_insert_statements(db):
    # One statement a row made a writer thread wait for the GIL once a row (the record writer
    # then fell minutes behind a busy event loop); many rows per statement is what keeps it up.
    # (PostgreSQL keeps psycopg's pipelined executemany, which is faster there.)
    if db.dialect != "sqlite":
        pytest.skip("psycopg pipelines an executemany; the many-row statements are for SQLite")
    from sqlalchemy import event, insert

    inserts = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO SCREENINGS"):
            inserts.append(statement.count("?") + statement.count("%("))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with db.write() as conn:
            conn.execute(insert(screenings), [_record(i) for i in range(300)])
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert _count(db) == 300
    # statements of many rows each (SQLAlchemy still calls them an executemany): pages of a fixed
    # size, so that the prepared statements sqlite3 keeps per connection stay few and small
    from api.db import SQLITE_ROWS_PER_INSERT as page

    assert inserts == [page * len(screenings.columns)] * (300 // page) + (
        [300 % page * len(screenings.columns)] if 300 % page else [])
