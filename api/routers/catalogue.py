"""The catalogue year of a finished job: a decision per row, fixing and re-screening a row, the
official catalogue and its mid-year adjustments, near-duplicates, and the shared procedure
tracking board (with its .ics calendar and the post-decision evaluation list)."""
from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from ..auth import KeyInfo, require
from ..downloads import XLSX, disposition
from ..errors import ApiError
from ..schemas import AdjustmentIn, RowPatch, TickIn
from ..services import catalogue as cat_service
from ..services import decisions as dec_service
from ..services import jobs as job_service
from ..services import tracking as track_service
from .common import ERR_AUTH, ERR_INPUT, ERR_NOT_FOUND, PREFIX, ctx_of

router = APIRouter(prefix=PREFIX, tags=["catalogue"])
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ERR_DONE = {409: {"description": "任务尚未完成 / the job has not finished"}}
JobId = Path(max_length=64, description="任务编号 / job id")
RowNo = Path(ge=1, le=10_000_000, description="数据行号 (从1开始, 即任务表中的行号) / 1-based data row")


def _day(value: str | None, field: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ApiError(422, "bad_date", f"日期“{value[:20]}”无效, 应为 YYYY-MM-DD", f"{field} must be YYYY-MM-DD",
                       field) from None


@router.get(
    "/jobs/{job_id}/rows", operation_id="listJobRows",
    summary="任务各行及审核决策 / the job's rows with their decisions",
    description="按行号顺序列出各行: 原表序号 (seq)、事项、结论、概率、警告、审核决策 (谁、何时、理由)。可按 decision "
                "(adopt/reject/pending/undecided) 或 verdict (major/not_major/review/error) 筛选。\n\nThe rows in "
                "order with the department's own 序号 (seq), verdict, probability, warnings and decision.",
    responses={**ERR_AUTH, **ERR_NOT_FOUND},
)
async def list_rows(request: Request, job_id: str = JobId,
                    decision: Literal["adopt", "reject", "pending", "undecided"] | None = Query(default=None),
                    verdict: Literal["major", "not_major", "review", "error"] | None = Query(default=None),
                    offset: int = Query(default=0, ge=0, le=10_000_000), limit: int = Query(default=100, ge=1, le=1000),
                    key: KeyInfo = Depends(require("jobs"))) -> JSONResponse:
    out = await run_in_threadpool(dec_service.list_rows, ctx_of(request), key, job_id, decision, verdict, offset,
                                  limit)
    return JSONResponse(out)


@router.get(
    "/jobs/{job_id}/rows/{row}", operation_id="getJobRow", summary="任务中的一行及其审核决策 / one row of a job with its decision",
    responses={**ERR_AUTH, **ERR_NOT_FOUND},
)
async def get_row(request: Request, job_id: str = JobId, row: int = RowNo,
                  key: KeyInfo = Depends(require("jobs"))) -> JSONResponse:
    return JSONResponse(await run_in_threadpool(dec_service.get_row, ctx_of(request), key, job_id, row))


@router.patch(
    "/jobs/{job_id}/rows/{row}", operation_id="patchJobRow",
    summary="审核决策 / 更正并重新筛查一行 / decide on a row, or fix and re-screen it",
    description="decision: adopt (采纳) / reject (不采纳) / pending (待定), 附 reason; 记录审核人和时间, 并作为审核反馈用于"
                "再训练。fields: 更正该行的字段 (如 planned_date、title), 保存后该行立即重新筛查, 决策保留。两者可同时给出"
                "(先更正后决策)。\n\nRecord the compiler's decision (who and when; adopt/reject also become "
                "reviewer feedback for retraining), and/or correct the row's fields and screen it again.",
    responses={**ERR_AUTH, **ERR_INPUT, **ERR_NOT_FOUND, **ERR_DONE},
)
async def patch_row(body: RowPatch, request: Request, job_id: str = JobId, row: int = RowNo,
                    key: KeyInfo = Depends(require("jobs"))) -> JSONResponse:
    ctx = ctx_of(request)
    if body.decision is None and body.fields is None:
        raise ApiError(422, "nothing_to_change", "请给出 decision (审核决策) 或 fields (更正的字段)",
                       "give a decision or fields to correct", "decision")
    out = None
    if body.fields is not None:
        out = await run_in_threadpool(dec_service.fix_row, ctx, key, job_id, row, body.fields, body.reason,
                                      body.reviewer)
    if body.decision is not None:
        out = await run_in_threadpool(dec_service.decide, ctx, key, job_id, row, body.decision, body.reason,
                                      body.reviewer)
    return JSONResponse(out)


@router.get(
    "/jobs/{job_id}/near-duplicates", operation_id="getNearDuplicates",
    summary="近似重复事项 / near-duplicate matters",
    description="不同单位以不同措辞报送的同一事项 (如“…用水价格调整方案”与“关于调整…用水价格的实施方案”), 附各自的计划"
                "时间, date_conflict 表示时间不一致。\n\nRows naming nearly the same matter, with both planned "
                "dates; date_conflict when they differ.",
    responses={**ERR_AUTH, **ERR_NOT_FOUND},
)
async def near_duplicates(request: Request, job_id: str = JobId,
                          key: KeyInfo = Depends(require("jobs"))) -> JSONResponse:
    ctx = ctx_of(request)
    job = await run_in_threadpool(job_service.get_visible, ctx, key, job_id)
    near = await run_in_threadpool(job_service.near_duplicates, ctx, job["id"])
    return JSONResponse({"job_id": job["id"], "rows": [{"row": r, "matches": m} for r, m in sorted(near.items())]})


@router.get(
    "/jobs/{job_id}/catalogue", operation_id="getCatalogue",
    summary="正式目录 (采纳的事项) / the official catalogue (adopted rows)",
    description="format=xlsx 或 docx: 常用目录格式 (序号, 决策事项名称, 承办单位, 决策事项说明, 计划完成时间, 需履行的程序, "
                "备注), 含标题行、横向打印、表头每页重复、筛选, 北京时间, 以及“变更记录”。format=json 返回目录数据、版本和"
                "变更记录。\n\nThe adopted (not withdrawn) rows in the usual catalogue layout, ready to print, with "
                "a change log; format=json gives the data.",
    responses={**ERR_AUTH, **ERR_NOT_FOUND, **ERR_DONE,
               200: {"content": {XLSX: {}, DOCX: {}, "application/json": {}}, "description": "目录 / the catalogue"}},
    response_class=Response,
)
def get_catalogue(request: Request, job_id: str = JobId,
                  format: Literal["xlsx", "docx", "json"] = Query(default="xlsx", description="xlsx、docx 或 json"),
                  title: str | None = Query(default=None, max_length=100,
                                            description="标题 (默认“YYYY年度重大行政决策事项目录”)"),
                  key: KeyInfo = Depends(require("jobs"))) -> Response:
    ctx = ctx_of(request)
    if format == "json":
        return JSONResponse(cat_service.catalogue(ctx, key, job_id))
    if title:
        from ..errors import check_text

        check_text(title, "title")
    data, name = cat_service.export(ctx, key, job_id, format, title)
    ascii_name = f"catalogue-{job_id[:8]}.{format}"
    return Response(data, media_type=XLSX if format == "xlsx" else DOCX, headers=disposition(name, ascii_name))


@router.post(
    "/jobs/{job_id}/catalogue/adjustments", operation_id="adjustCatalogue", status_code=201,
    summary="年中调整目录 (新增、撤回、调整时间) / mid-year adjustment",
    description="一次调整生成新的目录版本号 (第2版、第3版…), 须说明理由; changes 中每项为 add (fields)、withdraw (row) "
                "或 reschedule (row, planned_date)。\n\nOne adjustment makes the next numbered version, with a "
                "reason; each change adds a matter, withdraws one, or moves its planned date.",
    responses={**ERR_AUTH, **ERR_INPUT, **ERR_NOT_FOUND, **ERR_DONE},
)
async def adjust(body: AdjustmentIn, request: Request, job_id: str = JobId,
                 key: KeyInfo = Depends(require("jobs"))) -> JSONResponse:
    changes = [c.model_dump(exclude_none=True) for c in body.changes]
    out = await run_in_threadpool(cat_service.adjust, ctx_of(request), key, job_id, body.reason, changes,
                                  body.reviewer)
    return JSONResponse(out, status_code=201)


@router.get(
    "/jobs/{job_id}/tracking", operation_id="getTrackingBoard",
    summary="程序跟踪看板 / the procedure tracking board",
    description="目录中每个事项须履行的程序及其期限 (按工作日历推算)、勾选情况 (谁、何时), 按承办单位列出已逾期和即将到期"
                "(soon 个工作日内) 的程序, 以及应开展决策后评估的事项。today 默认北京时间今天。\n\nEach catalogue "
                "matter's procedures with deadlines and ticks; overdue and due-soon lists by unit; the evaluation list.",
    responses={**ERR_AUTH, **ERR_NOT_FOUND, **ERR_DONE},
)
async def tracking_board(request: Request, job_id: str = JobId,
                         today: str | None = Query(default=None, max_length=10, description="YYYY-MM-DD"),
                         soon: int = Query(default=10, ge=1, le=250, description="即将到期: 工作日数"),
                         key: KeyInfo = Depends(require("jobs"))) -> JSONResponse:
    out = await run_in_threadpool(track_service.board, ctx_of(request), key, job_id, _day(today, "today"), soon)
    return JSONResponse(out)


@router.post(
    "/jobs/{job_id}/tracking/ticks", operation_id="tickProcedure",
    summary="勾选程序完成情况 / tick a procedure",
    description="在数据库中记录某事项某程序已完成 (done=false 取消), 含操作人和时间, 所有能看到该任务的用户共享。\n\n"
                "Stored in the database with who and when, shared by everyone who may see the job.",
    responses={**ERR_AUTH, **ERR_INPUT, **ERR_NOT_FOUND, **ERR_DONE},
)
async def tick(body: TickIn, request: Request, job_id: str = JobId,
               key: KeyInfo = Depends(require("jobs"))) -> JSONResponse:
    out = await run_in_threadpool(track_service.tick, ctx_of(request), key, job_id, body.row, body.procedure,
                                  body.done, body.note, body.reviewer)
    return JSONResponse(out)


@router.get(
    "/jobs/{job_id}/tracking.ics", operation_id="getTrackingCalendar",
    summary="程序期限日历 (.ics) / the deadlines as an iCalendar file",
    responses={**ERR_AUTH, **ERR_NOT_FOUND, **ERR_DONE,
               200: {"content": {"text/calendar": {}}, "description": "iCalendar"}},
    response_class=Response,
)
def tracking_ics(request: Request, job_id: str = JobId, key: KeyInfo = Depends(require("jobs"))) -> Response:
    data = track_service.ics(ctx_of(request), key, job_id)
    return Response(data, media_type="text/calendar; charset=utf-8",
                    headers=disposition(f"重大行政决策程序节点-{job_id[:8]}.ics", f"deadlines-{job_id[:8]}.ics"))


@router.get(
    "/jobs/{job_id}/evaluations", operation_id="getEvaluationList",
    summary="应开展决策后评估的事项 / decisions due for post-decision evaluation",
    responses={**ERR_AUTH, **ERR_NOT_FOUND, **ERR_DONE},
)
async def evaluations(request: Request, job_id: str = JobId,
                      today: str | None = Query(default=None, max_length=10, description="YYYY-MM-DD"),
                      within_days: int = Query(default=30, ge=0, le=3660, description="今后多少天内到期"),
                      key: KeyInfo = Depends(require("jobs"))) -> JSONResponse:
    ctx = ctx_of(request)
    day = _day(today, "today")

    def run():
        from model.dates import local_today

        job = dec_service.done_job(ctx, key, job_id)
        return {"job_id": job["id"],
                "items": track_service.evaluation_list(ctx, job, day or local_today(), within_days)}

    return JSONResponse(await run_in_threadpool(run))
