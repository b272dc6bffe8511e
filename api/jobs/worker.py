"""The job worker: one thread in each service process that claims queued jobs and screens
their rows in chunks.

Durability: each chunk's screening records and the job's cursor (`next_row`) are committed in
one transaction, together with a check that this worker still holds the job's lease. A worker
that dies (kill -9, power loss) leaves a lease that the next worker takes over — at once when
the owner was a process on this host that no longer exists, else when the lease runs out — and
screening resumes at `next_row`: rows already done are kept, none is screened twice (a unique
(job_id, row_no) constraint backs this up)."""
from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import threading

from sqlalchemy import insert, select, update

from model.errors import ScreenInputError

from .. import metrics
from ..db import Database, job_rows, jobs, screenings, utcnow
from ..services.ids import new_id

log = logging.getLogger("decision_screen.jobs")
# A job that fails this many times (an error while processing it, or its process dying while it
# ran) is marked failed instead of being tried for ever; a graceful restart does not count.
MAX_ATTEMPTS = 8
HOST = socket.gethostname()


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
    def __init__(self, ctx):
        self.ctx = ctx
        self.db: Database = ctx.db
        self.settings = ctx.settings
        self.owner = f"{HOST}:{os.getpid()}:{secrets.token_hex(4)}"
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ds-job-worker", daemon=True)
        self.current: str | None = None

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

    # -- claiming ------------------------------------------------------------------------------
    def _reclaimable(self, job: dict, now: dt.datetime) -> bool:
        if job["lease_until"] is None or job["lease_until"] < now:
            return True
        parts = (job["lease_owner"] or "").rsplit(":", 2)
        if len(parts) != 3 or parts[0] != HOST:
            return False
        _, pid, nonce = parts
        if pid == str(os.getpid()):
            return nonce != self.owner.rsplit(":", 1)[1]  # an earlier life of this pid
        return not (pid.isdigit() and _pid_alive(int(pid)))

    def claim(self) -> dict | None:
        now = utcnow()
        with self.db.read() as conn:
            candidates = conn.execute(
                select(jobs.c.id, jobs.c.status, jobs.c.lease_owner, jobs.c.lease_until, jobs.c.attempts)
                .where(jobs.c.status.in_(("queued", "running"))).order_by(jobs.c.created_at).limit(100)
            ).mappings().all()
        for c in candidates:
            if c["status"] == "running" and not self._reclaimable(dict(c), now):
                continue
            cond = [jobs.c.id == c["id"], jobs.c.status == c["status"]]
            cond.append(jobs.c.lease_owner.is_(None) if c["lease_owner"] is None
                        else jobs.c.lease_owner == c["lease_owner"])
            with self.db.write() as conn:
                if c["attempts"] >= MAX_ATTEMPTS:
                    conn.execute(update(jobs).where(*cond).values(
                        status="failed", finished_at=now, lease_owner=None, lease_until=None,
                        error={"code": "job_failed", "message_zh": "任务多次处理失败, 已停止",
                               "message_en": f"the job failed {MAX_ATTEMPTS} times and was stopped", "field": None},
                        **self._callback_due(c["id"], conn, now)))
                    metrics.JOBS_FINISHED.labels("failed").inc()
                    continue
                res = conn.execute(update(jobs).where(*cond).values(
                    status="running", lease_owner=self.owner,
                    lease_until=now + dt.timedelta(seconds=self.settings.job_lease_seconds),
                    attempts=jobs.c.attempts + (1 if c["status"] == "running" else 0)))
                if res.rowcount != 1:
                    continue  # another worker got there first
                conn.execute(update(jobs).where(jobs.c.id == c["id"], jobs.c.started_at.is_(None))
                             .values(started_at=now))
                row = conn.execute(select(jobs).where(jobs.c.id == c["id"])).mappings().first()
            if c["status"] == "running":
                log.warning("resuming job %s from row %s (previous owner %s)", c["id"], row["next_row"],
                            c["lease_owner"])
            return dict(row)
        return None

    def _callback_due(self, job_id: str, conn, now) -> dict:
        url = conn.execute(select(jobs.c.callback_url).where(jobs.c.id == job_id)).scalar()
        return {"callback_state": "pending", "callback_next_at": now} if url else {}

    # -- the loop ------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                job = self.claim()
            except Exception:
                log.exception("claiming a job failed")
                job = None
            if job is None:
                self.wake.wait(self.settings.job_poll_seconds)
                self.wake.clear()
                continue
            self.current = job["id"]
            try:
                self.process(job)
            except _LostLease:
                log.warning("job %s: lease lost to another worker; leaving it", job["id"])
            except Exception:
                log.exception("job %s: processing failed; releasing it for a retry", job["id"])
                self._release(job["id"], failed=True)
                self._stop.wait(1.0)
            finally:
                self.current = None

    def _release(self, job_id: str, failed: bool = False) -> None:
        try:
            with self.db.write() as conn:
                conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.lease_owner == self.owner)
                             .values(status="queued", lease_owner=None, lease_until=None,
                                     attempts=jobs.c.attempts + (1 if failed else 0)))
        except Exception:
            log.exception("job %s: could not release the lease (it will expire)", job_id)

    def process(self, job: dict) -> None:
        job_id = job["id"]
        chunk = self.settings.job_chunk_rows
        next_row = job["next_row"]
        while True:
            if self._stop.is_set():
                self._release(job_id)  # graceful shutdown: the next start picks it up at next_row
                return
            with self.db.read() as conn:
                rows = conn.execute(
                    select(job_rows.c.row_no, job_rows.c.data, job_rows.c.error)
                    .where(job_rows.c.job_id == job_id, job_rows.c.row_no >= next_row)
                    .order_by(job_rows.c.row_no).limit(chunk)).mappings().all()
            if not rows:
                self._finish(job_id)
                return
            records, counts = self._screen_chunk(job, rows)
            now = utcnow()
            last = rows[-1]["row_no"]
            with self.db.write() as conn:
                res = conn.execute(update(jobs).where(
                    jobs.c.id == job_id, jobs.c.lease_owner == self.owner, jobs.c.status == "running",
                    jobs.c.next_row == next_row).values(
                    next_row=last + 1, done_rows=jobs.c.done_rows + len(rows),
                    n_major=jobs.c.n_major + counts["major"], n_not_major=jobs.c.n_not_major + counts["not_major"],
                    n_review=jobs.c.n_review + counts["review"], n_error=jobs.c.n_error + counts["error"],
                    lease_until=now + dt.timedelta(seconds=self.settings.job_lease_seconds)))
                if res.rowcount != 1:
                    raise _LostLease()
                conn.execute(insert(screenings), records)
            metrics.JOB_ROWS.inc(len(rows))
            next_row = last + 1

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
                rec["answer"] = res.model_dump(mode="json")
                rec["verdict"] = res.verdict
                counts[res.verdict] += 1
                metrics.SCREENINGS.labels("job", res.verdict).inc()
            records.append(rec)
        return records, counts

    def _finish(self, job_id: str) -> None:
        now = utcnow()
        with self.db.write() as conn:
            res = conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.lease_owner == self.owner).values(
                status="done", finished_at=now, lease_owner=None, lease_until=None,
                **self._callback_due(job_id, conn, now)))
            if res.rowcount != 1:
                raise _LostLease()
        metrics.JOBS_FINISHED.labels("done").inc()
        log.info("job %s done", job_id)
        self.ctx.callbacks.wake.set()


class _LostLease(Exception):
    pass
