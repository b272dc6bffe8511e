"""A record the database refuses never blocks the record writer (issue 14, finding 2): the
other records of its batch and every later one are written, the refused one is set aside in
a file only the service's user can read, and it is counted."""
import json
import stat
import time

import pytest
from sqlalchemy import select

from api import metrics
from api.db import Database, RawJSON, migrate, screenings, utcnow
from api.recorder import REJECTED_FILE, Recorder


def _record(n: int, **changes) -> dict:
    rec = {"id": f"{n:032x}", "created_at": utcnow(), "key_id": "k1", "source": "screen", "job_id": None,
           "row_no": None, "input": RawJSON(json.dumps({"title": f"事项{n}"}, ensure_ascii=False)),
           "answer": RawJSON('{"verdict": "major"}'), "error": None, "verdict": "major",
           "model_version": "m", "rules_version": "r"}
    return {**rec, **changes}


def _refused(kind: str, dialect: str) -> dict:
    if kind == "null_in_required_column":
        return _record(2, source=None)
    if dialect != "postgresql":
        pytest.skip("SQLite stores NUL bytes; only PostgreSQL refuses them")
    if kind == "nul_in_text_column":
        return _record(2, key_id="k\x00")
    return _record(2, input=RawJSON('{"title": "事项", "unit": "单位\\u0000"}'))  # jsonb refuses \u0000


@pytest.fixture
def writer(db_url, tmp_path):
    db = Database(db_url)
    migrate(db)
    rec = Recorder(db, tmp_path / "var", batch=50, interval=0.01)
    yield rec, db  # not started: a test queues records first, so they land in one batch
    rec.stop(5)
    db.dispose()


def _count(counter) -> float:
    return counter._value.get()


@pytest.mark.parametrize("kind", ["null_in_required_column", "nul_in_text_column", "nul_in_json_column"])
def test_a_record_the_database_refuses_is_set_aside_and_the_rest_are_written(writer, kind):
    recorder, db = writer
    bad = _refused(kind, db.dialect)
    aside_before, written_before = _count(metrics.RECORDS_SET_ASIDE), _count(metrics.RECORDS_WRITTEN)
    for r in (_record(1), bad, _record(3)):
        recorder.submit(r)
    recorder.start()
    assert recorder.flush(timeout=20), "the writer is stuck on the refused record"
    later = _record(4)
    recorder.submit(later)
    assert recorder.wait_written(later["id"], timeout=20)
    with db.read() as conn:
        ids = set(conn.execute(select(screenings.c.id)).scalars())
    assert ids == {_record(n)["id"] for n in (1, 3, 4)}
    assert _count(metrics.RECORDS_SET_ASIDE) - aside_before == 1
    assert _count(metrics.RECORDS_WRITTEN) - written_before == 3
    path = recorder.var_dir / REJECTED_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    kept = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [k["record"]["id"] for k in kept] == [bad["id"]] and kept[0]["error"]


def test_a_batch_is_retried_not_set_aside_while_the_database_is_unreachable(writer, monkeypatch):
    recorder, db = writer
    aside_before = _count(metrics.RECORDS_SET_ASIDE)
    real_insert, failures = recorder._insert, {"n": 0}

    def down_for_a_while(items):
        if failures["n"] < 3:
            failures["n"] += 1
            raise ConnectionError("database went away")
        real_insert(items)

    monkeypatch.setattr(recorder, "_insert", down_for_a_while)
    monkeypatch.setattr(recorder, "_reachable", lambda: failures["n"] >= 3)
    recorder.start()
    rec = _record(7)
    recorder.submit(rec)
    deadline = time.monotonic() + 20
    while recorder.is_pending(rec["id"]) and time.monotonic() < deadline:
        time.sleep(0.01)
    with db.read() as conn:
        assert conn.execute(select(screenings.c.id)).scalars().all() == [rec["id"]]
    assert _count(metrics.RECORDS_SET_ASIDE) == aside_before
    assert not (recorder.var_dir / REJECTED_FILE).exists()
