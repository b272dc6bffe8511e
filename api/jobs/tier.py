"""The worker tier: a process that runs jobs and their callbacks and serves no HTTP.

`decision-screen worker` runs one; `decision-screen serve` starts one beside the web server
(the embedded default, a child process stopped with it), and the web processes then only
queue jobs. On PostgreSQL any number of them, on any number of machines, share the work
(api/jobs/worker.py)."""
from __future__ import annotations

import gc
import logging
import signal
import threading
from dataclasses import dataclass

from model.screener import Screener

from ..db import Database
from ..settings import Settings
from .callbacks import CallbackSender
from .worker import JobWorker

log = logging.getLogger("decision_screen.jobs")


@dataclass
class WorkerContext:
    """What the worker and the callback sender need: settings, database and screener."""

    settings: Settings
    db: Database
    screener: Screener
    worker: JobWorker | None = None
    callbacks: CallbackSender | None = None

    @classmethod
    def start(cls, settings: Settings, screener: Screener | None = None) -> WorkerContext:
        from ..context import open_store_and_screener

        db, screener = open_store_and_screener(settings, screener)
        # A worker has no request waiting on its start: load now what the first job's rows would
        # (cn2an), and move the long-lived engine out of the collector's sight as the web
        # processes do, so collections during a 50,000-row job do not walk it again and again.
        from model.extract import warm

        warm()
        if settings.freeze_gc:
            gc.collect()
            gc.freeze()
        ctx = cls(settings, db, screener)
        ctx.callbacks = CallbackSender(ctx)
        ctx.worker = JobWorker(ctx)
        ctx.callbacks.start()
        ctx.worker.start()
        log.info("decision-screen worker ready (%s): model %s, rules %s, database %s", ctx.worker.owner,
                 screener.model_version, screener.rules_version, db.dialect)
        return ctx

    def stop(self) -> None:
        # The chunk in hand is released at once (another worker takes it), then callbacks.
        if self.worker is not None:
            self.worker.stop()
        if self.callbacks is not None:
            self.callbacks.stop()
        self.db.dispose()


def run(settings: Settings) -> None:
    """Run a worker until SIGTERM or SIGINT, then stop gracefully."""
    stopping = threading.Event()

    def _on_signal(signum, _frame):
        log.info("worker: signal %s, stopping", signum)
        stopping.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    ctx = WorkerContext.start(settings)
    try:
        while not stopping.wait(1.0):
            if not (ctx.worker.alive and ctx.callbacks._thread.is_alive()):
                raise SystemExit("worker thread ended unexpectedly")
    finally:
        ctx.stop()
        log.info("worker stopped")
