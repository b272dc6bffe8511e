"""Sign-in by API key and sign-out (/ui, /ui/signin, /ui/signout)."""
from __future__ import annotations

import logging

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from ..services import keys
from ..throttle import client_address, throttle_of
from .base import (
    SIGNIN_PATH,
    checked_form,
    ctx_of,
    form_text,
    home_url,
    page_router,
    render,
    safe_next,
    session_of,
)
from .session import end_sessions, session_key

log = logging.getLogger("decision_screen.web")
router = page_router()

@router.get("/ui")
@router.get("/ui/")
async def ui_root(request: Request):
    sess = session_of(request)
    info = await run_in_threadpool(session_key, ctx_of(request).db, sess)
    return RedirectResponse(home_url(info) if info else SIGNIN_PATH, status_code=303)


@router.get(SIGNIN_PATH)
async def signin_page(request: Request, next: str | None = None, out: str | None = None):
    sess = session_of(request)
    info = await run_in_threadpool(session_key, ctx_of(request).db, sess)
    if info is not None:
        return RedirectResponse(safe_next(next) or home_url(info), status_code=303)
    return render(request, "signin.html", page="signin", next=safe_next(next) or "", signed_out=out == "1",
                  error=None)


@router.post(SIGNIN_PATH)
async def signin(request: Request):
    form = await checked_form(request)
    nxt = safe_next(form_text(form, "next", 2000))
    raw = form_text(form, "api_key", 500)
    throttle, address = throttle_of(request.app), client_address(request)
    wait = throttle.retry_after(address) if raw else None
    if wait is not None:  # the API's throttle of failed keys, shared with the pages
        response = render(request, "signin.html", status=429, page="signin", next=nxt or "", signed_out=False,
                          error=f"无效密钥尝试过多, 请 {wait} 秒后再试。")
        response.headers["Retry-After"] = str(wait)
        return response
    info = await run_in_threadpool(keys.verify, ctx_of(request).db, raw) if raw else None
    if info is None and raw:
        throttle.failed(address)
    if info is None:
        # One message for every failure: no hint whether the id exists or the key was revoked.
        error = "请粘贴 API 密钥。" if not raw else "API 密钥无效或已吊销, 请检查后重新粘贴。"
        log.info("UI sign-in refused (%s)", "empty" if not raw else "invalid key")
        return render(request, "signin.html", status=401, page="signin", next=nxt or "", signed_out=False, error=error)
    session_of(request).sign_in(info.id, info.session_generation)
    log.info("UI sign-in: key %s", info.id)
    return RedirectResponse(nxt or home_url(info), status_code=303)


@router.post("/ui/signout")
async def signout(request: Request):
    await checked_form(request)
    sess = session_of(request)
    await run_in_threadpool(end_sessions, ctx_of(request).db, sess.key_id)
    sess.sign_out()
    return RedirectResponse(f"{SIGNIN_PATH}?out=1", status_code=303)

