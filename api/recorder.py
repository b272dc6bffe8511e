"""The screening-record writer: answers go out at once, their records are committed by one
background thread in batches, so the hot path never waits on a database write (and SQLite's
single writer is not fought over by every request).

Records are never dropped: the queue is bounded, and when it is full the request waits for
room (back-pressure) instead of discarding. A batch that fails while the database is
unreachable is retried with backoff until it commits. A batch that fails while the database
answers holds a record the database refuses (a value it cannot store): the batch is then
written one record at a time, the good ones are committed, and each refused one is set aside
in var/rejected-records.jsonl (mode 0600: records hold what callers sent) and counted in
decision_screen_records_set_aside_total, so one bad record never holds up the queue.
Stopping flushes everything. Records still queued at the instant of a hard kill (at most
`record_flush_seconds` worth) are the one thing this trades away; set
DECISION_SCREEN_RECORD_SYNC=1 to commit each record before its answer is sent instead."""
from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

from . import metrics
from .db import Database, RawJSON, screenings, utcnow

log = logging.getLogger("decision_screen.recorder")
_STOP = object()
REJECTED_FILE = "rejected-records.jsonl"
# Attempts at one record, while the database answers, before it is set aside (about 0.75 s of
# backoff in all); a record whose data the database refuses outright is set aside after two.
SET_ASIDE_AFTER = 5


