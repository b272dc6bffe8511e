"""Service settings, read once from the environment.

Everything has a default that works on a developer's machine with nothing set: a SQLite
file under var/, the shipped model, limits from DESIGN.md §7 and the issue."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

MB = 1024 * 1024


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    return raw.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    var_dir: Path = Path("var")
    database_url: str = ""  # empty: sqlite file var_dir/decision_screen.db
    model: str | None = "default"  # "default" = the shipped artefact (rules-only if none); None = rules only
    default_profile: str = "national"
    max_json_bytes: int = 2 * MB
    max_upload_bytes: int = 20 * MB
    max_batch: int = 1000
    max_job_rows: int = 50_000
    job_chunk_rows: int = 250
    job_poll_seconds: float = 1.0
    # A job whose owner stopped renewing its lease for this long is taken over by another worker
    # (a dead owner on the same host is detected at once, see jobs.py).
    job_lease_seconds: float = 60.0
    run_job_worker: bool = True
    record_sync: bool = False  # True: write each screening record before answering (strict audit)
    record_queue_size: int = 20_000
    record_flush_rows: int = 500
    record_flush_seconds: float = 0.05
    callback_timeout_seconds: float = 5.0
    callback_max_attempts: int = 6
    callback_backoff_seconds: float = 2.0
    # Host names, *.suffixes and networks callbacks may go to; empty = any host except
    # link-local/unspecified/multicast/reserved addresses (see api/callback_policy.py).
    callback_allow: tuple[str, ...] = ()
    key_cache_seconds: float = 5.0
    public_docs: bool = True
    freeze_gc: bool = True  # gc.freeze() after start-up (off in tests, which start many apps per process)

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'decision_screen.db').resolve()}"

    @property
    def local_key_file(self) -> Path:
        return self.var_dir / "local_api_key.txt"


def from_env() -> Settings:
    model = os.environ.get("DECISION_SCREEN_MODEL", "default")
    return Settings(
        var_dir=Path(os.environ.get("DECISION_SCREEN_VAR", "var")),
        database_url=os.environ.get("DATABASE_URL", ""),
        model=None if model in ("rules-only", "none", "") else model,
        default_profile=os.environ.get("DECISION_SCREEN_PROFILE", "national"),
        max_json_bytes=_int("DECISION_SCREEN_MAX_JSON_BYTES", 2 * MB),
        max_upload_bytes=_int("DECISION_SCREEN_MAX_UPLOAD_BYTES", 20 * MB),
        max_job_rows=_int("DECISION_SCREEN_MAX_JOB_ROWS", 50_000),
        job_chunk_rows=max(1, _int("DECISION_SCREEN_JOB_CHUNK_ROWS", 250)),
        job_poll_seconds=_float("DECISION_SCREEN_JOB_POLL_SECONDS", 1.0),
        job_lease_seconds=_float("DECISION_SCREEN_JOB_LEASE_SECONDS", 60.0),
        run_job_worker=_bool("DECISION_SCREEN_JOB_WORKER", True),
        record_sync=_bool("DECISION_SCREEN_RECORD_SYNC", False),
        callback_max_attempts=_int("DECISION_SCREEN_CALLBACK_ATTEMPTS", 6),
        callback_backoff_seconds=_float("DECISION_SCREEN_CALLBACK_BACKOFF_SECONDS", 2.0),
        callback_allow=tuple(h.strip() for h in os.environ.get("DECISION_SCREEN_CALLBACK_ALLOW", "").split(",")
                             if h.strip()),
        key_cache_seconds=_float("DECISION_SCREEN_KEY_CACHE_SECONDS", 5.0),
        public_docs=_bool("DECISION_SCREEN_PUBLIC_DOCS", True),
    )
