"""The job worker: claims chunks of running jobs and screens their rows.

A job is split into chunks of `job_chunk_rows` rows (table job_chunks) by the first worker that
sees it queued. Each chunk is claimed by one worker at a time under a lease: on PostgreSQL with
`SELECT … FOR UPDATE SKIP LOCKED`, so any number of worker processes on any number of
machines share one job without waiting on each other; on SQLite the claim runs in a write
transaction (BEGIN IMMEDIATE), which serialises claims the same way.

Durability and exactly-once: a chunk's screening records, its state (done) and the job's
counters are committed in one transaction, together with a check that this worker still holds
the chunk's lease; a unique (job_id, row_no) constraint backs this up. A worker that dies
(kill -9, power loss) commits nothing for the chunk it held; the chunk is taken over by another
worker — at once when the owner was a process on this host that no longer exists, else when its
lease runs out — and screened again from its first row. Records are read back by row number,
so the result is in row order whatever order the chunks finished in.

The job's completions are serialised on its row (locked first in the commit), so the worker
that commits the last chunk sees every other one done and marks the job done.

A worker screens the next chunk while the previous one is being committed: the commit runs on
a writer thread that mostly waits on the database (the GIL is free meanwhile), so with
PostgreSQL on another core a chunk's insert costs no screening time. The next chunk is claimed
before the previous commit is handed over, so a worker between two chunks still always holds
one; at most one commit is in flight, and chunks are committed in the order they were claimed."""
from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy import and_, delete, exists, func, insert, or_, select, update

from model.errors import ScreenInputError

from .. import metrics
from ..db import Database, RawJSON, job_chunks, job_rows, jobs, screenings, utcnow
from ..services.ids import new_id

log = logging.getLogger("decision_screen.jobs")
# A chunk that fails this many times (an error while processing it, or its worker dying while
# it ran) fails its job instead of being tried for ever; a graceful stop does not count.
MAX_ATTEMPTS = 8
HOST = socket.gethostname()
# How often a worker looks for chunks held by dead processes of its own host.
DEAD_OWNER_SCAN_SECONDS = 1.0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed process its parent has not reaped yet is a zombie: dead for our purpose
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except OSError:
        return True