class Recorder:
    def __init__(self, db: Database, var_dir: Path, maxsize: int = 20_000, batch: int = 500, interval: float = 0.05):
        self.db, self.var_dir = db, var_dir
        self.batch, self.interval = batch, interval
        self.queue: queue.Queue = queue.Queue(maxsize=maxsize)
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="ds-recorder", daemon=True)
        self._stopping = False
        self._inflight: list[dict] = []

    # -- producers -------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def try_submit(self, record: dict) -> bool:
        """Queue without waiting; False when the queue is full (then call `submit`)."""
        with self._lock:
            self._pending.add(record["id"])
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            return False
        metrics.RECORD_QUEUE.inc()
        return True

    def submit(self, record: dict) -> None:
        """Queue, waiting for room if need be (call from a worker thread, not the event loop)."""
        with self._lock:
            self._pending.add(record["id"])
        self.queue.put(record)
        metrics.RECORD_QUEUE.inc()

    def is_pending(self, record_id: str) -> bool:
        with self._lock:
            return record_id in self._pending

    def wait_written(self, record_id: str, timeout: float = 10.0) -> bool:
        """Wait until this one record is committed (not for the whole queue, which under load
        is never empty)."""
        deadline = time.monotonic() + timeout
        while self.is_pending(record_id):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.002)
        return True

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued so far is committed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending:
                    return True
            time.sleep(0.005)
        return False

    def stop(self, timeout: float = 30.0) -> None:
        if not self._thread.is_alive():
            return
        self._stopping = True
        self.queue.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._dump_unwritten()

    # -- the writer thread -------------------------------------------------------------------
    def _take(self) -> tuple[list[dict], bool]:
        items: list[dict] = []
        stop = False
        try:
            first = self.queue.get(timeout=self.interval)
        except queue.Empty:
            return items, stop
        if first is _STOP:
            stop = True
        else:
            items.append(first)
        # Gather what arrives within `interval` of the first record (or a full batch) into one
        # commit. Committing each record as it came meant, at a few requests a second, one
        # transaction and one fsync per request, and the writer's Python work cutting into the
        # screening on the event loop's thread (it takes the GIL whenever numpy or SQLite lets
        # it go): a lone client's requests took twice their time.
        deadline = time.monotonic() + self.interval
        while len(items) < self.batch:
            left = deadline - time.monotonic()
            try:
                if left > 0 and not (stop or self._stopping):
                    nxt = self.queue.get(timeout=left)
                else:  # stopping, or the time is up: only what is queued already
                    nxt = self.queue.get_nowait()
            except queue.Empty:
                break
            if nxt is _STOP:
                stop = True
                continue
            items.append(nxt)
        return items, stop

    def _run(self) -> None:
        stop = False
        while True:
            items, got_stop = self._take()
            stop = stop or got_stop
            if items:
                self._write(items)
            if stop and self.queue.empty():
                return

    def _write(self, items: list[dict]) -> None:
        self._inflight = items
        delay = 0.05
        rest = items
        while rest:
            try:
                self._insert(rest)
                self._done(rest, written=True)
                break
            except Exception:
                metrics.RECORD_WRITE_ERRORS.inc()
                if self._reachable():
                    # The database answers, so something in the batch is refused: find it.
                    rest = self._write_one_by_one(rest)
                    self._inflight = rest
                    if not rest:
                        break
                log.exception("writing %d screening records failed (database unreachable?); retrying in %.2fs",
                              len(rest), delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
        self._inflight = []

    def _write_one_by_one(self, items: list[dict]) -> list[dict]:
        """Commit each record alone; set aside those the database refuses. Returns the records
        not yet handled when the database stops answering (to be retried as a batch)."""
        for i, rec in enumerate(items):
            delay = 0.05
            for attempt in range(1, SET_ASIDE_AFTER + 1):
                try:
                    self._insert([rec])
                    self._done([rec], written=True)
                    break
                except Exception as exc:
                    if not self._reachable():
                        return items[i:]
                    # A refusal of the data itself is certain after a second try; any other error
                    # while the database answers may be a passing one, so it gets a few more.
                    if (attempt >= 2 and _data_refused(exc)) or attempt == SET_ASIDE_AFTER:
                        self._set_aside(rec, exc)
                        break
                    time.sleep(delay)
                    delay *= 2
        return []

    def _done(self, items: list[dict], written: bool) -> None:
        if written:
            metrics.RECORDS_WRITTEN.inc(len(items))
        metrics.RECORD_QUEUE.dec(len(items))
        with self._lock:
            for r in items:
                self._pending.discard(r["id"])

    def _reachable(self) -> bool:
        try:
            self.db.ping()
            return True
        except Exception:
            return False

    def _set_aside(self, rec: dict, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
        path = self.var_dir / REJECTED_FILE
        try:
            _append_private(path, [{"refused_at": utcnow().isoformat(), "error": error, "record": _plain(rec)}])
        except Exception:
            log.exception("could not keep the refused screening record %s in %s", rec.get("id"), path)
        metrics.RECORDS_SET_ASIDE.inc()
        self._done([rec], written=False)
        log.error("screening record %s refused by the database (%s): set aside in %s", rec.get("id"), error, path)

    def _insert(self, items: list[dict]) -> None:
        try:
            with self.db.write() as conn:
                conn.execute(insert(screenings), items)
        except IntegrityError:
            # A batch whose commit reached the server although the connection then failed is
            # retried; skip the records that are already there.
            ids = [r["id"] for r in items]
            with self.db.write() as conn:
                have = set(conn.execute(select(screenings.c.id).where(screenings.c.id.in_(ids))).scalars())
                rest = [r for r in items if r["id"] not in have]
                if rest:
                    conn.execute(insert(screenings), rest)

    def _dump_unwritten(self) -> None:
        """Last resort when the database stays unreachable at shutdown: keep the records on disk."""
        left = list(self._inflight)  # may still commit later: ids are unique, so re-importing is safe
        while True:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                left.append(item)
        if not left:
            return
        path = self.var_dir / f"unwritten-records-{utcnow():%Y%m%dT%H%M%S}.jsonl"
        _append_private(path, [_plain(r) for r in left])
        log.error("database unreachable at shutdown: %d screening records saved to %s", len(left), path)


def _plain(rec: dict) -> dict:
    return {k: json.loads(v) if isinstance(v, RawJSON) else v for k, v in rec.items()}


def _append_private(path: Path, lines: list[dict]) -> None:
    """Append JSON lines to a file only the service's user can read (records hold what callers sent)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)  # also when the file was there already, made under another umask
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        for line in lines:
            fh.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")


def _data_refused(exc: Exception) -> bool:
    """The database (or the driver, binding the values) refuses this data: retrying cannot help."""
    if isinstance(exc, (DataError, IntegrityError)):
        return True
    return isinstance(exc, StatementError) and not isinstance(exc, DBAPIError)
