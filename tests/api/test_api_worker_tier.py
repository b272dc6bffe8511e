"""The worker tier: web processes only queue jobs, `decision-screen worker` processes run them.

On PostgreSQL two API processes and two workers share one job in chunks (SELECT … FOR UPDATE
SKIP LOCKED); one worker is killed with SIGKILL in the middle, the other takes its chunk over,
and the job ends with every row screened once and the result in row order. In process, on both
databases: a chunk whose lease ran out is taken over, a live lease is not, and nothing of a
worker that lost its lease is kept."""
from __future__ import annotations

import datetime as dt
import io
import json
import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import httpx
import pytest
from conftest import ROOT, drop_pg_database, free_port, make_pg_database, pg_reason
from sqlalchemy import func, insert, select, update

from api.db import Database, job_chunks, jobs, migrate, screenings, utcnow
from api.process import stop, wait_until_ready

ROWS = 3000
TITLES = ["关于调整城区居民生活用水价格的实施方案", "全市国土空间总体规划(2021-2035年)", "关于召开全市安全生产工作会议的通知",
          "市区中小学校布局调整方案", "启动防汛IV级应急响应的通知", "县城乡供水专项规划(2025-2035年)"]


def _csv(n: int) -> bytes:
    lines = ["序号,决策事项名称,承办单位"] + [f"{i},{TITLES[i % len(TITLES)]}(第{i}项),市政府办公室"
                                             for i in range(1, n + 1)]
    return ("\n".join(lines) + "\n").encode("utf-8")


@pytest.fixture
def pg_url():
    reason = pg_reason()
    if reason is not None:
        pytest.skip(f"PostgreSQL not reachable ({reason})")
    url = make_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


def _spawn(args: list[str], env: dict, log) -> subprocess.Popen:
    with log.open("ab") as fh:
        return subprocess.Popen([sys.executable, "-m", "decision_screen", *args], cwd=ROOT, env=env, stdout=fh,
                                stderr=subprocess.STDOUT)


@pytest.mark.postgres
def test_two_apis_two_workers_one_killed_every_row_once_and_in_order(pg_url, tmp_path):
    from api.auth import create_key

    db = Database(pg_url)
    migrate(db)
    key, _ = create_key(db, "tier test", ["admin"])
    env = {**os.environ, "DATABASE_URL": pg_url, "DECISION_SCREEN_VAR": str(tmp_path / "var"),
           "DECISION_SCREEN_MODEL_BACKEND": "rules-only", "DECISION_SCREEN_JOB_CHUNK_ROWS": "50",
           "DECISION_SCREEN_JOB_POLL_SECONDS": "0.1", "DECISION_SCREEN_JOB_LEASE_SECONDS": "20"}
    env.pop("DECISION_SCREEN_MODEL", None)
    procs: list[subprocess.Popen] = []
    try:
        apis = []
        for i in range(2):
            port = free_port()
            log = tmp_path / f"api{i}.log"
            p = _spawn(["serve", "--host", "127.0.0.1", "--port", str(port), "--no-job-worker"], env, log)
            procs.append(p)
            apis.append((p, f"http://127.0.0.1:{port}", log))
        for p, base, log in apis:
            wait_until_ready(p, base, log, timeout=90)
        workers = []
        for i in range(2):
            log = tmp_path / f"worker{i}.log"
            p = _spawn(["worker"], env, log)
            procs.append(p)
            workers.append((p, log))
        for p, log in workers:  # both ready before the job comes, so both take part
            deadline = time.monotonic() + 90
            while "worker ready" not in log.read_text(errors="replace"):
                assert p.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")[-2000:]
                time.sleep(0.1)

        h = {"X-API-Key": key}
        (_, base_a, _), (_, base_b, _) = apis
        job = httpx.post(f"{base_a}/api/v1/jobs", headers=h, timeout=60,
                         files={"file": ("big.csv", io.BytesIO(_csv(ROWS)), "text/csv")}).json()
        job_id = job["id"]
        with httpx.Client(base_url=base_b, headers=h, timeout=30) as c:  # read through the other API
            deadline = time.monotonic() + 90
            while (status := c.get(f"/api/v1/jobs/{job_id}").json())["done_rows"] < 600:
                assert time.monotonic() < deadline, status
                time.sleep(0.02)
            victim = workers[0][0]
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait(10)
            assert status["done_rows"] < ROWS, "the job finished before the kill; make it bigger"
            deadline = time.monotonic() + 120
            while (status := c.get(f"/api/v1/jobs/{job_id}").json())["status"] != "done":
                assert status["status"] == "running" and time.monotonic() < deadline, status
                time.sleep(0.1)
            lines = c.get(f"/api/v1/jobs/{job_id}/result?format=jsonl").text.splitlines()

        assert status["done_rows"] == ROWS and sum(status["counts"].values()) == ROWS
        assert [json.loads(line)["row"] for line in lines] == list(range(1, ROWS + 1))  # in order, each once
        with db.read() as conn:
            n, distinct = conn.execute(select(func.count(), func.count(func.distinct(screenings.c.row_no)))
                                       .where(screenings.c.job_id == job_id)).one()
            owners = conn.execute(select(job_chunks.c.lease_owner).where(job_chunks.c.job_id == job_id)).scalars()
            pids = {o.split(":")[1] for o in owners}
        assert n == distinct == ROWS
        # Both workers screened chunks of the one job; the survivor took the victim's chunk over.
        assert pids == {str(victim.pid), str(workers[1][0].pid)}
        survivor_log = workers[1][1].read_text(errors="replace")
        assert f"previous owner {os.uname().nodename}:{victim.pid}:" in survivor_log
    finally:
        for p in procs:
            stop(p)
        db.dispose()


