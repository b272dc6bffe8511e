"""What every reviewer page shares: the route class that turns sign-in redirects and page
errors into responses and adds the session cookie and security headers, the templates, the
signed-in dependency, the CSRF-checked form and small form helpers.

Auth: see session.py (signed cookie holding the key id, CSRF token on every POST form)."""
from __future__ import annotations

import hashlib
import logging
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..auth import KeyInfo
from .session import (
    COOKIE,
    COOKIE_PATH,
    CSRF_FIELD,
    CSRF_HEADER,
    MAX_AGE_SECONDS,
    Session,
    read_session,
    session_key,
    session_secret,
    write_session,
)

log = logging.getLogger("decision_screen.web")

WEB_DIR = Path(__file__).resolve().parent
TEMPLATE_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
STATIC_URL = "/ui/static"
# The spreadsheet upload. The app's body-size middleware gives the upload limit (not the 2 MB
# JSON one) only to the paths it is told about: add this one to its upload_paths.
UPLOAD_PATH = "/ui/batch"
SIGNIN_PATH = "/ui/signin"

SCOPE_ZH = {"screen": "单项研判 (screen)", "jobs": "表格任务 (jobs)", "feedback": "审核反馈 (feedback)",
            "admin": "管理员 (admin)"}
# (page id, url, label, scopes of which the key needs one; empty: any valid key)
PAGES = (("screen", "/ui/screen", "单项研判", ("screen",)), ("batch", "/ui/batch", "批量筛查", ("jobs",)),
         ("history", "/ui/history", "历史与反馈", ()))
# Pages send no third-party requests and run no inline script: what a CSP can pin down, it does.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}



# -- plumbing: errors, session cookie, headers ---------------------------------------------------

class SignInRequired(Exception):
    def __init__(self, api: bool = False):
        self.api = api


class PageError(Exception):
    """A page that cannot be shown: rendered as a Chinese error page (or a JSON error for the
    .json endpoints the scripts call)."""

    def __init__(self, status: int, title: str, message: str, api: bool = False, code: str = "ui_error"):
        super().__init__(message)
        self.status, self.title, self.message, self.api, self.code = status, title, message, api, code


class UiRoute(APIRoute):
    """Every page's response passes through here: redirects and error pages for the exceptions
    above, the session cookie when it changed, and the security headers."""

    def get_route_handler(self):
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await inner(request)
            except SignInRequired as exc:
                response = _signin_redirect(request, exc.api)
            except PageError as exc:
                response = _error_response(request, exc)
            except StarletteHTTPException as exc:  # e.g. a malformed multipart body
                log.info("UI request refused: %s %s", exc.status_code, exc.detail)
                response = _error_response(request, PageError(
                    exc.status_code, "请求无效", "请求无法解析 (表单格式有误)。请返回页面重新提交。"))
            _finish(request, response)
            return response

        return handler


def static_files() -> StaticFiles:
    return StaticFiles(directory=str(STATIC_DIR))


@lru_cache(maxsize=64)
def _static_version(name: str) -> str:
    path = STATIC_DIR / name
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10] if path.is_file() else "0"


def static_url(name: str) -> str:
    # The content hash in the URL: a new release is never shown with a stale cached script.
    return f"{STATIC_URL}/{name}?v={_static_version(name)}"


def _pct(value) -> str:
    return "—" if value is None else f"{float(value) * 100:.1f}%"


@lru_cache(maxsize=1)
def templates():
    """The pages' Jinja2 environment, made on the first page rendered (jinja2 is not imported
    at start: a process that only answers the JSON API never loads it)."""
    from fastapi.templating import Jinja2Templates

    made = Jinja2Templates(directory=str(TEMPLATE_DIR))
    made.env.globals["static_url"] = static_url
    made.env.filters["pct"] = _pct
    return made


def ctx_of(request: Request):
    return request.app.state.ctx


def _secret(request: Request) -> str:
    settings = ctx_of(request).settings
    configured = settings.session_secret.get_secret_value() if settings.session_secret else None
    return session_secret(settings.var_dir, configured)


def session_of(request: Request) -> Session:
    sess = getattr(request.state, "ui_session", None)
    if sess is None:
        secret = _secret(request)
        sess = read_session(request.cookies.get(COOKIE), secret)
        request.state.ui_session = sess
    return sess


