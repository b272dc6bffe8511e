"""File mode: screen a .jsonl/.csv/.xlsx file into another, streamed and across cores.

The input is read row by row and the output written row by row, so memory stays flat whatever
the file's length; rows go to worker processes in chunks, at most a few chunks per worker in
flight, and come back in input order. The workers are forked after the model is loaded, so
they share its memory instead of each loading it. Duplicates are found here, in row order,
from a 64-bit hash of each title's duplicate key: the one structure that grows with the file,
by 16-32 bytes per distinct title (a numpy hash table); near-duplicates keep a bounded index
(model.neardup).

The answers are those of `Screener.iter_screen` row for row, whatever the number of workers."""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .dates import read_planned, tolerant_row
from .errors import ScreenInputError
from .fileio import Writer, flatten, read_rows, suffix_of
from .neardup import NearDuplicateFinder, as_dict, core_of_key, describe
from .vocab import duplicate_key

CHUNK = 256  # rows per task: large enough to amortise the hand-over, small enough to stream
IN_FLIGHT_PER_WORKER = 2

_screener = None  # the worker's Screener (inherited through fork, or built by _init) …
_screener_args: tuple | None = None  # … and the arguments it was built with


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass
class Summary:
    rows: int = 0
    counts: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)  # the first 20 row errors, one line each
    workers: int = 1


def _init(profile: str | None, rules_only: bool, k_similar: int) -> None:
    """Build the Screener for these arguments unless this process has it already (a forked
    worker inherits the parent's)."""
    global _screener, _screener_args
    args = (profile, rules_only, k_similar)
    if _screener is None or _screener_args != args:
        _screener, _screener_args = make_screener(profile, rules_only, k_similar), args


def _init_worker(profile: str | None, rules_only: bool, k_similar: int) -> None:
    """A pool worker: one BLAS thread (the processes are the parallelism; BLAS threads in each
    of them would only contend for the same cores), then the Screener."""
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # scikit-learn brings it; without it the defaults stay
        pass
    _init(profile, rules_only, k_similar)


def make_screener(profile: str | None, rules_only: bool, k_similar: int):
    from .screener import Screener

    return Screener(model=None if rules_only else "default", default_profile=profile or "national",
                    k_similar=k_similar)


def _screen_chunk(chunk: list[tuple[int, dict]], as_json: bool) -> list[tuple]:
    """(row number, verdict or None, output line or flat row, error line or None, (title, unit,
    planned)) per row. The output is already serialised here, in the worker; the parent only
    adds `duplicate_of` and `near_duplicates`."""
    numbered = {}
    rows = []
    bad: dict[int, ScreenInputError] = {}
    for n, row in chunk:
        if "__error__" in row:
            exc = row["__error__"]
            bad[n] = exc if isinstance(exc, ScreenInputError) else ScreenInputError(**exc)
        else:
            numbered[len(rows) + 1] = n
            rows.append(row)
    results: dict[int, object] = dict(bad)
    for i, result in _screener.iter_screen(rows):
        results[numbered[i]] = result
    out = []
    for n, row in chunk:
        result = results[n]
        if isinstance(result, ScreenInputError):
            result.row = n
            line = result.one_line()
            record = {"id": row.get("id"), "error": line, "verdict": None}
            out.append((n, None, json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
                        if as_json else flatten(record, row), line, None))
        else:
            # JSON lines straight from pydantic's serialiser (the bytes model_dump_json decodes,
            # as the API's answers): 3-4 times cheaper than a dict through json.dumps, and UTF-8
            # from here to the file (no decoding for the pipe and encoding again to write).
            # The flat formats need the dict.
            out.append((n, result.verdict, result.__pydantic_serializer__.to_json(result) if as_json
                        else flatten(result.model_dump(mode="json"), row), None, _seen(row)))
    return out


def _seen(row: dict) -> tuple:
    """What the parent needs to find duplicates, computed here in the worker: (title, unit,
    planned, duplicate key, near-duplicate core)."""
    key = duplicate_key(row.get("title"))
    return row.get("title"), row.get("unit"), _planned(row), key, core_of_key(key)


def _planned(row: dict) -> str | None:
    """The planned date as written for people (a period stays a period), to show a conflict."""
    if row.get("planned_period"):
        return row["planned_period"]
    if row.get("planned_date"):
        return read_planned(row["planned_date"]).label
    return None


def _chunks(rows: Iterable[dict], year: int | None = None) -> Iterator[list[tuple[int, dict]]]:
    chunk: list[tuple[int, dict]] = []
    for n, row in enumerate(rows, start=1):
        if "__error__" not in row:
            # Office-style dates (二季度, 2027/4/15, 待定); an unreadable one is screened with a warning.
            row = tolerant_row(row, year)
        chunk.append((n, row))
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _ordered(chunks: Iterator[list], as_json: bool, workers: int, init_args: tuple) -> Iterator[list[tuple]]:
    """Screened chunks in input order: in this process for one worker or a file of one chunk,
    else in a pool of forked workers with a bounded number of chunks in flight."""
    first = next(chunks, None)
    if first is None:
        return
    second = next(chunks, None)
    if workers <= 1 or second is None:
        _init(*init_args)
        yield _screen_chunk(first, as_json)
        if second is not None:
            yield _screen_chunk(second, as_json)
            for c in chunks:
                yield _screen_chunk(c, as_json)
        return
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    if ctx.get_start_method() == "fork":
        _init(*init_args)  # loaded once here, shared with the workers through fork
    pending: deque = deque()
    # A worker that dies makes the pool raise (BrokenProcessPool) instead of waiting forever.
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=init_args) as pool:
        for c in _chain(first, _chain(second, chunks)):
            if len(pending) >= workers * IN_FLIGHT_PER_WORKER:
                yield pending.popleft().result()
            pending.append(pool.submit(_screen_chunk, _portable(c), as_json))
        while pending:
            yield pending.popleft().result()


