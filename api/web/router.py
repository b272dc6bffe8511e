"""The reviewer pages (DESIGN.md §1): 单项研判 /ui/screen, 批量筛查 /ui/batch, 历史与反馈 /ui/history.

Server-rendered Jinja2 templates with a little vanilla JavaScript; every asset is served from
api/web/static (no CDN, no web fonts). The pages run the *same* code as the JSON API: a
screening goes through the app's batcher and is recorded like POST /api/v1/screen, feedback
through the feedback route's own `_record`, uploads through the jobs route's `_create`, and
downloads through its template and result functions, so the API and the pages never disagree.

Mounted by api.app.create_app with

    app.include_router(web.router)
    app.mount(web.STATIC_URL, web.static_files(), name="ui-static")

Auth: see session.py (signed cookie holding the key id, CSRF token on every POST form)."""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from model.contract import MAX_DESCRIPTION, MAX_TITLE, parse_matter
from model.errors import ScreenInputError

from .. import metrics
from ..auth import KeyInfo, lookup
from ..errors import ApiError
from ..routers import feedback as feedback_api
from ..routers import jobs as jobs_api
from ..routers import screen as screen_api
from ..schemas import FeedbackIn
from . import batch as batch_view
from . import history as history_view
from .present import (
    CATEGORY_CHOICES,
    EXCLUSION_CHOICES,
    LEVEL_CHOICES,
    SOURCE_ZH,
    VERDICT_ZH,
    answer_view,
    beijing,
)
from .session import (
    COOKIE,
    COOKIE_PATH,
    CSRF_FIELD,
    CSRF_HEADER,
    MAX_AGE_SECONDS,
    Session,
    key_by_id,
    read_session,
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
NUMBER_FIELDS = (("amount_wan", "金额(万元)"), ("people", "涉及人数"), ("area_mu", "面积(亩)"),
                 ("length_km", "长度(公里)"), ("duration_years", "期限(年)"))
TEXT_FIELDS = ("title", "description", "unit", "profile", "level", "planned_date")


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


router = APIRouter(route_class=UiRoute, include_in_schema=False)
templates = Jinja2Templates(directory=str(TEMPLATE_DIR))


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
    return "" if value is None else f"{float(value) * 100:.1f}%"


templates.env.globals["static_url"] = static_url
templates.env.filters["pct"] = _pct


def _ctx(request: Request):
    return request.app.state.ctx


def _session(request: Request) -> Session:
    sess = getattr(request.state, "ui_session", None)
    if sess is None:
        secret = session_secret(_ctx(request).settings.var_dir)
        sess = read_session(request.cookies.get(COOKIE), secret)
        request.state.ui_session = sess
    return sess


def _finish(request: Request, response: Response) -> None:
    sess = getattr(request.state, "ui_session", None)
    if sess is not None and sess.dirty:
        response.set_cookie(COOKIE, write_session(sess, session_secret(_ctx(request).settings.var_dir)),
                            max_age=MAX_AGE_SECONDS, path=COOKIE_PATH, httponly=True, samesite="lax",
                            secure=request.url.scheme == "https")
    for k, v in SECURITY_HEADERS.items():
        response.headers.setdefault(k, v)
    # Pages show one key's records: never kept by a shared cache or the back-forward cache of another user.
    response.headers.setdefault("Cache-Control", "no-store")


def _safe_next(value: str | None) -> str | None:
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
    nxt = _safe_next(target) if request.method == "GET" else None
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


def _home(key: KeyInfo) -> str:
    return _nav(key)[0]["url"]


def render(request: Request, template: str, status: int = 200, **context) -> Response:
    key = getattr(request.state, "ui_key", None)
    scr = _ctx(request).screener
    base = {"key": key, "csrf_token": _session(request).csrf, "csrf_field": CSRF_FIELD, "nav": _nav(key),
            "versions": {"model": scr.model_version, "rules": scr.rules_version},
            "scopes_zh": [SCOPE_ZH.get(s, s) for s in sorted(key.scopes)] if key else []}
    return templates.TemplateResponse(request, template, {**base, **context}, status_code=status)


def signed_in(*scopes: str, api: bool = False):
    """A dependency: the signed-in key, which must hold one of `scopes` (admin holds all)."""

    async def dependency(request: Request) -> KeyInfo:
        sess = _session(request)
        if not sess.key_id:
            raise SignInRequired(api)
        info = await run_in_threadpool(key_by_id, _ctx(request).db, sess.key_id)
        if info is None:  # revoked or deleted since sign-in
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
    if not _session(request).csrf_ok(token):
        raise PageError(403, "表单已失效", "表单已过期或并非从本站页面提交 (安全校验未通过)。请返回页面刷新后重新提交。",
                        code="csrf_failed")
    return form


def _saved(value: str | None) -> str | None:
    """The id of the feedback just saved (shown as a confirmation), from the redirect's query."""
    return value if value and value.isdigit() and len(value) < 20 else None


def _text(form: FormData, name: str, limit: int = 5000) -> str:
    v = form.get(name)
    return v.strip()[:limit] if isinstance(v, str) else ""


# -- sign-in ---------------------------------------------------------------------------------------

@router.get("/ui")
@router.get("/ui/")
async def ui_root(request: Request):
    sess = _session(request)
    info = await run_in_threadpool(key_by_id, _ctx(request).db, sess.key_id) if sess.key_id else None
    return RedirectResponse(_home(info) if info else SIGNIN_PATH, status_code=303)


@router.get(SIGNIN_PATH)
async def signin_page(request: Request, next: str | None = None, out: str | None = None):
    sess = _session(request)
    info = await run_in_threadpool(key_by_id, _ctx(request).db, sess.key_id) if sess.key_id else None
    if info is not None:
        return RedirectResponse(_safe_next(next) or _home(info), status_code=303)
    return render(request, "signin.html", page="signin", next=_safe_next(next) or "", signed_out=out == "1",
                  error=None)


@router.post(SIGNIN_PATH)
async def signin(request: Request):
    form = await checked_form(request)
    nxt = _safe_next(_text(form, "next", 2000))
    raw = _text(form, "api_key", 500)
    info = await run_in_threadpool(lookup, _ctx(request).db, raw) if raw else None
    if info is None:
        # One message for every failure: no hint whether the id exists or the key was revoked.
        error = "请粘贴 API 密钥。" if not raw else "API 密钥无效或已吊销, 请检查后重新粘贴。"
        log.info("UI sign-in refused (%s)", "empty" if not raw else "invalid key")
        return render(request, "signin.html", status=401, page="signin", next=nxt or "", signed_out=False, error=error)
    _session(request).sign_in(info.id)
    log.info("UI sign-in: key %s", info.id)
    return RedirectResponse(nxt or _home(info), status_code=303)


@router.post("/ui/signout")
async def signout(request: Request):
    await checked_form(request)
    _session(request).sign_out()
    return RedirectResponse(f"{SIGNIN_PATH}?out=1", status_code=303)


# -- 单项研判 -----------------------------------------------------------------------------------------

def _profiles(request: Request) -> list[dict]:
    rb = _ctx(request).screener.rulebooks
    return [{"id": n, "name": rb.get(n).summary()["name"]} for n in rb.names()]


def _visible_record(request: Request, key: KeyInfo, screening_id: str) -> dict:
    ctx = _ctx(request)
    rec = screen_api.load_screening(ctx, screening_id) if len(screening_id) <= 64 else None
    # Someone else's record is "not found", as the jobs API does, so ids cannot be probed.
    if rec is None or (rec["key_id"] != key.id and not key.allows("admin")):
        raise PageError(404, "找不到该筛查记录", "该记录不存在, 或不属于当前密钥。")
    return rec


def _feedback_of(request: Request, screening_id: str) -> list[dict]:
    from sqlalchemy import select

    from ..db import feedback

    with _ctx(request).db.read() as conn:
        rows = conn.execute(select(feedback).where(feedback.c.screening_id == screening_id)
                            .order_by(feedback.c.id)).mappings().all()
    return [{**dict(r), "created": beijing(r["created_at"])} for r in rows]


def _record_context(request: Request, key: KeyInfo, rec: dict) -> dict:
    matter = rec["input"] or {}
    return {
        "record": {"id": rec["id"], "created": beijing(rec["created_at"]), "source": rec["source"],
                   "source_zh": SOURCE_ZH.get(rec["source"], rec["source"]), "job_id": rec["job_id"],
                   "row_no": rec["row_no"], "error": rec["error"], "model_version": rec["model_version"],
                   "rules_version": rec["rules_version"]},
        "matter": matter,
        "view": answer_view(rec["answer"], matter, _ctx(request).screener) if rec["answer"] else None,
        "feedback": _feedback_of(request, rec["id"]),
        "can_feedback": key.allows("feedback"), "can_screen": key.allows("screen"),
        "category_choices": CATEGORY_CHOICES, "exclusion_choices": EXCLUSION_CHOICES,
    }


def _screen_form_context(request: Request, values: dict | None = None, errors: dict | None = None) -> dict:
    return {"profiles": _profiles(request), "default_profile": _ctx(request).screener.default_profile,
            "levels": LEVEL_CHOICES, "number_fields": NUMBER_FIELDS, "values": values or {},
            "errors": errors or {}, "max_title": MAX_TITLE, "max_description": MAX_DESCRIPTION}


@router.get("/ui/screen")
async def screen_page(request: Request, id: str | None = None, saved: str | None = None,
                      key: KeyInfo = Depends(signed_in("screen"))):
    context: dict = {}
    values: dict = {}
    if id:
        rec = await run_in_threadpool(_visible_record, request, key, id)
        context = await run_in_threadpool(_record_context, request, key, rec)
        values = _form_values(rec["input"])
    return render(request, "screen.html", page="screen", saved=_saved(saved), return_to="screen",
                  **_screen_form_context(request, values), **context)


def _form_values(matter: dict | None) -> dict:
    """A stored matter as the form shows it: 314400.0 reads as 314400."""
    out = {}
    for k, v in (matter or {}).items():
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        out[k] = "" if v is None else str(v)
    return out


def _matter_from_form(form: FormData) -> tuple[dict, dict, dict]:
    """The form's values as typed (to show them again), the matter for the contract, and the
    errors per field in Chinese."""
    values = {name: _text(form, name, 25_000) for name in TEXT_FIELDS + tuple(n for n, _ in NUMBER_FIELDS)}
    errors: dict[str, str] = {}
    matter: dict = {k: values[k] for k in TEXT_FIELDS if values[k]}
    for name, label in NUMBER_FIELDS:
        raw = values[name].replace(",", "").replace("，", "")
        if not raw:
            continue
        try:
            number = float(raw)
        except ValueError:
            errors[name] = f"{label}应为数字, 例如 3000 或 12.5"
            continue
        if not math.isfinite(number) or number < 0:
            errors[name] = f"{label}应为不小于 0 的数字"
            continue
        matter[name] = number
    return values, matter, errors


@router.post("/ui/screen")
async def screen_submit(request: Request, key: KeyInfo = Depends(signed_in("screen"))):
    form = await checked_form(request)
    values, matter, errors = _matter_from_form(form)
    parsed = None
    if not errors:
        try:
            parsed = parse_matter(matter)
        except ScreenInputError as exc:
            errors[exc.field or "title"] = exc.zh
    ctx = _ctx(request)
    answer = None
    if parsed is not None:
        try:
            # The app's batcher, as POST /api/v1/screen uses it (an unknown profile is refused here).
            answer = await ctx.batcher.screen(parsed)
        except ScreenInputError as exc:
            errors[exc.field or "title"] = exc.zh
    if answer is None:
        return render(request, "screen.html", status=422, page="screen", saved=None, return_to="screen",
                      form_error="请修改标出的字段后重新提交。", **_screen_form_context(request, values, errors))
    answer_json = answer.model_dump_json()
    rec = screen_api._record(ctx, key, "screen", parsed, answer_json, answer.verdict)
    # Committed before the redirect, not queued like the API's records: the page that follows
    # reads it back (possibly from another worker process), and a reviewer's feedback links to it.
    await run_in_threadpool(ctx.write_now, [rec])
    metrics.SCREENINGS.labels("screen", answer.verdict).inc()
    return RedirectResponse(f"/ui/screen?id={rec['id']}#result", status_code=303)


@router.get("/ui/screenings/{screening_id}")
async def record_page(request: Request, screening_id: str, saved: str | None = None,
                      key: KeyInfo = Depends(signed_in("screen", "feedback", "jobs"))):
    rec = await run_in_threadpool(_visible_record, request, key, screening_id)
    context = await run_in_threadpool(_record_context, request, key, rec)
    return render(request, "record.html", page="history", saved=_saved(saved), return_to="record", **context)


@router.post("/ui/screenings/{screening_id}/feedback")
async def feedback_submit(request: Request, screening_id: str, key: KeyInfo = Depends(signed_in("feedback"))):
    form = await checked_form(request)
    rec = await run_in_threadpool(_visible_record, request, key, screening_id)
    return_to = "screen" if _text(form, "return_to") == "screen" and key.allows("screen") else "record"
    values = {k: _text(form, k, 6000) for k in ("agree", "label", "category", "exclusion", "comment", "reviewer")}
    error, field = None, None
    fid = None
    if values["agree"] not in ("yes", "no"):
        error, field = "请选择“同意”或“不同意”。", "agree"
    else:
        try:
            body = FeedbackIn(screening_id=rec["id"], agree=values["agree"] == "yes", label=values["label"] or None,
                              category=values["category"] or None, exclusion=values["exclusion"] or None,
                              comment=values["comment"] or None, reviewer=values["reviewer"] or None)
            # The feedback route's own code: the same checks, the same committed row.
            fid = (await run_in_threadpool(feedback_api._record, _ctx(request), body, key))["id"]
        except ValidationError as exc:
            err = exc.errors()[0]
            field = str(err["loc"][0]) if err.get("loc") else None
            error = {"comment": "意见过长 (最多 5000 字)。", "reviewer": "审核人过长 (最多 200 字)。"}.get(
                field or "", "反馈内容无效, 请检查后重新提交。")
        except ApiError as exc:
            error, field = exc.zh, exc.field
    if fid is not None:
        target = f"/ui/screen?id={rec['id']}" if return_to == "screen" else f"/ui/screenings/{rec['id']}"
        return RedirectResponse(f"{target}{'&' if '?' in target else '?'}saved={fid}#feedback", status_code=303)
    context = await run_in_threadpool(_record_context, request, key, rec)
    context.update(feedback_error=error, feedback_field=field, feedback_values=values)
    if return_to == "screen":
        matter_values = _form_values(rec["input"])
        return render(request, "screen.html", status=422, page="screen", saved=None, return_to="screen",
                      **_screen_form_context(request, matter_values), **context)
    return render(request, "record.html", status=422, page="history", saved=None, return_to="record", **context)


# -- 批量筛查 -----------------------------------------------------------------------------------------

def _batch_context(request: Request, key: KeyInfo) -> dict:
    ctx = _ctx(request)
    return {"profiles": _profiles(request), "jobs": batch_view.recent_jobs(ctx.db, key),
            "max_upload_bytes": ctx.settings.max_upload_bytes, "max_job_rows": ctx.settings.max_job_rows}


@router.get("/ui/batch")
async def batch_page(request: Request, key: KeyInfo = Depends(signed_in("jobs"))):
    context = await run_in_threadpool(_batch_context, request, key)
    return render(request, "batch.html", page="batch", upload_error=None, **context)


@router.get("/ui/batch/template.xlsx")
def batch_template_xlsx(key: KeyInfo = Depends(signed_in("jobs"))):
    return jobs_api.job_template("xlsx", key)


@router.get("/ui/batch/template.csv")
def batch_template_csv(key: KeyInfo = Depends(signed_in("jobs"))):
    return jobs_api.job_template("csv", key)


@router.post(UPLOAD_PATH)
async def batch_upload(request: Request, key: KeyInfo = Depends(signed_in("jobs"))):
    form = await checked_form(request)
    ctx = _ctx(request)
    upload = form.get("file")
    profile = _text(form, "profile", 64) or None
    skip_bad_rows = _text(form, "skip_bad_rows") in ("on", "true", "1")
    error: dict | None = None
    job = None
    if not isinstance(upload, UploadFile) or not upload.filename:
        error = {"message_zh": "请选择要上传的 .xlsx 或 .csv 文件。", "errors": []}
    else:
        data = await upload.read(ctx.settings.max_upload_bytes + 1)
        if len(data) > ctx.settings.max_upload_bytes:
            mb = ctx.settings.max_upload_bytes / (1024 * 1024)
            error = {"message_zh": f"文件过大: 上限 {mb:g} MB, 请拆分后上传。", "errors": []}
        else:
            try:
                # The jobs route's own code: the same checks, the same queue and worker.
                job = await run_in_threadpool(jobs_api._create, ctx, key, upload.filename, data, profile, None,
                                              skip_bad_rows, str(request.base_url))
            except ApiError as exc:
                error = {"message_zh": exc.zh, "errors": exc.extra.get("errors") or [], "code": exc.code}
    if job is None:
        context = await run_in_threadpool(_batch_context, request, key)
        return render(request, "batch.html", status=422, page="batch", upload_error=error,
                      upload_values={"profile": profile or "", "skip_bad_rows": skip_bad_rows}, **context)
    return RedirectResponse(f"/ui/batch/{job['id']}", status_code=303)


def _visible_job(request: Request, key: KeyInfo, job_id: str, api: bool = False) -> dict:
    try:
        return jobs_api._visible_job(_ctx(request), job_id[:64], key)
    except ApiError:
        raise PageError(404, "找不到该任务", "该任务不存在, 或不属于当前密钥。", api=api, code="job_not_found") from None


@router.get("/ui/batch/{job_id}")
async def job_page(request: Request, job_id: str, key: KeyInfo = Depends(signed_in("jobs"))):
    job = await run_in_threadpool(_visible_job, request, key, job_id)
    return render(request, "job.html", page="batch", job=batch_view.job_view(job))


@router.get("/ui/batch/{job_id}/status.json")
async def job_status(request: Request, job_id: str, key: KeyInfo = Depends(signed_in("jobs", api=True))):
    job = await run_in_threadpool(_visible_job, request, key, job_id, True)
    return JSONResponse(batch_view.job_view(job))


@router.get("/ui/batch/{job_id}/rows.json")
async def job_rows(request: Request, job_id: str, key: KeyInfo = Depends(signed_in("jobs", api=True))):
    job = await run_in_threadpool(_visible_job, request, key, job_id, True)
    if job["status"] != "done":
        raise PageError(409, "job not finished", "任务尚未完成", api=True, code="job_not_finished")
    data = await run_in_threadpool(batch_view.job_rows, _ctx(request).db, job["id"])
    return JSONResponse(data)


@router.get("/ui/batch/{job_id}/result.xlsx")
def job_result(request: Request, job_id: str, key: KeyInfo = Depends(signed_in("jobs"))):
    job = _visible_job(request, key, job_id)
    if job["status"] != "done":
        raise PageError(409, "任务尚未完成", f"任务尚未完成 (已完成 {job['done_rows']}/{job['total_rows']} 行), "
                        "完成后即可下载目录草稿。")
    return jobs_api.job_result(request, job["id"], "xlsx", key)


# -- 历史与反馈 ---------------------------------------------------------------------------------------

@router.get("/ui/history")
async def history_page(request: Request, key: KeyInfo = Depends(signed_in())):
    view = "feedback" if request.query_params.get("view") == "feedback" else "screenings"
    f = history_view.Filters.from_params(request.query_params)
    db = _ctx(request).db

    def load():
        if view == "feedback":
            rows, more = history_view.list_feedback(db, key, f)
            total = history_view.count_feedback(db, key, f)
        else:
            rows, more = history_view.list_screenings(db, key, f)
            total = history_view.count_screenings(db, key, f)
        return rows, more, total

    rows, more, total = await run_in_threadpool(load)
    return render(request, "history.html", page="history", view=view, f=f, rows=rows, more=more, total=total,
                  page_size=history_view.PAGE_SIZE, verdict_choices=[(k, v) for k, v in VERDICT_ZH.items()],
                  source_choices=list(SOURCE_ZH.items()), is_admin=key.allows("admin"))


def _csv_response(chunks, name: str) -> StreamingResponse:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M")
    zh, ascii_name = f"{name[0]}-{stamp}.csv", f"{name[1]}-{stamp}.csv"
    return StreamingResponse(chunks, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(zh)}"})


@router.get("/ui/history/screenings.csv")
def history_screenings_csv(request: Request, key: KeyInfo = Depends(signed_in())):
    f = history_view.Filters.from_params(request.query_params)
    return _csv_response(history_view.export_screenings(_ctx(request).db, key, f), ("筛查记录", "screenings"))


@router.get("/ui/history/feedback.csv")
def history_feedback_csv(request: Request, key: KeyInfo = Depends(signed_in())):
    f = history_view.Filters.from_params(request.query_params)
    return _csv_response(history_view.export_feedback(_ctx(request).db, key, f), ("审核反馈", "feedback"))