def _finish(request: Request, response: Response) -> None:
    sess = getattr(request.state, "ui_session", None)
    if sess is not None and sess.dirty:
        response.set_cookie(COOKIE, write_session(sess, _secret(request)),
                            max_age=MAX_AGE_SECONDS, path=COOKIE_PATH, httponly=True, samesite="lax",
                            secure=request.url.scheme == "https")
    for k, v in SECURITY_HEADERS.items():
        response.headers.setdefault(k, v)
    # Pages show one key's records: never kept by a shared cache or the back-forward cache of another user.
    response.headers.setdefault("Cache-Control", "no-store")


def safe_next(value: str | None) -> str | None:
    """Only our own pages may be the target after sign-in (no open redirect)."""
    if not value or not value.startswith("/ui/") or value.startswith(("//", SIGNIN_PATH, STATIC_URL)):
        return None
    if "\\" in value or any(ord(c) < 32 for c in value):
        return None
    return value


def _signin_redirect(request: Request, api: bool) -> Response:
    if api:
        return JSONResponse({"code": "signed_out", "message_zh": "登录已失效, 请重新登录",
                             "message_en": "the session has ended: sign in again", "field": None}, status_code=401)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    nxt = safe_next(target) if request.method == "GET" else None
    return RedirectResponse(SIGNIN_PATH + (f"?next={quote(nxt, safe='')}" if nxt else ""), status_code=303)


def _error_response(request: Request, exc: PageError) -> Response:
    if exc.api:
        return JSONResponse({"code": exc.code, "message_zh": exc.message, "message_en": exc.title, "field": None},
                            status_code=exc.status)
    return render(request, "error.html", status=exc.status, page=None, title=exc.title, message=exc.message)


def _nav(key: KeyInfo | None) -> list[dict]:
    if key is None:
        return []
    return [{"id": pid, "url": url, "label": label} for pid, url, label, scopes in PAGES
            if not scopes or any(key.allows(s) for s in scopes)]


def home_url(key: KeyInfo) -> str:
    return _nav(key)[0]["url"]


def render(request: Request, template: str, status: int = 200, **context) -> Response:
    key = getattr(request.state, "ui_key", None)
    scr = ctx_of(request).screener
    base = {"key": key, "csrf_token": session_of(request).csrf, "csrf_field": CSRF_FIELD, "nav": _nav(key),
            "versions": {"model": scr.model_version, "rules": scr.rules_version},
            "scopes_zh": [SCOPE_ZH.get(s, s) for s in sorted(key.scopes)] if key else []}
    return templates().TemplateResponse(request, template, {**base, **context}, status_code=status)


def signed_in(*scopes: str, api: bool = False):
    """A dependency: the signed-in key, which must hold one of `scopes` (admin holds all)."""

    async def dependency(request: Request) -> KeyInfo:
        sess = session_of(request)
        if not sess.key_id:
            raise SignInRequired(api)
        info = await run_in_threadpool(session_key, ctx_of(request).db, sess)
        if info is None:  # revoked or deleted, or signed out elsewhere, since sign-in
            sess.sign_out()
            raise SignInRequired(api)
        request.state.ui_key = info
        if scopes and not any(info.allows(s) for s in scopes):
            need = " 或 ".join(SCOPE_ZH.get(s, s) for s in scopes)
            raise PageError(403, "权限不足", f"当前密钥没有此页面所需的权限: {need}。请使用具有该权限的密钥登录, "
                            "或请管理员用 decision-screen keys create 创建。", api=api, code="insufficient_scope")
        return info

    return dependency


async def checked_form(request: Request) -> FormData:
    """The POSTed form, once its CSRF token matches the session's."""
    form = await request.form()
    token = form.get(CSRF_FIELD)
    token = token if isinstance(token, str) else request.headers.get(CSRF_HEADER)
    if not session_of(request).csrf_ok(token):
        raise PageError(403, "表单已失效", "表单已过期或并非从本站页面提交 (安全校验未通过)。请返回页面刷新后重新提交。",
                        code="csrf_failed")
    return form


def saved_id(value: str | None) -> str | None:
    """The id of the feedback just saved (shown as a confirmation), from the redirect's query."""
    return value if value and value.isdigit() and len(value) < 20 else None


def form_text(form: FormData, name: str, limit: int = 5000) -> str:
    v = form.get(name)
    return v.strip()[:limit] if isinstance(v, str) else ""


def page_router() -> APIRouter:
    """A router for one page's routes: every response passes through UiRoute."""
    return APIRouter(route_class=UiRoute, include_in_schema=False)


def profile_choices(request: Request) -> list[dict]:
    rb = ctx_of(request).screener.rulebooks
    return [{"id": n, "name": rb.get(n).summary()["name"]} for n in rb.names()]