def _portable(chunk: list[tuple[int, dict]]) -> list[tuple[int, dict]]:
    """The chunk with read errors as plain dicts: exceptions with their own constructor
    arguments do not survive pickling to a worker."""
    out = []
    for n, row in chunk:
        exc = row.get("__error__")
        out.append((n, {"__error__": {"code": exc.code, "zh": exc.zh, "en": exc.en, "field": exc.field}}
                    if isinstance(exc, ScreenInputError) else row))
    return out


class _Duplicates:
    """Row number of the first row with the same duplicate key, from 64-bit key hashes.

    An open-addressing table in two numpy arrays (hash, first row), grown by doubling at half
    full: about 25 MB for a million distinct titles, where a dict of Python ints took 123 MB and
    was the largest structure of a million-row file. Hash 0 marks an empty slot, so a key whose
    hash is 0 is stored as 1 (one more way for two keys to share a hash, at 2^-64)."""

    def __init__(self, capacity: int = 1 << 12) -> None:
        self._hashes = np.zeros(capacity, np.uint64)
        self._rows = np.zeros(capacity, np.int64)
        self._mask = capacity - 1
        self._used = 0

    def see(self, n: int, title, key: str | None = None) -> int | None:
        key = duplicate_key(title) if key is None else key
        if not key:
            return None
        h = int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little") or 1
        hashes = self._hashes
        slot = h & self._mask
        while True:
            found = int(hashes[slot])
            if found == h:
                return int(self._rows[slot])
            if found == 0:
                break
            slot = (slot + 1) & self._mask
        hashes[slot] = h
        self._rows[slot] = n
        self._used += 1
        if 2 * self._used > len(hashes):
            self._grow()
        return None

    def _grow(self) -> None:
        """Double the table, re-placing every entry (in one pass of Python over the used slots:
        a few per million rows, as the table doubles)."""
        old_h, old_r = self._hashes, self._rows
        live = np.flatnonzero(old_h)
        self._hashes = np.zeros(2 * len(old_h), np.uint64)
        self._rows = np.zeros(2 * len(old_h), np.int64)
        self._mask = len(self._hashes) - 1
        hashes, rows, mask = self._hashes, self._rows, self._mask
        # In slices: two Python lists of every entry at once would be the file's memory peak.
        for start in range(0, len(live), 1 << 16):
            part = live[start:start + (1 << 16)]
            for h, r in zip(old_h[part].tolist(), old_r[part].tolist()):
                slot = h & mask
                while hashes[slot]:
                    slot = (slot + 1) & mask
                hashes[slot] = h
                rows[slot] = r


def screen_file(src: Path, dst: Path, profile: str | None = None, rules_only: bool = False,
                workers: int | None = None, on_rows: Callable[[int], None] | None = None,
                year: int | None = None, near_duplicates: bool = True) -> Summary:
    """Screen `src` into `dst`. Problems of the whole input file (type, encoding, no title
    column) raise ScreenInputError before anything is written; a bad row becomes an error row
    and the rest go on. `on_rows(k)` is told each time k more rows are written."""
    as_json = suffix_of(dst, "输出") == ".jsonl"
    rows = read_rows(src)  # a generator: the whole-file checks run on the first next()
    chunks = _chunks(rows, year)
    first = next(chunks, None)
    workers = default_workers() if workers is None else max(1, int(workers))
    # Spreadsheet output has no column for precedents: none are looked for.
    init_args = (profile, rules_only, 3 if as_json else 0)
    summary = Summary(workers=workers)
    dupes = _Duplicates()
    near = NearDuplicateFinder() if near_duplicates else None
    stream = _ordered(_chain(first, chunks) if first is not None else iter(()), as_json, workers, init_args)
    with Writer(dst) as writer:
        for results in stream:
            for n, verdict, payload, error, seen in results:
                summary.rows += 1
                if verdict is None:
                    summary.counts["error"] += 1
                    if len(summary.errors) < 20:
                        summary.errors.append(error)
                    writer.write_serialised(payload)
                    continue
                summary.counts[verdict] += 1
                title, unit, planned, key, core = seen
                dup = dupes.see(n, title, key)
                summary.counts["duplicate"] += dup is not None
                similar = ([as_dict(m, unit, planned) for m in near.see(n, title, unit, planned, key, core)]
                           if near is not None else [])
                summary.counts["near_duplicate"] += bool(similar)
                writer.write_serialised(_with_duplicate(payload, dup, similar))
            if on_rows is not None:
                on_rows(len(results))
    return summary


def _chain(first, rest):
    yield first
    yield from rest


def _with_duplicate(payload, dup: int | None, similar: list[dict] | None = None):
    """The answer with `duplicate_of` (and `near_duplicates`, the earlier rows naming nearly the
    same matter, when there are any) set: appended to the compact JSON object (the keys come
    last), or the flat row's 重复 and 近似重复 columns."""
    if isinstance(payload, bytes):
        tail = ',"duplicate_of":' + json.dumps(dup)
        if similar:
            tail += ',"near_duplicates":' + json.dumps(similar, ensure_ascii=False, separators=(",", ":"))
        return payload[:-1] + tail.encode("utf-8") + b"}"
    if dup is not None:
        payload["重复"] = f"与第{dup}行重复"
    if similar:
        payload["近似重复"] = describe(similar)
    return payload
