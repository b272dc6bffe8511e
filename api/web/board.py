"""目录执行跟踪 /ui/batch/{job}/board: the shared board of a job's catalogue (the adopted rows),
the official catalogue's downloads and the mid-year adjustments. Every tick and adjustment is
stored in the database by api.services.tracking / api.services.catalogue (who and when), so
every browser of every signed-in user sees the same board."""
from __future__ import annotations

import datetime as dt

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from model.vocab import PROCEDURE_NAMES

from ..auth import KeyInfo
from ..downloads import XLSX, disposition
from ..errors import ApiError
from ..services import catalogue as catalogue_service
from ..services import tracking
from ..services.history import beijing
from .base import PageError, checked_form, ctx_of, form_text, page_router, render, signed_in
from .review import _job

router = page_router()
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ADJUST_ZH = {"add": "新增事项", "withdraw": "撤回事项", "reschedule": "调整计划时间"}
KIND_ZH = {"latest_finish": "最迟完成", "latest_start": "最迟启动", "earliest": "最早可办"}


def _day(value: str | None) -> dt.date | None:
    """The board's "as of" day from ?date= (to look ahead, e.g. at the evaluations due next year)."""
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _board_context(request: Request, key: KeyInfo, job: dict, today: dt.date | None) -> dict:
    ctx = ctx_of(request)
    data = tracking.board(ctx, key, job["id"], today)
    for item in data["items"]:
        for p in item["procedures"]:
            p["kind_zh"] = KIND_ZH.get(p["deadline_kind"], "")
            if p["tick"]:
                p["tick"]["when"] = beijing(p["tick"]["ticked_at"])
    versions = [{**v, "when": beijing(v["created_at"])} for v in catalogue_service.versions(ctx, job["id"])]
    return {"board": data, "catalogue_versions": versions, "version_now": catalogue_service.version_now(ctx, job["id"]),
            "job": job, "adjust_actions": list(ADJUST_ZH.items())}


@router.get("/ui/batch/{job_id}/board")
async def board_page(request: Request, job_id: str, date: str | None = None, saved: str | None = None,
                     key: KeyInfo = Depends(signed_in("jobs"))):
    job = await run_in_threadpool(_job, request, key, job_id)
    context = await run_in_threadpool(_board_context, request, key, job, _day(date))
    return render(request, "board.html", page="batch", saved=saved if saved in ("tick", "adjust") else None,
                  as_of=date if _day(date) else "", adjust_error=None, adjust_values={}, **context)


@router.post("/ui/batch/{job_id}/board/tick")
async def tick_submit(request: Request, job_id: str, key: KeyInfo = Depends(signed_in("jobs"))):
    form = await checked_form(request)
    job = await run_in_threadpool(_job, request, key, job_id)
    procedure = form_text(form, "procedure", 32)
    try:
        row_no = int(form_text(form, "row", 10))
    except ValueError:
        raise PageError(422, "请求无效", "缺少行号。") from None
    if procedure not in PROCEDURE_NAMES:
        raise PageError(422, "请求无效", f"未知的程序: {procedure}")
    try:
        await run_in_threadpool(tracking.tick, ctx_of(request), key, job["id"], row_no, procedure,
                                form_text(form, "done") != "0", form_text(form, "note", 500) or None,
                                form_text(form, "reviewer", 200) or None)
    except ApiError as exc:
        raise PageError(exc.status, "未能保存", exc.zh) from None
    as_of = form_text(form, "as_of", 10)
    query = f"saved=tick{'&date=' + as_of if _day(as_of) else ''}"
    return RedirectResponse(f"/ui/batch/{job['id']}/board?{query}#item-{row_no}", status_code=303)


@router.post("/ui/batch/{job_id}/board/adjust")
async def adjust_submit(request: Request, job_id: str, key: KeyInfo = Depends(signed_in("jobs"))):
    """One mid-year adjustment (add, withdraw or reschedule) as the catalogue's next version."""
    form = await checked_form(request)
    job = await run_in_threadpool(_job, request, key, job_id)
    values = {k: form_text(form, k, 2000) for k in ("action", "row", "planned_date", "title", "unit", "reason",
                                                    "reviewer")}
    change: dict = {"action": values["action"]}
    error = None
    if values["action"] == "add":
        change["fields"] = {k: values[k] for k in ("title", "unit", "planned_date") if values[k]}
    elif values["action"] in ("withdraw", "reschedule"):
        try:
            change["row"] = int(values["row"])
        except ValueError:
            error = "请填写目录中事项的行号。"
        if values["action"] == "reschedule":
            change["planned_date"] = values["planned_date"]
    else:
        error = "请选择调整方式: 新增、撤回或调整计划时间。"
    if error is None:
        try:
            await run_in_threadpool(catalogue_service.adjust, ctx_of(request), key, job["id"], values["reason"],
                                    [change], values["reviewer"] or None)
        except ApiError as exc:
            error = exc.zh
    if error:
        context = await run_in_threadpool(_board_context, request, key, job, None)
        return render(request, "board.html", status=422, page="batch", saved=None, as_of="", adjust_error=error,
                      adjust_values=values, **context)
    return RedirectResponse(f"/ui/batch/{job['id']}/board?saved=adjust#versions", status_code=303)


@router.get("/ui/batch/{job_id}/board.ics")
def board_ics(request: Request, job_id: str, key: KeyInfo = Depends(signed_in("jobs"))):
    job = _job(request, key, job_id)
    data = tracking.ics(ctx_of(request), key, job["id"])
    return Response(data, media_type="text/calendar; charset=utf-8",
                    headers=disposition("重大行政决策程序节点.ics", "catalogue-deadlines.ics"))


@router.get("/ui/batch/{job_id}/catalogue.{fmt}")
def catalogue_download(request: Request, job_id: str, fmt: str, key: KeyInfo = Depends(signed_in("jobs"))):
    if fmt not in ("xlsx", "docx"):
        raise PageError(404, "找不到该文件", "正式目录可导出为 .xlsx 或 .docx。")
    job = _job(request, key, job_id)
    data, name = catalogue_service.export(ctx_of(request), key, job["id"], fmt)
    return Response(data, media_type=XLSX if fmt == "xlsx" else DOCX,
                    headers=disposition(name, f"catalogue-{job['id']}.{fmt}"))
