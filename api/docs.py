"""The API documentation: Swagger UI (/docs), ReDoc (/redoc) and the OpenAPI document
(/openapi.json).

They list every endpoint and field, which helps a prober as much as an integrator, so by
default only a key holder sees them: /openapi.json answers a request carrying a valid
X-API-Key; a browser opening /docs or /redoc is sent to the same pages under /ui (/ui/docs,
/ui/redoc, reading /ui/openapi.json), which need a signed-in page session (the session cookie
is scoped to /ui). DECISION_SCREEN_PUBLIC_DOCS=1 opens /docs, /redoc and /openapi.json to
anyone who can reach the service, as for a local single-user run.

Swagger UI's and ReDoc's scripts and styles are served by this service (the copies the
fastapi-offline package ships, under /docs-assets), never from a CDN: the pages work offline."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response

from .auth import require
from .errors import ApiError

router = APIRouter(include_in_schema=False)
TITLE = "decision-screen API"
ASSETS_URL = "/docs-assets"
_ASSETS_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
# Only these files, by name: the route never turns a request path into a file path.
_ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
           "redoc.standalone.js": "text/javascript", "favicon.png": "image/png"}


def _swagger(openapi_url: str) -> Response:
    return get_swagger_ui_html(openapi_url=openapi_url, title=TITLE,
                               swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
                               swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
                               swagger_favicon_url=f"{ASSETS_URL}/favicon.png")


def _redoc(openapi_url: str) -> Response:
    return get_redoc_html(openapi_url=openapi_url, title=TITLE, redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
                          redoc_favicon_url=f"{ASSETS_URL}/favicon.png", with_google_fonts=False)


@router.get(ASSETS_URL + "/{name}")
async def docs_asset(name: str) -> Response:
    if name not in _ASSETS:
        raise ApiError(404, "not_found", "没有该文件", "no such file")
    return FileResponse(_ASSETS_DIR / name, media_type=_ASSETS[name])


def _public(request: Request) -> bool:
    return bool(request.app.state.ctx.settings.public_docs)


async def _signed_in(request: Request) -> bool:
    from .web.base import session_of
    from .web.session import session_key

    return await run_in_threadpool(session_key, request.app.state.ctx.db, session_of(request)) is not None


def _to_signin(path: str) -> Response:
    return RedirectResponse(f"/ui/signin?next={quote(path, safe='')}", status_code=303)


@router.get("/openapi.json")
async def openapi_document(request: Request) -> Response:
    if not _public(request):
        await require(None)(request)  # 401/429 in the error shape
    return JSONResponse(request.app.openapi())


@router.get("/docs")
async def swagger(request: Request) -> Response:
    if not _public(request):
        return RedirectResponse("/ui/docs", status_code=303)
    return _swagger("/openapi.json")


@router.get("/redoc")
async def redoc(request: Request) -> Response:
    if not _public(request):
        return RedirectResponse("/ui/redoc", status_code=303)
    return _redoc("/openapi.json")


@router.get("/ui/openapi.json")
async def openapi_document_for_pages(request: Request) -> Response:
    if not (_public(request) or await _signed_in(request)):
        raise ApiError(401, "signed_out", "请先登录再查看接口文档", "sign in to read the API documentation")
    return JSONResponse(request.app.openapi())


@router.get("/ui/docs")
async def swagger_for_pages(request: Request) -> Response:
    if not (_public(request) or await _signed_in(request)):
        return _to_signin("/ui/docs")
    return _swagger("/ui/openapi.json")


@router.get("/ui/redoc")
async def redoc_for_pages(request: Request) -> Response:
    if not (_public(request) or await _signed_in(request)):
        return _to_signin("/ui/redoc")
    return _redoc("/ui/openapi.json")
