"""Spreadsheet jobs: a database-backed queue, a worker thread in each service process, and
job-end callbacks.

Durability: an upload is committed (job + every row) before its id is returned. The worker
screens rows in chunks; each chunk's screening records and the job's cursor (`next_row`) are
committed in one transaction, together with a check that this worker still holds the job's
lease. A worker that dies (kill -9, power loss) leaves a lease that the next worker takes
over — at once when the owner was a process on this host that no longer exists, else when
the lease runs out — and screening resumes at `next_row`: rows already done are kept, none
is screened twice (a unique (job_id, row_no) constraint backs this up)."""
from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import threading

from sqlalchemy import insert, select, update

from model.errors import ScreenInputError

from . import metrics
from .callback_policy import CallbackPolicy
from .db import Database, job_rows, jobs, screenings, utcnow

log = logging.getLogger("decision_screen.jobs")
# A job that fails this many times (an error while processing it, or its process dying while it
# ran) is marked failed instead of being tried for ever; a graceful restart does not count.
MAX_ATTEMPTS = 8
HOST = socket.gethostname()


_ID_LOCK = threading.Lock()
_ID_POOL = bytearray()
_ID_PID = 0


def new_id() -> str:
    """A random 128-bit id in hex. Drawn from a pool filled 4 KiB at a time from os.urandom:
    on the hot path a syscall per id means giving up and re-taking the GIL each time."""
    global _ID_POOL, _ID_PID
    with _ID_LOCK:
        if len(_ID_POOL) < 16 or _ID_PID != os.getpid():  # a forked child must not reuse its parent's bytes
            _ID_POOL, _ID_PID = bytearray(os.urandom(4096)), os.getpid()
        raw = bytes(_ID_POOL[-16:])
        del _ID_POOL[-16:]
    return raw.hex()


def create_job(db: Database, *, job_id: str, key_id: str | None, filename: str, profile: str | None, rows: list[dict],
               row_errors: dict[int, dict], callback_url: str | None, result_url: str | None,
               options: dict) -> dict:
    now = utcnow()
    job = {"id": job_id, "key_id": key_id, "status": "queued", "filename": filename[:255], "profile": profile,
           "options": options, "total_rows": len(rows), "next_row": 1, "done_rows": 0, "n_major": 0,
           "n_not_major": 0, "n_review": 0, "n_error": 0, "created_at": now, "started_at": None,
           "finished_at": None, "lease_owner": None, "lease_until": None, "attempts": 0, "error": None,
           "result_url": result_url, "callback_url": callback_url, "callback_state": None,
           "callback_attempts": 0, "callback_next_at": None, "callback_last_error": None}
    with db.write() as conn:
        conn.execute(insert(jobs), job)
        chunk = 5000
        for start in range(0, len(rows), chunk):
            conn.execute(insert(job_rows), [
                {"job_id": job_id, "row_no": n, "data": rows[n - 1], "error": row_errors.get(n)}
                for n in range(start + 1, min(start + chunk, len(rows)) + 1)])
    return job


def get_job(db: Database, job_id: str) -> dict | None:
    with db.read() as conn:
        row = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
    return dict(row) if row else None


def _iso(v: dt.datetime | None) -> str | None:
    return v.isoformat() if v else None


def public(job: dict) -> dict:
    """A job as the API shows it (and as the callback sends it)."""
    total = job["total_rows"] or 0
    out = {
        "id": job["id"], "status": job["status"], "filename": job["filename"], "profile": job["profile"],
        "total_rows": total, "done_rows": job["done_rows"],
        "progress": round(job["done_rows"] / total, 4) if total else 1.0,
        "counts": {"major": job["n_major"], "not_major": job["n_not_major"], "review": job["n_review"],
                   "error": job["n_error"]},
        "created_at": _iso(job["created_at"]), "started_at": _iso(job["started_at"]),
        "finished_at": _iso(job["finished_at"]), "result_url": job["result_url"],
        "ignored_columns": (job.get("options") or {}).get("ignored_columns", []),
        "error": job["error"],
        "callback": None,
    }
    if job["callback_url"]:
        out["callback"] = {"url": job["callback_url"], "state": job["callback_state"],
                           "attempts": job["callback_attempts"], "last_error": job["callback_last_error"]}
    return out


