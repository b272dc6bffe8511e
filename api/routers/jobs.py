"""Spreadsheet jobs: upload, status, result, template."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from ..auth import KeyInfo, require
from ..downloads import XLSX, result_response, template_response
from ..jobs import public
from ..schemas import JobEvent, JobOut
from ..services import decisions as dec_service
from ..services import jobs as job_service
from .common import ERR_AUTH, ERR_INPUT, ERR_NOT_FOUND, PREFIX, ctx_of

router = APIRouter(prefix=PREFIX, tags=["jobs"])

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
    catalogue_year: str | None = Form(default=None, max_length=10,
                                      description="目录年度, 如 2027: “二季度”“下半年”等未写年份的计划时间属于该年 "
                                                  "(默认取表中日期最常见的年份) / the catalogue year"),
    key: KeyInfo = Depends(require("jobs")),
) -> JSONResponse:
    ctx = ctx_of(request)
    url = job_service.check_callback(callback_url, ctx.settings)
    profile = profile.strip() or None if profile else None
    # The body limit middleware has already capped the request; read at most one byte past the
    # file limit to tell an oversized file from a full-sized one.
    data = file.file.read(ctx.settings.max_upload_bytes + 1)
    job_service.check_size(data, ctx.settings)
    year = job_service.check_year(catalogue_year)
    job = job_service.create_from_upload(ctx, key, file.filename or "", data, profile, url, skip_bad_rows,
                                         str(request.base_url), catalogue_year=year)
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
    return template_response(format)


@router.get(
    "/jobs/{job_id}", operation_id="getJob", response_model=JobOut,
    summary="任务状态与进度 / job status and progress",
    description="status、progress (0-1)、已完成行数和各结论计数。\n\nStatus, progress (0-1), rows done and "
                "counts per verdict.",
    responses={**ERR_AUTH, **ERR_NOT_FOUND},
)
async def job_status(request: Request, job_id: str = Path(max_length=64),
                     key: KeyInfo = Depends(require("jobs"))) -> JSONResponse:
    ctx = ctx_of(request)
    job = await run_in_threadpool(job_service.get_visible, ctx, key, job_id)
    out = public(job)
    if job["status"] == "done":
        out["decisions"] = await run_in_threadpool(dec_service.counts, ctx, job["id"])
    return JSONResponse(out)


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
    job = job_service.get_visible(ctx, key, job_id)
    job_service.check_done(job)
    return result_response(ctx, job, format)
