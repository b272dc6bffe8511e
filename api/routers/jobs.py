"""Spreadsheet jobs: upload, status, result, template."""
from __future__ import annotations

from typing import Literal
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse

from ..auth import KeyInfo, require
from ..callback_policy import CallbackPolicy
from ..errors import ApiError
from ..export import build_result_xlsx, result_jsonl, template_csv, template_xlsx
from ..jobs import create_job, get_job, job_records, new_id, public
from ..schemas import JobEvent, JobOut
from ..uploads import parse_upload, validate_rows
from .common import ERR_AUTH, ERR_INPUT, ERR_NOT_FOUND, PREFIX, ctx_of

router = APIRouter(prefix=PREFIX, tags=["jobs"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

callbacks = APIRouter()


@callbacks.post("{$request.body#/callback_url}", operation_id="jobFinishedCallback",
                summary="任务结束通知 / job-ended notification",
                description="任务完成或失败时, 服务向 callback_url 发送 POST, 请求体为任务状态 (同 GET /api/v1/jobs/{id}) "
                            "加 event 字段。2xx 视为送达; 否则按指数退避重试 (默认 6 次)。通知在独立线程中发送, "
                            "不会阻塞筛查。\n\nWhen the job ends the service POSTs its status (as GET "
                            "/api/v1/jobs/{id} returns it, plus `event`) to callback_url. Any 2xx counts as "
                            "delivered; otherwise it retries with exponential backoff (6 tries by default), from "
                            "a thread of its own, never holding up screening.")
def job_finished(body: JobEvent) -> None:  # pragma: no cover - documentation only
    pass


def _check_callback(url: str | None, settings) -> str | None:
    if url is None or not url.strip():
        return None
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        raise ApiError(422, "bad_callback_url", "回调地址应为 http(s)://… 的完整网址",
                       "callback_url must be a full http(s):// URL", "callback_url")
    problem = CallbackPolicy.from_setting(settings.callback_allow).check_url(url)
    if problem:
        raise ApiError(422, "callback_url_not_allowed", "回调地址不在允许范围内 (见 DECISION_SCREEN_CALLBACK_ALLOW)",
                       f"callback_url not allowed: {problem}", "callback_url")
    return url


def _create(ctx, key: KeyInfo, filename: str, data: bytes, profile: str | None, callback_url: str | None,
            skip_bad_rows: bool, base_url: str) -> dict:
    profiles = set(ctx.screener.rulebooks.names())
    if profile is not None and profile not in profiles:
        raise ApiError(422, "unknown_profile", f"未知的标准: {profile} (可选: {', '.join(sorted(profiles))})",
                       f"unknown profile: {profile} (known: {', '.join(sorted(profiles))})", "profile")
    parsed = parse_upload(filename, data, ctx.settings.max_job_rows)
    errors = validate_rows(parsed, profiles, profile, limit=100)
    row_errors: dict[int, dict] = {}
    if errors and not skip_bad_rows:
        first = errors[0]
        more = f" (共至少 {len(errors)} 行有错误)" if len(errors) > 1 else ""
        raise ApiError(422, "bad_rows", f"{first['message_zh']}{more}", f"{first['message_en']}"
                       f"{f' (at least {len(errors)} rows have errors)' if len(errors) > 1 else ''}",
                       first.get("field"), row=first["row"], sheet_row=first["sheet_row"], errors=errors)
    if errors:  # skip_bad_rows: find them all, keep them as error rows of the result
        for e in validate_rows(parsed, profiles, profile, limit=len(parsed.rows)):
            row_errors[e["row"]] = e
    job_id = new_id()
    job = create_job(ctx.db, job_id=job_id, key_id=key.id, filename=filename or "upload", profile=profile,
                     rows=parsed.rows, row_errors=row_errors, callback_url=callback_url,
                     result_url=f"{base_url.rstrip('/')}/api/v1/jobs/{job_id}/result",
                     options={"ignored_columns": parsed.ignored_columns, "columns": parsed.columns,
                              "skip_bad_rows": skip_bad_rows, "file_type": parsed.file_type})
    if ctx.worker is not None:
        ctx.worker.wake.set()
    return job


@router.post(
    "/jobs", operation_id="createJob", status_code=202, response_model=JobOut, callbacks=callbacks.routes,
    summary="上传表格, 创建筛查任务 / upload a spreadsheet to screen",
    description="上传 .xlsx 或 .csv (最多 50,000 行, 20 MB; 列名见模板 GET /api/v1/jobs/template)。"
                "文件先整体校验: 有错误的行默认使整个上传返回 422 (errors 列出前 100 个, 含表格行号); "
                "skip_bad_rows=true 时这些行在结果中标为错误, 其余照常筛查。任务在后台执行, 服务重启后从中断处继续。\n\n"
                "Upload .xlsx or .csv (up to 50,000 rows and 20 MB; headings as in the template). The whole "
                "file is checked first: by default a bad row fails the upload with a 422 listing the first 100 "
                "errors with their sheet rows; with skip_bad_rows=true those rows are marked as errors in the "
                "result and the rest are screened. The job runs in the background and survives restarts.",
    responses={**ERR_AUTH, **ERR_INPUT, 415: {"description": "文件类型不支持 / unsupported file type"}},
)
def create_job_endpoint(
    request: Request,
    file: UploadFile = File(description="待筛查的 .xlsx 或 .csv / the .xlsx or .csv to screen"),
    profile: str | None = Form(default=None, max_length=64,
                               description="默认适用的标准 (行内“标准”列优先) / default rule profile"),
    callback_url: str | None = Form(default=None, max_length=2000,
                                    description="任务结束时通知的地址 / URL notified when the job ends"),
    skip_bad_rows: bool = Form(default=False, description="跳过错误行而非拒绝整个文件 / keep going past bad rows"),
    key: KeyInfo = Depends(require("jobs")),
) -> JSONResponse:
    ctx = ctx_of(request)
    url = _check_callback(callback_url, ctx.settings)
    profile = profile.strip() or None if profile else None
    # The body limit middleware has already capped the request; read at most one byte past the
    # file limit to tell an oversized file from a full-sized one.
    data = file.file.read(ctx.settings.max_upload_bytes + 1)
    if len(data) > ctx.settings.max_upload_bytes:
        mb = ctx.settings.max_upload_bytes / (1024 * 1024)
        raise ApiError(413, "file_too_large", f"文件过大: 上限 {mb:g} MB", f"file too large: the limit is {mb:g} MB",
                       "file")
    job = _create(ctx, key, file.filename or "", data, profile, url, skip_bad_rows, str(request.base_url))
    return JSONResponse(public(job), status_code=202, headers={"Location": f"/api/v1/jobs/{job['id']}"})


@router.get(
    "/jobs/template", operation_id="getJobTemplate",
    summary="下载上传模板 / download the upload template",
    description="带示例行和填写说明的 .xlsx (format=csv 为 CSV)。\n\nAn .xlsx with example rows and notes on "
                "each column (format=csv for a CSV).",
    responses={**ERR_AUTH, 200: {"content": {XLSX: {}, "text/csv": {}},
                                 "description": "模板文件 / the template file"}},
    response_class=Response,
)
def job_template(format: Literal["xlsx", "csv"] = Query(default="xlsx", description="xlsx 或 csv"),
                 key: KeyInfo = Depends(require("jobs"))) -> Response:
    if format == "csv":
        return Response(template_csv(), media_type="text/csv; charset=utf-8",
                        headers=_disposition("决策事项上传模板.csv", "upload-template.csv"))
    return Response(template_xlsx(), media_type=XLSX, headers=_disposition("决策事项上传模板.xlsx", "upload-template.xlsx"))


def _disposition(name: str, ascii_name: str | None = None) -> dict[str, str]:
    ascii_name = ascii_name or "".join(c if c.isascii() and c not in '"\\' else "_" for c in name)
    return {"Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"}


def _visible_job(ctx, job_id: str, key: KeyInfo) -> dict:
    job = get_job(ctx.db, job_id)
    # A key sees its own jobs; admin sees all. Someone else's job is "not found", not "forbidden",
    # so ids cannot be probed.
    if job is None or (job["key_id"] != key.id and not key.allows("admin")):
        raise ApiError(404, "job_not_found", "找不到该任务", "no such job", "job_id")
    return job


@router.get(
    "/jobs/{job_id}", operation_id="getJob", response_model=JobOut,
    summary="任务状态与进度 / job status and progress",
    description="status、progress (0-1)、已完成行数和各结论计数。\n\nStatus, progress (0-1), rows done and "
                "counts per verdict.",
    responses={**ERR_AUTH, **ERR_NOT_FOUND},
)
async def job_status(request: Request, job_id: str = Path(max_length=64),
                     key: KeyInfo = Depends(require("jobs"))) -> JSONResponse:
    job = await run_in_threadpool(_visible_job, ctx_of(request), job_id, key)
    return JSONResponse(public(job))


@router.get(
    "/jobs/{job_id}/result", operation_id="getJobResult",
    summary="下载结果 (目录草稿 .xlsx) / download the result (draft catalogue .xlsx)",
    description="目录草稿: 序号, 决策事项名称, 承办单位, 决策类别, 分级, 是否纳入, 需履行程序, 依据, 置信度, 理由, "
                "另有重复标记、记录编号等列, 以及“汇总”工作表 (计数与图表)。format=jsonl 返回每行完整答案。"
                "任务未完成时返回 409。\n\nThe draft catalogue in the usual columns (序号 … 理由) plus duplicate "
                "flags and record ids, and a summary sheet with counts and a chart; format=jsonl gives the "
                "full answer per row. 409 while the job is not done.",
    responses={**ERR_AUTH, **ERR_NOT_FOUND,
               409: {"description": "任务尚未完成 / the job has not finished"},
               200: {"content": {XLSX: {}, "application/x-ndjson": {}}, "description": "结果文件 / the result"}},
    response_class=Response,
)
def job_result(request: Request, job_id: str = Path(max_length=64),
               format: Literal["xlsx", "jsonl"] = Query(default="xlsx", description="xlsx 或 jsonl"),
               key: KeyInfo = Depends(require("jobs"))) -> Response:
    ctx = ctx_of(request)
    job = _visible_job(ctx, job_id, key)
    if job["status"] != "done":
        raise ApiError(409, "job_not_finished", f"任务尚未完成 (状态 {job['status']}, 进度 {job['done_rows']}/"
                       f"{job['total_rows']})", f"the job has not finished (status {job['status']}, "
                       f"{job['done_rows']}/{job['total_rows']} rows)", "job_id", job_status=job["status"])
    if format == "jsonl":
        return StreamingResponse(result_jsonl(job_records(ctx.db, job_id)), media_type="application/x-ndjson",
                                 headers=_disposition(f"screened-{job_id}.jsonl"))
    info = {**job, "model_version": ctx.screener.model_version, "rules_version": ctx.screener.rules_version}
    data = build_result_xlsx(info, job_records(ctx.db, job_id))
    return Response(data, media_type=XLSX, headers=_disposition(f"重大行政决策事项目录草稿-{job_id[:8]}.xlsx",
                                                              f"draft-catalogue-{job_id[:8]}.xlsx"))
