"""What one service process holds: settings, database, screener, key cache and the
background threads (record writer, job worker, callback sender)."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from model.screener import Screener

from .auth import KeyVerifier
from .batcher import ScreenBatcher
from .db import Database, migrate
from .jobs import CallbackSender, JobWorker
from .recorder import Recorder
from .settings import Settings

log = logging.getLogger("decision_screen.api")


def open_store_and_screener(settings: Settings, screener: Screener | None = None) -> tuple[Database, Screener]:
    """The database, migrated, and a warmed screener: what a web process and a worker both start with."""
    db = Database(settings.db_url)
    migrate(db)
    if screener is None:
        screener = Screener(model=learned_model(settings), default_profile=settings.default_profile)
    # The first screening loads jieba's dictionary and warms the model (most of a second):
    # pay it here, not in the first caller's request.
    screener.screen({"title": "关于编制全市国土空间总体规划的决定"})
    return db, screener


@dataclass
class AppContext:
    settings: Settings
    db: Database
    screener: Screener
    keys: KeyVerifier
    recorder: Recorder
    batcher: ScreenBatcher
    worker: JobWorker | None = None
    callbacks: CallbackSender | None = None

    @classmethod
    def start(cls, settings: Settings, screener: Screener | None = None) -> AppContext:
        db, screener = open_store_and_screener(settings, screener)
        recorder = Recorder(db, settings.var_dir, settings.record_queue_size, settings.record_flush_rows,
                            settings.record_flush_seconds)
        ctx = cls(settings, db, screener, KeyVerifier(db, settings.key_cache_seconds), recorder, ScreenBatcher(screener))
        recorder.start()
        if settings.run_job_worker:
            # Jobs in this process too (an app embedded in a program, the tests). `decision-screen
            # serve` turns this off in its web processes and runs a worker process beside them.
            ctx.callbacks = CallbackSender(ctx)
            ctx.worker = JobWorker(ctx)
            ctx.callbacks.start()
            ctx.worker.start()
        log.info("decision-screen API ready: model %s, rules %s, database %s", screener.model_version,
                 screener.rules_version, db.dialect)
        return ctx

    def stop(self) -> None:
        # Jobs first (a running job releases its lease at the next chunk), then the records.
        if self.worker is not None:
            self.worker.stop()
        if self.callbacks is not None:
            self.callbacks.stop()
        self.batcher.close()
        self.recorder.stop()
        self.db.dispose()


def learned_model(settings: Settings):
    """The model the settings' one switch asks for (None: the rulebooks answer alone)."""
    if settings.rules_only:
        return None
    from model.learned import load_default

    return load_default(backend=settings.model_backend)