# -- leases, in process ----------------------------------------------------------------------------------

def _job(db: Database, rows: int) -> str:
    from api.jobs import create_job, new_id

    job_id = new_id()
    create_job(db, job_id=job_id, key_id=None, filename="t.csv", profile=None,
               rows=[{"title": f"{TITLES[i % len(TITLES)]}(第{i}项)"} for i in range(1, rows + 1)], row_errors={},
               callback_url=None, result_url=None, options={})
    return job_id


def _worker(db_url: str, screener, tmp_path, **changes):
    from api.jobs import JobWorker
    from api.settings import Settings

    settings = Settings(var_dir=tmp_path / "var", database_url=db_url, job_chunk_rows=10, freeze_gc=False, **changes)
    db = Database(db_url)
    migrate(db)
    return JobWorker(SimpleNamespace(db=db, settings=settings, screener=screener, callbacks=None)), db


def test_a_chunk_whose_lease_ran_out_is_taken_over_and_a_live_one_is_not(db_url, screener, tmp_path):
    w, db = _worker(db_url, screener, tmp_path)
    try:
        job_id = _job(db, 30)
        assert w.start_job() == job_id
        now = utcnow()
        with db.write() as conn:  # chunks 1 and 11 held by workers on another machine
            conn.execute(update(job_chunks).where(job_chunks.c.job_id == job_id, job_chunks.c.chunk_no == 1)
                         .values(state="running", lease_owner="elsewhere:1:dead", lease_until=now - dt.timedelta(seconds=1)))
            conn.execute(update(job_chunks).where(job_chunks.c.job_id == job_id, job_chunks.c.chunk_no == 11)
                         .values(state="running", lease_owner="elsewhere:2:live", lease_until=now + dt.timedelta(hours=1)))
        first = w.claim()
        assert first["chunk_no"] == 1 and first["lease_owner"] == "elsewhere:1:dead"  # expired: taken over
        w._commit(first, *w._prepare(first))
        nxt = w.claim()
        assert nxt is not None and nxt["chunk_no"] == 21  # 11 is someone's, alive: left alone
        w._commit(nxt, *w._prepare(nxt))
        assert w.claim() is None
        with db.read() as conn:
            chunks = {c["chunk_no"]: c for c in conn.execute(select(job_chunks).where(job_chunks.c.job_id == job_id))
                      .mappings()}
            job = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().one()
        assert chunks[1]["attempts"] == 1 and chunks[1]["lease_owner"] == w.owner
        assert chunks[11]["state"] == "running" and chunks[11]["lease_owner"] == "elsewhere:2:live"
        # Rows 11-20 are not screened yet: the cursor stops before them and the job runs on.
        assert job["status"] == "running" and job["done_rows"] == 20 and job["next_row"] == 11
    finally:
        db.dispose()


