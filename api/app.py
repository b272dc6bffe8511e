"""The FastAPI application: `uvicorn api.app:create_app --factory` (or `decision-screen serve`)."""
from __future__ import annotations

import gc
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from model.learned.base import one_blas_thread
from model.screener import Screener

from . import docs, errors, web
from .auth import document_keys
from .context import AppContext
from .metrics import MetricsMiddleware
from .middleware import BodyLimitMiddleware, SecurityHeadersMiddleware, UrlTextMiddleware
from .routers import catalogue, feedback, health, jobs, meta, screen
from .routers.common import PREFIX
from .settings import Settings, from_env

DESCRIPTION = """
重大行政决策事项筛查服务: 判断拟议事项是否属于重大行政决策、理由与依据、分级, 以及决策前必须履行的法定程序。
结论是辅助意见, 最终由人决定。

Screens proposed government matters for 重大行政决策 (major administrative decision) scope: the verdict,
its reasons and legal basis, the tier, and the statutory procedures to go through before deciding.
A second opinion: a person always has the last word.

**鉴权 / auth**: 除 /healthz、/readyz、/metrics 外, 所有请求需在请求头 `X-API-Key` 中提供密钥
(`decision-screen keys create`)。Every path except /healthz, /readyz and /metrics needs a key in the
`X-API-Key` header.

**错误 / errors**: 所有错误均为 `{code, message_zh, message_en, field}`, 与命令行一致; 输入错误为 4xx,
从不返回 500。Every error is `{code, message_zh, message_en, field}`, as in the CLI; bad input is a 4xx.
"""
TAGS = [
    {"name": "screen", "description": "筛查单个或一批事项 / screen one matter or a batch"},
    {"name": "jobs", "description": "上传表格异步筛查, 下载目录草稿 / spreadsheet jobs and the draft catalogue"},
    {"name": "feedback", "description": "审核人的同意/不同意意见 / reviewers' agree or disagree"},
    {"name": "meta", "description": "标准与模型 / rule profiles and the model"},
    {"name": "health", "description": "健康检查与指标 (无需密钥) / health and metrics (no key)"},
]


_NO_TELEMETRY = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}


def create_app(settings: Settings | None = None, screener: Screener | None = None) -> FastAPI:
    """The app. `screener` lets an embedding program (or a test suite) share one loaded engine."""
    one_blas_thread()  # `uvicorn api.app:create_app --factory` comes here before numpy loads
    settings = settings or from_env()
    logging.getLogger("decision_screen").setLevel(logging.INFO)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        ctx = await run_in_threadpool(AppContext.start, settings, screener)
        # The rulebooks, model and dictionaries are hundreds of thousands of long-lived objects;
        # moved out of the collector's sight, full collections stop pausing requests for tens of ms.
        # (No collection first: at this point it finds nothing to free and costs 0.08 s of start.)
        if settings.freeze_gc:
            gc.freeze()
        app.state.ctx = ctx
        try:
            yield
        finally:
            await run_in_threadpool(ctx.stop)

    app = FastAPI(
        title="decision-screen API", version="1.0.0", description=DESCRIPTION, openapi_tags=TAGS,
        lifespan=lifespan,
        telemetry=None if settings.otel else _NO_TELEMETRY,
        # The documentation routes are api/docs.py's: behind a key or a page session unless
        # DECISION_SCREEN_PUBLIC_DOCS=1.
        docs_url=None, redoc_url=None, openapi_url=None,
    )
    errors.install(app)
    app.include_router(screen.router)
    app.include_router(jobs.router)
    app.include_router(catalogue.router)
    app.include_router(feedback.router)
    app.include_router(meta.router)
    app.include_router(health.router)
    app.include_router(web.router)
    app.include_router(docs.router)
    # A person who opens the bare address lands on the pages, not on a 404.
    app.add_api_route("/", lambda: RedirectResponse("/ui/", status_code=307), include_in_schema=False)
    # The key scheme in the OpenAPI document (the key check reads the header itself, api/auth.py).
    document_keys(app, [screen.router, jobs.router, catalogue.router, feedback.router, meta.router, health.router])
    app.mount(web.STATIC_URL, web.static_files(), name="ui-static")
    # Outermost last: metrics see every response, the 413s of the body limit included.
    app.add_middleware(BodyLimitMiddleware, json_limit=settings.max_json_bytes, upload_limit=settings.max_upload_bytes,
                       upload_paths=frozenset({f"{PREFIX}/jobs", web.UPLOAD_PATH}))
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(UrlTextMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, static_prefix=f"{web.STATIC_URL}/")
    return app
