"""Service settings: one pydantic-settings model, read once when the app starts (create_app, the
CLI's serve and keys commands, the migrations) and passed down from there; no other module of
the service reads the environment for its configuration.

Every field can be set by an environment variable DECISION_SCREEN_<FIELD> (a few keep the
shorter names they always had: DATABASE_URL, DECISION_SCREEN_VAR, DECISION_SCREEN_PROFILE,
DECISION_SCREEN_JOB_WORKER, DECISION_SCREEN_CALLBACK_ATTEMPTS). Everything has a default that
works on a developer's machine with nothing set: a SQLite file under var/, the shipped model.

The model has one switch, DECISION_SCREEN_MODEL_BACKEND: rules-only, tfidf, transformer or
ensemble (unset: the shipped default backend). The two switches it replaces still work for this
release and log a deprecation warning: DECISION_SCREEN_MODEL=rules-only (or none) and
DECISION_SCREEN_BACKEND=<backend>."""
from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

log = logging.getLogger("decision_screen.api")
MB = 1024 * 1024
ModelBackend = Literal["rules-only", "tfidf", "transformer", "ensemble"]
# The names replaced by DECISION_SCREEN_MODEL_BACKEND (deprecated, kept for one release).
LEGACY_MODEL_ENV = "DECISION_SCREEN_MODEL"
LEGACY_BACKEND_ENV = "DECISION_SCREEN_BACKEND"


def _alias(*env_names: str) -> AliasChoices:
    return AliasChoices(*env_names)


class _LegacyModelSwitches(PydanticBaseSettingsSource):
    """DECISION_SCREEN_MODEL and DECISION_SCREEN_BACKEND, read into model_backend with a warning.
    Below the environment's own DECISION_SCREEN_MODEL_BACKEND, which wins when both are set."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        model = os.environ.get(LEGACY_MODEL_ENV, "").strip().lower()
        backend = os.environ.get(LEGACY_BACKEND_ENV, "").strip().lower()
        out: dict[str, Any] = {}
        if backend:
            _deprecated(LEGACY_BACKEND_ENV, backend)
            out["model_backend"] = backend
        if model:
            _deprecated(LEGACY_MODEL_ENV, model)
            if model in ("rules-only", "none"):
                out["model_backend"] = "rules-only"  # rules only wins over a backend, as it did
        return out


def _deprecated(name: str, value: str) -> None:
    msg = (f"{name}={value} is deprecated and will be removed in the next release: "
           f"set DECISION_SCREEN_MODEL_BACKEND (rules-only, tfidf, transformer or ensemble) instead")
    warnings.warn(msg, DeprecationWarning, stacklevel=2)
    log.warning(msg)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DECISION_SCREEN_", env_ignore_empty=True, frozen=True,
                                      extra="ignore", populate_by_name=True)

    var_dir: Path = Field(Path("var"), validation_alias=_alias("DECISION_SCREEN_VAR"))
    database_url: str = Field("", validation_alias=_alias("DATABASE_URL"))  # empty: sqlite file var_dir/decision_screen.db
    # None: the shipped default backend (rules only when no artefact is shipped).
    model_backend: ModelBackend | None = None
    default_profile: str = Field("national", validation_alias=_alias("DECISION_SCREEN_PROFILE"))
    max_json_bytes: int = 2 * MB
    max_upload_bytes: int = 20 * MB
    max_job_rows: int = 50_000
    job_chunk_rows: int = 250
    job_poll_seconds: float = 1.0
    # A job whose owner stopped renewing its lease for this long is taken over by another worker
    # (a dead owner on the same host is detected at once, see api/jobs/worker.py).
    job_lease_seconds: float = 60.0
    run_job_worker: bool = Field(True, validation_alias=_alias("DECISION_SCREEN_JOB_WORKER"))
    record_sync: bool = False  # True: write each screening record before answering (strict audit)
    record_queue_size: int = 20_000
    record_flush_rows: int = 500
    record_flush_seconds: float = 0.05
    callback_timeout_seconds: float = 5.0
    callback_max_attempts: int = Field(6, validation_alias=_alias("DECISION_SCREEN_CALLBACK_ATTEMPTS"))
    callback_backoff_seconds: float = 2.0
    # Host names, *.suffixes and networks callbacks may go to, comma-separated in the environment;
    # empty = any host the built-in policy allows (see api/callback_policy.py).
    callback_allow: Annotated[tuple[str, ...], NoDecode] = ()
    key_cache_seconds: float = 5.0
    # /docs, /redoc, /openapi.json open to anyone (else a key or a page session: api/docs.py).
    public_docs: bool = False
    # The key that signs the pages' session cookies; unset: a random one kept in var_dir
    # (api/web/session.py), which every worker process of one deployment shares.
    session_secret: SecretStr | None = None
    # FastAPI's native OpenTelemetry spans and metrics. Off, FastAPI skips them without asking the
    # OpenTelemetry API for its providers on every request; on, they are recorded when the process
    # has providers configured (e.g. run under `opentelemetry-instrument`). /metrics is separate.
    otel: bool = False
    freeze_gc: bool = True  # gc.freeze() after start-up (off in tests, which start many apps per process)

    @field_validator("callback_allow", mode="before")
    @classmethod
    def _comma_list(cls, v):
        if isinstance(v, str):
            return tuple(h.strip() for h in v.split(",") if h.strip())
        return v

    @field_validator("job_chunk_rows")
    @classmethod
    def _at_least_one(cls, v: int) -> int:
        return max(1, v)

    @field_validator("model_backend", mode="before")
    @classmethod
    def _backend_name(cls, v):
        if isinstance(v, str):
            v = v.strip().lower()
            return "rules-only" if v in ("none", "rules_only") else (None if v == "default" else v)
        return v

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        return init_settings, env_settings, _LegacyModelSwitches(settings_cls), dotenv_settings, file_secret_settings

    @property
    def rules_only(self) -> bool:
        return self.model_backend == "rules-only"

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'decision_screen.db').resolve()}"

    @property
    def local_key_file(self) -> Path:
        return self.var_dir / "local_api_key.txt"


def from_env() -> Settings:
    """The settings from the environment (what `Settings()` reads; kept as the entry point's name)."""
    return Settings()
