"""API keys: `dsk_<id>_<secret>`, sent in the X-API-Key header.

Only sha256(salt || secret) is stored, with a random salt per key, so a copy of the
database gives no usable key. Secrets are 256 random bits, which is why a fast hash is
enough (no password stretching is needed for a secret nobody chose). Verified keys are
cached for a few seconds so the hot path does not query the database on every request;
a revocation reaches every process within that time (at once in the revoking process)."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader
from sqlalchemy import insert, select, update

from model.safe_text import first_control

from .db import Database, api_keys, utcnow
from .errors import ApiError
from .throttle import client_address, throttle_of

SCOPES: tuple[str, ...] = ("screen", "jobs", "feedback", "admin")
PREFIX = "dsk"


@dataclass(frozen=True)
class KeyInfo:
    id: str
    name: str
    scopes: frozenset[str]
    session_generation: int = 0  # see end_sessions

    def allows(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes


def _hash(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode("utf-8")).hexdigest()


# Only what create_key makes: anything else (a NUL byte PostgreSQL would refuse, a stray
# character) is not a key, and never reaches the database.
_KEY_FORM = re.compile(rf"{PREFIX}_([0-9a-f]{{8}})_([A-Za-z0-9_-]{{1,128}})")


def _split(key: str) -> tuple[str, str] | None:
    m = _KEY_FORM.fullmatch(key.strip())
    return (m.group(1), m.group(2)) if m else None


def check_scopes(scopes: list[str] | tuple[str, ...]) -> list[str]:
    bad = [s for s in scopes if s not in SCOPES]
    if bad or not scopes:
        raise ValueError(f"scopes must be among {', '.join(SCOPES)}; got {', '.join(scopes) or '(none)'}")
    return sorted(set(scopes))


def check_name(name: str) -> str:
    """A key's name is shown in lists and pages: one line of text, without control characters."""
    name = (name or "").strip()
    cp = first_control(name)
    if not name or len(name) > 200 or cp is not None:
        raise ValueError(f"the key name must be 1-200 characters on one line, without control characters"
                         f"{f' (found {cp})' if cp else ''}")
    return name


def create_key(db: Database, name: str, scopes: list[str] | tuple[str, ...]) -> tuple[str, dict]:
    """Make a key; the full key is returned once and never stored."""
    scopes = check_scopes(scopes)
    name = check_name(name)
    key_id, secret, salt = secrets.token_hex(4), secrets.token_urlsafe(32), secrets.token_hex(16)
    row = {"id": key_id, "name": name, "salt": salt, "key_hash": _hash(salt, secret), "scopes": ",".join(scopes),
           "created_at": utcnow(), "revoked_at": None}
    with db.write() as conn:
        conn.execute(insert(api_keys), row)
    return f"{PREFIX}_{key_id}_{secret}", row


def list_keys(db: Database) -> list[dict]:
    with db.read() as conn:
        rows = conn.execute(select(api_keys.c.id, api_keys.c.name, api_keys.c.scopes, api_keys.c.created_at,
                                   api_keys.c.revoked_at).order_by(api_keys.c.created_at)).mappings().all()
    return [dict(r) for r in rows]


def active_key_count(db: Database) -> int:
    with db.read() as conn:
        return len(conn.execute(select(api_keys.c.id).where(api_keys.c.revoked_at.is_(None))).all())


def revoke_key(db: Database, key_id: str) -> bool:
    with db.write() as conn:
        res = conn.execute(update(api_keys).where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                           .values(revoked_at=utcnow(), session_generation=api_keys.c.session_generation + 1))
    return res.rowcount == 1


def end_sessions(db: Database, key_id: str) -> None:
    """End every page session signed in with this key (sign-out): their cookies carry the old
    generation and are refused from the next request on, in every process."""
    with db.write() as conn:
        conn.execute(update(api_keys).where(api_keys.c.id == key_id)
                     .values(session_generation=api_keys.c.session_generation + 1))


def lookup(db: Database, key: str) -> KeyInfo | None:
    parts = _split(key)
    if parts is None:
        return None
    key_id, secret = parts
    with db.read() as conn:
        row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).mappings().first()
    if row is None or row["revoked_at"] is not None:
        return None
    if not hmac.compare_digest(_hash(row["salt"], secret), row["key_hash"]):
        return None
    return KeyInfo(row["id"], row["name"], frozenset(row["scopes"].split(",")), row["session_generation"])


