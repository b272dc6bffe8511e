"""/healthz, /readyz and /metrics: the only paths that answer without an API key."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from ..metrics import render
from ..schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="healthz", response_model=Health,
            summary="存活检查 / liveness", description="进程在运行即返回 200。\n\n200 while the process runs.")
async def healthz():
    return {"status": "ok", "checks": {}}


def _ready(request: Request) -> tuple[bool, dict[str, str]]:
    ctx = getattr(request.app.state, "ctx", None)
    if ctx is None:
        return False, {"startup": "not finished"}
    checks = {}
    try:
        ctx.db.ping()
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    checks["screener"] = f"ok ({ctx.screener.model_version})"
    checks["record_writer"] = "ok" if ctx.recorder.alive else "stopped"
    if ctx.settings.run_job_worker:
        checks["job_worker"] = "ok" if ctx.worker is not None and ctx.worker.alive else "stopped"
    return all(v.startswith("ok") for v in checks.values()), checks


@router.get("/readyz", operation_id="readyz", response_model=Health,
            summary="就绪检查 / readiness",
            description="数据库可用、模型已加载、后台线程在运行时返回 200, 否则 503。\n\n200 when the database answers, "
                        "the model is loaded and the background threads run; 503 otherwise.",
            responses={503: {"model": Health, "description": "未就绪 / not ready"}})
async def readyz(request: Request):
    ok, checks = await run_in_threadpool(_ready, request)
    return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)


@router.get("/metrics", operation_id="metrics", summary="Prometheus 指标 / Prometheus metrics",
            description="Prometheus 文本格式。\n\nPrometheus text exposition format.",
            response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def metrics(request: Request) -> Response:
    data, content_type = await run_in_threadpool(render, request.app.state.ctx)
    return Response(data, media_type=content_type)
