"""Sign-in state of the reviewer pages: a signed session cookie and a CSRF token per session.

The browser never holds the API key itself: the sign-in page checks the pasted key with
api.services.keys.verify and keeps only the key's *id* in a cookie signed with itsdangerous.
Every request looks that id up again (api.services.keys.by_id, one indexed read), so a key revoked with `decision-screen keys
revoke` signs its pages out at once, and a scope change takes effect on the next page.

Signing out ends the session in the database too, not only in the browser that signed out:
the cookie carries the key's session generation (api_keys.session_generation), and signing
out (or revoking the key) raises it, so a copy of the cookie taken before sign-out is refused
from the next request on. The generation belongs to the key, so signing out ends every page
session signed in with that key, in every browser.

CSRF: each session carries a random token; every POST form sends it back in a hidden field
and the server compares it in constant time. The cookie is also SameSite=Lax and HttpOnly,
but SameSite alone is not enough here: another port on the same host is the *same site*.

The signing secret is DECISION_SCREEN_SESSION_SECRET, or else a random one created once in
the var directory (mode 0600), so that sessions survive restarts and every uvicorn worker of
one service signs with the same secret."""
from __future__ import annotations

import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ..auth import KeyInfo
from ..auth import end_sessions as end_sessions_of_key
from ..services import keys

COOKIE = "ds_ui_session"
COOKIE_PATH = "/ui"
# Idle timeout: a working day. Signing in again costs one paste.
MAX_AGE_SECONDS = 8 * 3600
# The cookie is re-signed (extending the idle timeout) at most this often, not on every request.
REFRESH_AFTER_SECONDS = 600
SECRET_FILE = "ui_session_secret"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

_secrets: dict[str, str] = {}
_secret_lock = threading.Lock()


def session_secret(var_dir: Path, configured: str | None = None) -> str:
    """The configured secret (Settings.session_secret, from $DECISION_SCREEN_SESSION_SECRET), else
    one kept in var_dir."""
    if configured and configured.strip():
        return configured.strip()
    path = (Path(var_dir) / SECRET_FILE).resolve()
    with _secret_lock:
        hit = _secrets.get(str(path))
        if hit is not None:
            return hit
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # O_EXCL: when several workers start at once exactly one creates the file and the
            # others read what it wrote (below), so all of them sign alike.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            value = ""
            for _ in range(50):  # the creator may not have written it yet
                value = path.read_text(encoding="utf-8").strip()
                if value:
                    break
                time.sleep(0.02)
            if not value:
                raise RuntimeError(f"empty session secret file {path}; delete it and restart") from None
        else:
            value = secrets.token_urlsafe(48)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(value + "\n")
        _secrets[str(path)] = value
        return value


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="decision-screen.ui.session")


@dataclass
class Session:
    key_id: str | None
    csrf: str
    dirty: bool = False  # must be (re)written to the cookie
    generation: int = 0  # the key's session generation at sign-in
    cleared: bool = False
    extra: dict = field(default_factory=dict)

    @classmethod
    def new(cls) -> Session:
        return cls(key_id=None, csrf=secrets.token_urlsafe(32), dirty=True)

    def sign_in(self, key_id: str, generation: int = 0) -> None:
        # A new token at sign-in: a token planted before sign-in (session fixation) is worthless.
        self.key_id, self.csrf, self.dirty = key_id, secrets.token_urlsafe(32), True
        self.generation = generation

    def sign_out(self) -> None:
        self.key_id, self.csrf, self.dirty, self.cleared = None, secrets.token_urlsafe(32), True, True

    def csrf_ok(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token).encode(), self.csrf.encode())


def read_session(cookie: str | None, secret: str, now: float | None = None) -> Session:
    """The session in the cookie, or a fresh anonymous one when there is none or it is forged,
    expired or unreadable."""
    if not cookie:
        return Session.new()
    try:
        data, signed_at = _serializer(secret).loads(cookie, max_age=MAX_AGE_SECONDS, return_timestamp=True)
    except (BadSignature, SignatureExpired, ValueError, TypeError):
        return Session.new()
    if not isinstance(data, dict) or not isinstance(data.get("c"), str) or len(data["c"]) < 16:
        return Session.new()
    key_id = data.get("k") if isinstance(data.get("k"), str) else None
    age = (now or time.time()) - signed_at.timestamp()
    generation = data.get("g") if isinstance(data.get("g"), int) else 0
    return Session(key_id=key_id, csrf=data["c"], dirty=age > REFRESH_AFTER_SECONDS, generation=generation)


def write_session(session: Session, secret: str) -> str:
    return _serializer(secret).dumps({"k": session.key_id, "c": session.csrf, "g": session.generation})


def session_key(db, session: Session) -> KeyInfo | None:
    """The key this session is signed in with: None when signed out, when the key is revoked,
    and when the key signed out since (its generation moved on)."""
    if not session.key_id:
        return None
    info = keys.by_id(db, session.key_id)
    if info is None or info.session_generation != session.generation:
        return None
    return info


def end_sessions(db, key_id: str | None) -> None:
    """Sign-out: every cookie of this key's sessions stops working, copies included."""
    if key_id:
        end_sessions_of_key(db, key_id)