class KeyVerifier:
    def __init__(self, db: Database, ttl: float):
        self.db, self.ttl = db, ttl
        self._cache: dict[str, tuple[KeyInfo, float]] = {}
        self._lock = threading.Lock()

    def cached(self, key: str) -> KeyInfo | None:
        hit = self._cache.get(key)
        if hit is not None and hit[1] > time.monotonic():
            return hit[0]
        return None

    def load(self, key: str) -> KeyInfo | None:
        info = lookup(self.db, key)
        if info is not None:
            with self._lock:
                if len(self._cache) > 10_000:  # bounded: only valid keys get here, but be safe
                    self._cache.clear()
                self._cache[key] = (info, time.monotonic() + self.ttl)
        return info

    def forget(self, key_id: str | None = None) -> None:
        with self._lock:
            if key_id is None:
                self._cache.clear()
            else:
                for k in [k for k, (v, _) in self._cache.items() if v.id == key_id]:
                    del self._cache[k]


api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, scheme_name="ApiKey",
    description="API 密钥 (`decision-screen keys create`) / API key, created with `decision-screen keys create`")


def too_many_failures(wait: int) -> ApiError:
    return ApiError(429, "too_many_failed_keys", f"来自该地址的无效密钥过多, 请 {wait} 秒后再试",
                    f"too many invalid API keys from this address: try again in {wait} s", "X-API-Key",
                    headers={"Retry-After": str(wait)}, retry_after=wait)


async def verify_throttled(request: Request, verify, key: str) -> KeyInfo:
    """verify(key) in a worker thread, unless this client address has failed too often of late
    (429); a failure counts against the address (api/throttle.py)."""
    throttle, address = throttle_of(request.app), client_address(request)
    wait = throttle.retry_after(address)
    if wait is not None:
        raise too_many_failures(wait)
    info = await run_in_threadpool(verify, key)
    if info is None:
        throttle.failed(address)
        raise ApiError(401, "invalid_api_key", "API 密钥无效或已吊销", "invalid or revoked API key", "X-API-Key")
    return info


def require(scope: str | None, *alternatives: str):
    """A dependency that admits a key holding `scope` (or one of `alternatives`; admin holds all).
    scope=None admits any valid key.

    It reads the header itself instead of through a nested Security(APIKeyHeader) dependency:
    FastAPI's resolution of a nested dependency cost more per request than the whole key check
    (bench/bench_all.py, issue 13). `document_keys` puts the security scheme back into the
    OpenAPI document, on every operation that uses this dependency."""

    async def dependency(request: Request) -> KeyInfo:
        key = request.headers.get(KEY_HEADER)
        if not key:
            raise ApiError(401, "missing_api_key", "缺少 API 密钥: 请在请求头 X-API-Key 中提供",
                           "missing API key: send it in the X-API-Key header", "X-API-Key")
        verifier: KeyVerifier = request.app.state.ctx.keys
        info = verifier.cached(key)  # a key this process verified moments ago passes even when throttled
        if info is None:
            info = await verify_throttled(request, verifier.load, key)
        wanted = (scope, *alternatives) if scope else ()
        if wanted and not any(info.allows(s) for s in wanted):
            raise ApiError(403, "insufficient_scope", f"该密钥没有所需权限: {' 或 '.join(wanted)}",
                           f"this key lacks the required scope: {' or '.join(wanted)}", "X-API-Key",
                           required_scopes=list(wanted))
        request.state.key = info
        return info

    dependency.needs_api_key = True
    return dependency


KEY_HEADER = "X-API-Key"


def _needs_key(dependant) -> bool:
    return any(getattr(d.call, "needs_api_key", False) or _needs_key(d) for d in dependant.dependencies)


def document_keys(app, routers) -> None:
    """The OpenAPI document of `app` with the API-key scheme (components.securitySchemes.ApiKey)
    and `security: [{ApiKey: []}]` on every operation of `routers` (included in `app` without a
    further prefix) whose route depends on `require`, as FastAPI writes them for a
    Security(APIKeyHeader) dependency."""
    from fastapi.encoders import jsonable_encoder
    from fastapi.routing import APIRoute

    build = app.openapi
    routes = [r for router in routers for r in router.routes]

    def openapi() -> dict:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        scheme = jsonable_encoder(api_key_header.model, by_alias=True, exclude_none=True)
        schema.setdefault("components", {}).setdefault("securitySchemes", {})[api_key_header.scheme_name] = scheme
        for route in routes:
            if isinstance(route, APIRoute) and route.include_in_schema and _needs_key(route.dependant):
                ops = schema.get("paths", {}).get(route.path_format, {})
                for method in route.methods:
                    if method.lower() in ops:
                        ops[method.lower()].setdefault("security", []).append({api_key_header.scheme_name: []})
        app.openapi_schema = schema
        return schema

    app.openapi = openapi
