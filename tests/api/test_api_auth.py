"""API keys: X-API-Key, stored hashed with a salt, scoped, revocable; nothing but health and
metrics answers without one; a new user gets a working key on first start."""
import hashlib
import os
import stat

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from api.db import api_keys

OPEN_PATHS = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def _routes(app):
    """Every operation the service serves, from its OpenAPI schema (routers are included lazily)."""
    for path, ops in app.openapi()["paths"].items():
        for method in ops:
            yield method.upper(), path


def test_every_api_path_refuses_a_request_without_a_key(service):
    checked = 0
    for method, path in _routes(service.app):
        if path in OPEN_PATHS:
            continue
        url = path.replace("{job_id}", "0" * 32).replace("{screening_id}", "0" * 32).replace("{name}", "national")
        r = service.client.request(method, url)
        assert r.status_code == 401, (method, path, r.status_code)
        assert r.json()["code"] == "missing_api_key" and r.json()["field"] == "X-API-Key"
        checked += 1
    assert checked >= 10  # every resource of the issue is behind the key


def test_only_docs_health_and_metrics_are_open(service):
    open_paths = {path for _, path in _routes(service.app) if not path.startswith("/api/")}
    assert open_paths <= OPEN_PATHS
    for path in ("/healthz", "/readyz", "/metrics"):
        assert service.client.get(path).status_code == 200


def test_a_wrong_or_malformed_key_is_refused(service):
    real = service.key
    forged = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    for bad in (forged, "dsk_00000000_nothing", "not-a-key", "dsk_" + "x" * 300):
        r = service.client.get("/api/v1/model", headers={"X-API-Key": bad})
        assert r.status_code == 401 and r.json()["code"] == "invalid_api_key", bad


def test_keys_are_stored_only_as_salted_hashes(service):
    key = service.new_key("screen")
    _, key_id, secret = key.split("_", 2)
    with service.db.read() as conn:
        rows = conn.execute(select(api_keys)).mappings().all()
    assert all(secret not in str(dict(r).values()) for r in rows)
    row = next(r for r in rows if r["id"] == key_id)
    assert row["key_hash"] == hashlib.sha256(bytes.fromhex(row["salt"]) + secret.encode()).hexdigest()
    assert len({r["salt"] for r in rows}) == len(rows)


@pytest.mark.parametrize("scopes, allowed, refused", [
    (("screen",), ("screen",), ("jobs", "feedback")),
    (("jobs",), ("jobs",), ("screen", "feedback")),
    (("feedback",), ("feedback",), ("screen", "jobs")),
    (("admin",), ("screen", "jobs", "feedback"), ()),
])
def test_scopes_decide_what_a_key_may_do(service, scopes, allowed, refused):
    key = service.new_key(*scopes)
    h = {"X-API-Key": key}
    calls = {
        "screen": lambda: service.client.post("/api/v1/screen", json={"title": "全市国土空间总体规划"}, headers=h),
        "jobs": lambda: service.client.get("/api/v1/jobs/template", headers=h),
        "feedback": lambda: service.client.post("/api/v1/feedback", json={"screening_id": "0" * 32, "agree": True},
                                                headers=h),
    }
    for scope in allowed:
        assert calls[scope]().status_code not in (401, 403), scope
    for scope in refused:
        r = calls[scope]()
        assert r.status_code == 403 and r.json()["code"] == "insufficient_scope", scope
    # Any valid key may read the profiles and the model.
    assert service.client.get("/api/v1/profiles", headers=h).status_code == 200


def test_a_revoked_key_stops_working(service):
    from api.auth import revoke_key

    key = service.new_key("screen")
    h = {"X-API-Key": key}
    assert service.client.get("/api/v1/model", headers=h).status_code == 200
    assert revoke_key(service.db, key.split("_")[1])
    service.ctx.keys.forget()
    assert service.client.get("/api/v1/model", headers=h).status_code == 401


def _cli(settings, *args):
    from decision_screen.cli import app

    env = {"DATABASE_URL": settings.db_url, "DECISION_SCREEN_VAR": str(settings.var_dir)}
    return CliRunner().invoke(app, list(args), env=env)


def test_keys_cli_creates_lists_and_revokes(settings):
    r = _cli(settings, "keys", "create", "--name", "OA 系统", "--scope", "screen", "--scope", "feedback")
    assert r.exit_code == 0, r.output
    key = r.stdout.strip().splitlines()[-1]
    assert key.startswith("dsk_")
    key_id = key.split("_")[1]
    listed = _cli(settings, "keys", "list")
    assert listed.exit_code == 0 and key_id in listed.stdout and "feedback,screen" in listed.stdout
    assert key.split("_", 2)[2] not in listed.stdout
    assert _cli(settings, "keys", "revoke", key_id).exit_code == 0
    assert _cli(settings, "keys", "revoke", key_id).exit_code == 2  # already revoked: says so
    assert _cli(settings, "keys", "create", "--name", "x", "--scope", "root").exit_code == 2


def test_first_start_creates_one_local_key_kept_private_and_shown_again(settings):
    from api.auth import list_keys, lookup
    from api.cli import ensure_local_key
    from api.db import Database, migrate

    db = Database(settings.db_url)
    migrate(db)
    key, _ = ensure_local_key(settings, db)
    assert key and lookup(db, key) is not None and lookup(db, key).allows("admin")
    path = settings.local_key_file
    assert path.read_text().strip() == key
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again, _ = ensure_local_key(settings, db)
    assert again == key and len(list_keys(db)) == 1
    db.dispose()
