"""The service's settings: one model read from the environment, one switch for the model, the
two old switches still honoured (with a deprecation warning) for one release."""
import warnings

import pytest

from api.settings import Settings

ENV = ("DECISION_SCREEN_MODEL", "DECISION_SCREEN_BACKEND", "DECISION_SCREEN_MODEL_BACKEND")


@pytest.fixture
def env(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_environment_names_of_every_era_are_read(env, tmp_path):
    env.setenv("DECISION_SCREEN_VAR", str(tmp_path))
    env.setenv("DATABASE_URL", "sqlite:///x.db")
    env.setenv("DECISION_SCREEN_JOB_WORKER", "0")
    env.setenv("DECISION_SCREEN_CALLBACK_ALLOW", "oa.example.gov.cn, *.intra.example,")
    env.setenv("DECISION_SCREEN_CALLBACK_ATTEMPTS", "3")
    env.setenv("DECISION_SCREEN_MAX_JOB_ROWS", "")  # empty: the default, as before
    env.setenv("DECISION_SCREEN_SESSION_SECRET", "s" * 40)
    s = Settings()
    assert s.var_dir == tmp_path and s.db_url == "sqlite:///x.db" and s.run_job_worker is False
    assert s.callback_allow == ("oa.example.gov.cn", "*.intra.example") and s.callback_max_attempts == 3
    assert s.max_job_rows == 50_000 and s.session_secret.get_secret_value() == "s" * 40
    assert s.model_backend is None and not s.rules_only


def test_arguments_win_over_the_environment(env):
    env.setenv("DECISION_SCREEN_MAX_JOB_ROWS", "7")
    assert Settings(max_job_rows=10).max_job_rows == 10 and Settings().max_job_rows == 7


@pytest.mark.parametrize("name, value, backend", [
    ("DECISION_SCREEN_MODEL", "rules-only", "rules-only"),
    ("DECISION_SCREEN_MODEL", "none", "rules-only"),
    ("DECISION_SCREEN_MODEL", "default", None),
    ("DECISION_SCREEN_BACKEND", "ensemble", "ensemble"),
])
def test_the_old_model_switches_still_work_and_warn(env, name, value, backend):
    env.setenv(name, value)
    with pytest.warns(DeprecationWarning, match="DECISION_SCREEN_MODEL_BACKEND"):
        s = Settings()
    assert s.model_backend == backend


def test_the_one_model_switch_wins_over_the_old_ones(env):
    env.setenv("DECISION_SCREEN_MODEL_BACKEND", "tfidf")
    env.setenv("DECISION_SCREEN_BACKEND", "transformer")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert Settings().model_backend == "tfidf"
    env.setenv("DECISION_SCREEN_MODEL_BACKEND", "rules-only")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert Settings().rules_only


def test_an_unknown_backend_is_refused(env):
    env.setenv("DECISION_SCREEN_MODEL_BACKEND", "bert-large")
    with pytest.raises(ValueError):
        Settings()


def test_fastapis_opentelemetry_hooks_run_only_when_switched_on(env, tmp_path, monkeypatch):
    # Off, FastAPI does not ask OpenTelemetry for its providers on every request (measurable
    # per-request work for spans nobody collects); on, a configured provider is used.
    from opentelemetry import trace

    from api.app import create_app

    class ConfiguredProvider:  # stands for an SDK provider set up by opentelemetry-instrument
        pass

    monkeypatch.setattr(trace, "get_tracer_provider", ConfiguredProvider)
    assert not create_app(Settings(var_dir=tmp_path))._native_telemetry.enabled()
    env.setenv("DECISION_SCREEN_OTEL", "1")
    assert Settings(var_dir=tmp_path).otel
    assert create_app(Settings(var_dir=tmp_path))._native_telemetry.enabled()