def job_records(db: Database, job_id: str, batch: int = 2000):
    """The job's screening records in row order, streamed in pages (50,000 rows stay cheap)."""
    last = 0
    while True:
        with db.read() as conn:
            rows = conn.execute(
                select(screenings.c.id, screenings.c.row_no, screenings.c.input, screenings.c.answer,
                       screenings.c.error)
                .where(screenings.c.job_id == job_id, screenings.c.row_no > last)
                .order_by(screenings.c.row_no).limit(batch)).mappings().all()
        if not rows:
            return
        for r in rows:
            yield dict(r)
        last = rows[-1]["row_no"]


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


class CallbackSender:
    """Tells a job's callback_url that the job ended: POST of the job's status JSON.

    Runs in its own thread so a slow or dead receiver never holds up screening; attempts are
    persisted (state, count, next time), so a restart goes on retrying; backoff doubles from
    `callback_backoff_seconds` up to `callback_max_attempts` tries, then the state is failed."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.db: Database = ctx.db
        self.settings = ctx.settings
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ds-callbacks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        import httpx

        with httpx.Client(timeout=self.settings.callback_timeout_seconds, follow_redirects=False) as client:
            while not self._stop.is_set():
                try:
                    sent = self.run_due(client)
                except Exception:
                    log.exception("callback loop failed")
                    sent = 0
                if not sent:
                    self.wake.wait(1.0)
                    self.wake.clear()

    def run_due(self, client) -> int:
        now = utcnow()
        with self.db.read() as conn:
            due = conn.execute(select(jobs).where(jobs.c.callback_state == "pending", jobs.c.callback_next_at <= now)
                               .order_by(jobs.c.callback_next_at).limit(20)).mappings().all()
        n = 0
        for job in due:
            if self._stop.is_set():
                break
            # Claim this attempt, so that two processes do not both deliver it.
            hold = now + dt.timedelta(seconds=self.settings.callback_timeout_seconds * 3)
            with self.db.write() as conn:
                res = conn.execute(update(jobs).where(
                    jobs.c.id == job["id"], jobs.c.callback_state == "pending",
                    jobs.c.callback_next_at == job["callback_next_at"]).values(callback_next_at=hold))
            if res.rowcount != 1:
                continue
            payload = {"event": "job.finished", **public(dict(job))}
            error = None
            # Checked again on what the name resolves to now: a name may change after the job
            # was accepted. A refusal is final, not retried.
            refused = CallbackPolicy.from_setting(self.settings.callback_allow).check_resolved(job["callback_url"])
            if refused:
                with self.db.write() as conn:
                    conn.execute(update(jobs).where(jobs.c.id == job["id"]).values(
                        callback_state="failed", callback_next_at=None,
                        callback_attempts=job["callback_attempts"] + 1,
                        callback_last_error=f"refused by the callback policy: {refused}"[:500]))
                metrics.CALLBACKS.labels("failed").inc()
                log.warning("job %s: callback to %s refused: %s", job["id"], job["callback_url"], refused)
                n += 1
                continue
            try:
                resp = client.post(job["callback_url"], json=payload,
                                   headers={"User-Agent": "decision-screen/callback", "X-Job-Id": job["id"]})
                if not 200 <= resp.status_code < 300:
                    error = f"HTTP {resp.status_code}"
            except Exception as exc:  # connection refused, timeout, bad URL …
                error = f"{type(exc).__name__}: {exc}"[:500]
            attempts = job["callback_attempts"] + 1
            values: dict = {"callback_attempts": attempts, "callback_last_error": error}
            if error is None:
                values.update(callback_state="sent", callback_next_at=None)
                metrics.CALLBACKS.labels("sent").inc()
            elif attempts >= self.settings.callback_max_attempts:
                values.update(callback_state="failed", callback_next_at=None)
                metrics.CALLBACKS.labels("failed").inc()
                log.warning("job %s: callback to %s failed for good: %s", job["id"], job["callback_url"], error)
            else:
                delay = self.settings.callback_backoff_seconds * 2 ** (attempts - 1)
                values.update(callback_next_at=utcnow() + dt.timedelta(seconds=delay))
                metrics.CALLBACKS.labels("retry").inc()
            with self.db.write() as conn:
                conn.execute(update(jobs).where(jobs.c.id == job["id"]).values(**values))
            n += 1
        return n