def test_a_worker_that_lost_its_lease_keeps_nothing(db_url, screener, tmp_path):
    w, db = _worker(db_url, screener, tmp_path)
    try:
        job_id = _job(db, 10)
        w.start_job()
        chunk = w.claim()
        with db.write() as conn:  # its lease ran out and another worker took the chunk meanwhile
            conn.execute(update(job_chunks).where(job_chunks.c.job_id == job_id)
                         .values(lease_owner="elsewhere:3:new", lease_until=utcnow() + dt.timedelta(minutes=5)))
        from api.jobs.worker import _LostLease

        prepared = w._prepare(chunk)
        with pytest.raises(_LostLease):
            w._commit(chunk, *prepared)
        with db.read() as conn:
            assert conn.execute(select(func.count()).select_from(screenings)
                                .where(screenings.c.job_id == job_id)).scalar() == 0
            assert conn.execute(select(jobs.c.done_rows).where(jobs.c.id == job_id)).scalar() == 0
    finally:
        db.dispose()


def test_a_job_running_under_the_old_worker_is_split_from_its_cursor(db_url, screener, tmp_path):
    w, db = _worker(db_url, screener, tmp_path)
    try:
        job_id = _job(db, 25)
        with db.write() as conn:  # what a worker of the previous release left: running, cursor at 13
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(status="running", next_row=13,
                                                                        lease_owner="old:1:x"))
            conn.execute(insert(screenings), [
                {"id": f"r{n:031d}", "created_at": utcnow(), "key_id": None, "source": "job", "job_id": job_id,
                 "row_no": n, "input": {}, "answer": None, "error": None, "verdict": None, "model_version": "m",
                 "rules_version": "r"} for n in range(1, 13)])
        assert w.start_job() == job_id
        with db.read() as conn:
            firsts = conn.execute(select(job_chunks.c.first_row).where(job_chunks.c.job_id == job_id)
                                  .order_by(job_chunks.c.first_row)).scalars().all()
        assert firsts == [13, 23]
    finally:
        db.dispose()


def test_a_worker_screens_the_next_chunk_while_the_previous_one_commits(db_url, screener, tmp_path):
    # The first chunk's commit is held until the second chunk's screening has started: a worker
    # that waited for each commit before screening on would never get there.
    import threading

    w, db = _worker(db_url, screener, tmp_path)
    second_started = threading.Event()
    order: list[int] = []
    prepare, commit = w._prepare, w._commit

    def watched_prepare(chunk):
        if chunk["chunk_no"] != 1:
            second_started.set()
        return prepare(chunk)

    def held_commit(chunk, *args, **kw):
        if chunk["chunk_no"] == 1:
            assert second_started.wait(30), "the next chunk was not screened during the commit"
        order.append(chunk["chunk_no"])
        return commit(chunk, *args, **kw)

    w._prepare, w._commit = watched_prepare, held_commit
    try:
        job_id = _job(db, 30)
        assert w.start_job() == job_id
        assert w.step() is True
        assert order == [1, 11, 21]  # committed in the order claimed, each once
        with db.read() as conn:
            rows = conn.execute(select(screenings.c.row_no).where(screenings.c.job_id == job_id)
                                .order_by(screenings.c.row_no)).scalars().all()
            job = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().one()
        assert rows == list(range(1, 31)) and job["status"] == "done" and job["done_rows"] == 30
    finally:
        w.stop()
        db.dispose()