class JobWorker:
    """One worker thread. A process runs one (the GIL makes more pointless); scale out with
    more processes: `decision-screen worker` on as many machines as the database allows."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.db: Database = ctx.db
        self.settings = ctx.settings
        self.owner = f"{HOST}:{os.getpid()}:{secrets.token_hex(4)}"
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ds-job-worker", daemon=True)
        self.current: str | None = None
        self._jobs: dict[str, dict] = {}  # job id → the fields screening needs (never change)
        self._next_scan = 0.0
        self._writer: ThreadPoolExecutor | None = None  # commits chunks while the next is screened

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self.wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._writer is not None:
            self._writer.shutdown(wait=True)

    def _lease(self, now: dt.datetime) -> dt.datetime:
        return now + dt.timedelta(seconds=self.settings.job_lease_seconds)

    # -- dead owners on this host -----------------------------------------------------------------
    def _dead_local(self, owner: str | None) -> bool:
        parts = (owner or "").rsplit(":", 2)
        if len(parts) != 3 or parts[0] != HOST:
            return False
        _, pid, nonce = parts
        if pid == str(os.getpid()):
            return nonce != self.owner.rsplit(":", 1)[1]  # an earlier life of this pid
        return pid.isdigit() and not _pid_alive(int(pid))

    def expire_dead_owners(self) -> int:
        """End at once the leases of chunks held by processes of this host that no longer exist
        (a killed worker), so they need not wait for the lease to run out."""
        now = utcnow()
        with self.db.read() as conn:
            held = conn.execute(select(job_chunks.c.job_id, job_chunks.c.chunk_no, job_chunks.c.lease_owner)
                                .where(job_chunks.c.state == "running", job_chunks.c.lease_until > now,
                                       job_chunks.c.lease_owner.like(f"{HOST}:%"))).all()
        n = 0
        for job_id, chunk_no, owner in held:
            if self._dead_local(owner):
                with self.db.write() as conn:
                    n += conn.execute(update(job_chunks).where(
                        job_chunks.c.job_id == job_id, job_chunks.c.chunk_no == chunk_no,
                        job_chunks.c.state == "running", job_chunks.c.lease_owner == owner)
                        .values(lease_until=now)).rowcount
        return n

    # -- starting a job ---------------------------------------------------------------------------
    def start_job(self) -> str | None:
        """Split the oldest queued job (or a running one that has no chunks: one a worker of an
        earlier release was running) into chunks and mark it running. Returns its id."""
        now = utcnow()
        no_chunks = ~exists().where(job_chunks.c.job_id == jobs.c.id)
        with self.db.write() as conn:
            job = conn.execute(
                select(jobs.c.id, jobs.c.status, jobs.c.next_row, jobs.c.total_rows)
                .where(or_(jobs.c.status == "queued", and_(jobs.c.status == "running", no_chunks)))
                .order_by(jobs.c.created_at).limit(1).with_for_update(skip_locked=True)).mappings().first()
            if job is None:
                return None
            if conn.execute(select(func.count()).select_from(job_chunks)
                            .where(job_chunks.c.job_id == job["id"])).scalar():
                # Queued again with chunks left from before (only by hand): start them afresh.
                conn.execute(delete(job_chunks).where(job_chunks.c.job_id == job["id"],
                                                      job_chunks.c.state != "done"))
            size = self.settings.job_chunk_rows
            first, total = job["next_row"], job["total_rows"]
            # A chunk is numbered by its first row: unique within the job whatever the chunk size.
            chunks = [{"job_id": job["id"], "chunk_no": start, "first_row": start,
                       "last_row": min(start + size - 1, total), "state": "pending", "lease_owner": None,
                       "lease_until": None, "attempts": 0}
                      for start in range(first, total + 1, size)]
            if chunks:
                conn.execute(insert(job_chunks), chunks)
            values = {"status": "running", "lease_owner": None, "lease_until": None,
                      "started_at": func.coalesce(jobs.c.started_at, now)}
            if not chunks:  # nothing (left) to screen
                values.update(status="done", finished_at=now, **self._callback_due(job["id"], conn, now))
            conn.execute(update(jobs).where(jobs.c.id == job["id"]).values(**values))
        if not chunks:
            self._finished(job["id"])
        elif job["status"] == "running":
            log.warning("resuming job %s from row %s (split into chunks)", job["id"], first)
        return job["id"]

    # -- claiming a chunk -------------------------------------------------------------------------
    def claim(self) -> dict | None:
        """A chunk of a running job that is pending, or whose lease ran out, now leased to this
        worker; None when there is none."""
        while True:
            now = utcnow()
            with self.db.write() as conn:
                c, failed = self._claim_in(conn, now)
            if not failed:
                return c

    def _claim_in(self, conn, now: dt.datetime, job_id: str | None = None) -> tuple[dict | None, bool]:
        """Claim within the caller's write transaction (of `job_id` only, when given): (the chunk or
        None, whether a job was failed instead for too many attempts)."""
        cond = [jobs.c.status == "running",
                or_(job_chunks.c.state == "pending",
                    and_(job_chunks.c.state == "running", job_chunks.c.lease_until < now))]
        if job_id is not None:
            cond.append(job_chunks.c.job_id == job_id)
        c = conn.execute(
            select(job_chunks).join(jobs, jobs.c.id == job_chunks.c.job_id).where(*cond)
            .order_by(jobs.c.created_at, job_chunks.c.job_id, job_chunks.c.chunk_no).limit(1)
            .with_for_update(skip_locked=True, of=job_chunks)).mappings().first()
        if c is None:
            return None, False
        taken_over = c["state"] == "running"
        attempts = c["attempts"] + (1 if taken_over else 0)
        if attempts >= MAX_ATTEMPTS:
            if job_id is not None:
                return None, False  # left to claim(), which fails the job
            self._fail_job(conn, c["job_id"], now)
            return None, True
        conn.execute(update(job_chunks).where(job_chunks.c.job_id == c["job_id"],
                                              job_chunks.c.chunk_no == c["chunk_no"])
                     .values(state="running", lease_owner=self.owner, lease_until=self._lease(now),
                             attempts=attempts))
        if taken_over:
            log.warning("resuming job %s from row %s (chunk %s, previous owner %s)", c["job_id"], c["first_row"],
                        c["chunk_no"], c["lease_owner"])
        return dict(c), False

    def _fail_job(self, conn, job_id: str, now: dt.datetime) -> None:
        conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.status == "running").values(
            status="failed", finished_at=now, lease_owner=None, lease_until=None,
            error={"code": "job_failed", "message_zh": "任务多次处理失败, 已停止",
                   "message_en": f"the job failed {MAX_ATTEMPTS} times and was stopped", "field": None},
            **self._callback_due(job_id, conn, now)))
        metrics.JOBS_FINISHED.labels("failed").inc()
        log.warning("job %s failed %s times and was stopped", job_id, MAX_ATTEMPTS)

    def _callback_due(self, job_id: str, conn, now) -> dict:
        url = conn.execute(select(jobs.c.callback_url).where(jobs.c.id == job_id)).scalar()
        return {"callback_state": "pending", "callback_next_at": now} if url else {}

    # -- the loop ---------------------------------------------------------------------------------
    def step(self) -> bool:
        """Do one piece of work (a job's chunks while it has any for this worker, or starting a
        job); False when there was none."""
        if time.monotonic() >= self._next_scan:
            self._next_scan = time.monotonic() + DEAD_OWNER_SCAN_SECONDS
            self.expire_dead_owners()
        chunk = self.claim()
        if chunk is None:
            return self.start_job() is not None
        pending: tuple[dict, Future] | None = None  # the chunk being committed, and its commit
        try:
            while chunk is not None:
                if self._stop.is_set():
                    self._release(chunk)  # graceful shutdown: another worker (or the next start) takes it
                    break
                self.current = chunk["job_id"]
                try:
                    prepared = self._prepare(chunk)
                except Exception:
                    log.exception("job %s chunk %s: screening failed; releasing it for a retry", chunk["job_id"],
                                  chunk["chunk_no"])
                    self._release(chunk, failed=True)
                    self._stop.wait(1.0)
                    break
                if pending is not None:
                    self._settle(*pending)
                    pending = None
                following = None
                if not self._stop.is_set():
                    try:
                        with self.db.write() as conn:
                            following, _ = self._claim_in(conn, utcnow(), chunk["job_id"])
                    except Exception:  # the screened chunk is still committed; the loop claims again
                        log.exception("job %s: claiming the next chunk failed", chunk["job_id"])
                pending = (chunk, self._writer_pool().submit(self._commit, chunk, *prepared))
                chunk = following
        finally:
            if pending is not None:
                self._settle(*pending)
            self.current = None
        return True

    def _writer_pool(self) -> ThreadPoolExecutor:
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ds-job-writer")
        return self._writer

    def _settle(self, chunk: dict, commit: Future) -> None:
        """Wait for a chunk's commit; a failed one is released for a retry (or left, when another
        worker took its lease)."""
        try:
            commit.result()
        except _LostLease:
            log.warning("job %s chunk %s: lease lost to another worker; leaving it", chunk["job_id"],
                        chunk["chunk_no"])
        except Exception:
            log.exception("job %s chunk %s: committing failed; releasing it for a retry", chunk["job_id"],
                          chunk["chunk_no"])
            self._release(chunk, failed=True)
            self._stop.wait(1.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                worked = self.step()
            except Exception:
                log.exception("claiming job work failed")
                worked = False
            if not worked:
                self.wake.wait(self.settings.job_poll_seconds)
                self.wake.clear()

    def _release(self, chunk: dict, failed: bool = False) -> None:
        try:
            with self.db.write() as conn:
                conn.execute(update(job_chunks).where(
                    job_chunks.c.job_id == chunk["job_id"], job_chunks.c.chunk_no == chunk["chunk_no"],
                    job_chunks.c.lease_owner == self.owner, job_chunks.c.state == "running")
                    .values(state="pending", lease_owner=None, lease_until=None,
                            attempts=job_chunks.c.attempts + (1 if failed else 0)))
        except Exception:
            log.exception("job %s chunk %s: could not release the lease (it will expire)", chunk["job_id"],
                          chunk["chunk_no"])

    def _job(self, job_id: str) -> dict:
        job = self._jobs.get(job_id)
        if job is None:
            with self.db.read() as conn:
                job = dict(conn.execute(select(jobs.c.id, jobs.c.key_id, jobs.c.profile)
                                        .where(jobs.c.id == job_id)).mappings().one())
            if len(self._jobs) > 100:
                self._jobs.clear()
            self._jobs[job_id] = job
        return job

    def _prepare(self, chunk: dict) -> tuple[list, list[dict], dict]:
        """The chunk's rows, read and screened: (rows, records, counts)."""
        job = self._job(chunk["job_id"])
        with self.db.read() as conn:
            rows = conn.execute(
                select(job_rows.c.row_no, job_rows.c.data, job_rows.c.error)
                .where(job_rows.c.job_id == chunk["job_id"], job_rows.c.row_no >= chunk["first_row"],
                       job_rows.c.row_no <= chunk["last_row"])
                .order_by(job_rows.c.row_no)).mappings().all()
        records, counts = self._screen_chunk(job, rows)
        return rows, records, counts

    def _commit(self, chunk: dict, rows: list, records: list[dict], counts: dict) -> None:
        """Commit a screened chunk: its records, its state and the job's counters together,
        checking this worker still holds it (else _LostLease and nothing is kept)."""
        job_id = chunk["job_id"]
        now = utcnow()
        done = False
        with self.db.write() as conn:
            # The job's row first: completions of one job's chunks queue here, so the last one to
            # commit sees every other chunk done.
            status = conn.execute(select(jobs.c.status, jobs.c.total_rows).where(jobs.c.id == job_id)
                                  .with_for_update()).mappings().one()
            res = conn.execute(update(job_chunks).where(
                job_chunks.c.job_id == job_id, job_chunks.c.chunk_no == chunk["chunk_no"],
                job_chunks.c.lease_owner == self.owner, job_chunks.c.state == "running")
                .values(state="done", lease_until=None))  # the owner stays: who screened it
            if res.rowcount != 1 or status["status"] != "running":
                raise _LostLease()  # the transaction rolls back: nothing of this chunk is kept
            if records:
                conn.execute(insert(screenings), records)
            # The cursor: the first row of the first chunk not done yet (rows before it are all
            # screened), or past the end.
            open_from = conn.execute(select(func.min(job_chunks.c.first_row)).where(
                job_chunks.c.job_id == job_id, job_chunks.c.state != "done")).scalar()
            values: dict = {
                "next_row": open_from if open_from is not None else status["total_rows"] + 1,
                "done_rows": jobs.c.done_rows + len(rows),
                "n_major": jobs.c.n_major + counts["major"], "n_not_major": jobs.c.n_not_major + counts["not_major"],
                "n_review": jobs.c.n_review + counts["review"], "n_error": jobs.c.n_error + counts["error"]}
            if open_from is None:
                done = True
                values.update(status="done", finished_at=now, lease_owner=None, lease_until=None,
                              **self._callback_due(job_id, conn, now))
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(**values))
        metrics.JOB_ROWS.inc(len(rows))
        if done:
            self._finished(job_id)

    def _screen_chunk(self, job: dict, rows) -> tuple[list[dict], dict]:
        scr = self.ctx.screener
        profile = job["profile"]
        counts = {"major": 0, "not_major": 0, "review": 0, "error": 0}
        now = utcnow()
        good = [(r["row_no"], {**({"profile": profile} if profile else {}), **r["data"]}) for r in rows
                if not r["error"]]
        results: dict[int, object] = {}
        try:
            answers = scr.screen_many([d for _, d in good])
            results = {n: a for (n, _), a in zip(good, answers)}
        except Exception:
            # One row the upload check let through but the screener rejects (or a bug of ours
            # on one row) must not sink 50,000 others: screen them one by one.
            for n, d in good:
                try:
                    results[n] = scr.screen(d)
                except ScreenInputError as exc:
                    results[n] = exc.as_dict()
                except Exception as exc:
                    log.exception("job %s row %s: screening failed", job["id"], n)
                    results[n] = {"code": "screen_failed", "message_zh": "该行筛查失败 (内部错误, 已记录)",
                                  "message_en": f"screening this row failed (internal error: {type(exc).__name__})",
                                  "field": None}
        records = []
        for r in rows:
            n = r["row_no"]
            res = results.get(n) if not r["error"] else r["error"]
            rec = {"id": new_id(), "created_at": now, "key_id": job["key_id"], "source": "job", "job_id": job["id"],
                   "row_no": n, "input": r["data"], "answer": None, "error": None, "verdict": None,
                   "model_version": scr.model_version, "rules_version": scr.rules_version}
            if isinstance(res, dict) or res is None:
                rec["error"] = res or {"code": "screen_failed", "message_zh": "该行未能筛查",
                                       "message_en": "this row could not be screened", "field": None}
                counts["error"] += 1
            else:
                rec["answer"] = RawJSON(res.model_dump_json())  # serialised once, in pydantic's core
                rec["verdict"] = res.verdict
                counts[res.verdict] += 1
                metrics.SCREENINGS.labels("job", res.verdict).inc()
            records.append(rec)
        return records, counts

    def _finished(self, job_id: str) -> None:
        metrics.JOBS_FINISHED.labels("done").inc()
        log.info("job %s done", job_id)
        self._jobs.pop(job_id, None)
        callbacks = getattr(self.ctx, "callbacks", None)
        if callbacks is not None:
            callbacks.wake.set()


class _LostLease(Exception):
    pass
