"""批量筛查 /ui/batch: upload a spreadsheet, follow the job, see its rows and download the draft
catalogue. Uploads and downloads go through the same services as /api/v1/jobs."""
from __future__ import annotations

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.datastructures import UploadFile

from ..auth import KeyInfo
from ..downloads import result_response, template_response
from ..errors import ApiError
from ..services import jobs as job_service
from . import batch_view
from .base import (
    UPLOAD_PATH,
    PageError,
    checked_form,
    ctx_of,
    form_text,
    page_router,
    profile_choices,
    render,
    signed_in,
)

router = page_router()

def _batch_context(request: Request, key: KeyInfo) -> dict:
    ctx = ctx_of(request)
    return {"profiles": profile_choices(request), "jobs": batch_view.recent_jobs(ctx, key),
            "max_upload_bytes": ctx.settings.max_upload_bytes, "max_job_rows": ctx.settings.max_job_rows}


@router.get("/ui/batch")
async def batch_page(request: Request, key: KeyInfo = Depends(signed_in("jobs"))):
    context = await run_in_threadpool(_batch_context, request, key)
    return render(request, "batch.html", page="batch", upload_error=None, **context)


@router.get("/ui/batch/template.xlsx")
def batch_template_xlsx(key: KeyInfo = Depends(signed_in("jobs"))):
    return template_response("xlsx")


@router.get("/ui/batch/template.csv")
def batch_template_csv(key: KeyInfo = Depends(signed_in("jobs"))):
    return template_response("csv")


async def _create_job(request: Request, key: KeyInfo, upload, profile: str | None, skip_bad_rows: bool,
                      year_text: str) -> dict:
    """The job made from the upload form, or the ApiError that says why not."""
    ctx = ctx_of(request)
    year = job_service.check_year(year_text)
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise ApiError(422, "no_file", "请选择要上传的 .xlsx 或 .csv 文件。", "choose a file", "file")
    data = await upload.read(ctx.settings.max_upload_bytes + 1)
    if len(data) > ctx.settings.max_upload_bytes:
        mb = ctx.settings.max_upload_bytes / (1024 * 1024)
        raise ApiError(413, "file_too_large", f"文件过大: 上限 {mb:g} MB, 请拆分后上传。", "file too large", "file")
    # The service POST /api/v1/jobs uses: the same checks, the same queue and worker.
    return await run_in_threadpool(job_service.create_from_upload, ctx, key, upload.filename, data, profile, None,
                                   skip_bad_rows, str(request.base_url), year)


@router.post(UPLOAD_PATH)
async def batch_upload(request: Request, key: KeyInfo = Depends(signed_in("jobs"))):
    form = await checked_form(request)
    upload = form.get("file")
    profile = form_text(form, "profile", 64) or None
    skip_bad_rows = form_text(form, "skip_bad_rows") in ("on", "true", "1")
    year_text = form_text(form, "catalogue_year", 10)
    job = None
    try:
        job = await _create_job(request, key, upload, profile, skip_bad_rows, year_text)
        error = None
    except ApiError as exc:
        error = {"message_zh": exc.zh, "errors": exc.extra.get("errors") or [], "code": exc.code}
    if job is None:
        context = await run_in_threadpool(_batch_context, request, key)
        return render(request, "batch.html", status=422, page="batch", upload_error=error,
                      upload_values={"profile": profile or "", "skip_bad_rows": skip_bad_rows,
                                     "catalogue_year": year_text}, **context)
    return RedirectResponse(f"/ui/batch/{job['id']}", status_code=303)


def _visible_job(request: Request, key: KeyInfo, job_id: str, api: bool = False) -> dict:
    try:
        return job_service.get_visible(ctx_of(request), key, job_id)
    except ApiError:
        raise PageError(404, "找不到该任务", "该任务不存在, 或不属于当前密钥。", api=api, code="job_not_found") from None


@router.get("/ui/batch/{job_id}")
async def job_page(request: Request, job_id: str, key: KeyInfo = Depends(signed_in("jobs"))):
    job = await run_in_threadpool(_visible_job, request, key, job_id)
    names = {p["id"]: p["name"] for p in profile_choices(request)}
    return render(request, "job.html", page="batch", job=batch_view.job_view(job),
                  profile_name=names.get(job.get("profile") or "", job.get("profile") or ""))


@router.get("/ui/batch/{job_id}/status.json")
async def job_status(request: Request, job_id: str, key: KeyInfo = Depends(signed_in("jobs", api=True))):
    job = await run_in_threadpool(_visible_job, request, key, job_id, True)
    return JSONResponse(batch_view.job_view(job))


@router.get("/ui/batch/{job_id}/rows.json")
async def job_rows(request: Request, job_id: str, key: KeyInfo = Depends(signed_in("jobs", api=True))):
    job = await run_in_threadpool(_visible_job, request, key, job_id, True)
    if job["status"] != "done":
        raise PageError(409, "job not finished", "任务尚未完成", api=True, code="job_not_finished")
    data = await run_in_threadpool(batch_view.job_rows, ctx_of(request), job["id"])
    return JSONResponse(data)


@router.get("/ui/batch/{job_id}/result.xlsx")
def job_result(request: Request, job_id: str, key: KeyInfo = Depends(signed_in("jobs"))):
    job = _visible_job(request, key, job_id)
    if job["status"] != "done":
        raise PageError(409, "任务尚未完成", f"任务尚未完成 (已完成 {job['done_rows']}/{job['total_rows']} 行), "
                        "完成后即可下载目录草稿。")
    return result_response(ctx_of(request), job, "xlsx")

