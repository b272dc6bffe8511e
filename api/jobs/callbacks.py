"""Job-end callbacks: a POST of the job's status to its callback_url, retried with backoff."""
from __future__ import annotations

import datetime as dt
import logging
import threading

from sqlalchemy import select, update

from .. import metrics
from ..callback_policy import CallbackPolicy
from ..db import Database, jobs, utcnow
from .queue import public

log = logging.getLogger("decision_screen.jobs")


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
