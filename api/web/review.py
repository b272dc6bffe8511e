"""逐条研判 /ui/batch/{job}/rows/{row}: one row of a finished job with its full answer, the
compiler's decision on it (采纳 / 不采纳 / 待定, the same service as PATCH
/api/v1/jobs/{job}/rows/{row}), a form to fix its fields and screen it again, and the review
queue's previous / next (the rows a person must look at: 待人工研判 and rows that could not be
screened, in row order)."""
from __future__ import annotations

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse

from ..auth import KeyInfo
from ..errors import ApiError
from ..services import decisions as decision_service
from ..services import jobs as job_service
from ..services.history import beijing
from . import batch_view
from .base import PageError, checked_form, ctx_of, form_text, page_router, render, signed_in
from .present import LEVEL_CHOICES, answer_view, matter_facts, zh_text

router = page_router()
QUEUE_VERDICTS = ("review", None)  # None: the row could not be screened
# The fields a compiler may fix on the page, with their labels (a subset of decisions.FIXABLE).
FIX_FIELDS = (("title", "决策事项名称"), ("unit", "承办单位"), ("planned_date", "计划决策时间"), ("level", "层级"),
              ("id", "序号"),
              ("amount_wan", "金额(万元)"), ("people", "涉及人数"), ("description", "事项说明"))


def _job(request: Request, key: KeyInfo, job_id: str, api: bool = False) -> dict:
    try:
        job = job_service.get_visible(ctx_of(request), key, job_id)
    except ApiError:
        raise PageError(404, "找不到该任务", "该任务不存在, 或不属于当前密钥。", api=api, code="job_not_found") from None
    if job["status"] != "done":
        raise PageError(409, "任务尚未完成", "任务完成后才能逐条研判和决定。", api=api, code="job_not_finished")
    return job


def queue_of(ctx, job_id: str) -> list[tuple[int, bool]]:
    """(row, decided) of the rows a person must look at: 待人工研判 in row order, then the rows
    to fix (as the job table orders them)."""
    decided = decision_service.decisions_of(ctx, job_id)
    review, broken = [], []
    for r in job_service.records(ctx, job_id):
        verdict = (r.get("answer") or {}).get("verdict")
        if verdict in QUEUE_VERDICTS:
            (review if verdict else broken).append((r["row_no"], r["row_no"] in decided))
    return review + broken


def _next_in_queue(queue: list[tuple[int, bool]], after: int | None = None) -> int | None:
    """The first undecided queue row after row `after` (in queue order), else the first
    undecided one at all."""
    rows = [r for r, _ in queue]
    start = rows.index(after) + 1 if after in rows else 0
    order = queue[start:] + queue[:start]
    return next((r for r, done in order if not done and r != after), None)


def _error_text(err: dict, matter: dict) -> str:
    """Why the row could not be screened, quoting what the row says in that field."""
    text = err.get("message_zh") or "该行未能筛查"
    value = matter.get(err.get("field") or "")
    if value not in (None, "") and f"“{value}”" not in text:
        text += f" (该行填写的是“{value}”)"
    return text


def _fix_defaults(matter: dict) -> dict:
    """The fix form's values: the row as read, the planned time as the compiler wrote it."""
    out = {}
    for name, _ in FIX_FIELDS:
        v = matter.get(name)
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        out[name] = "" if v is None else str(v)
    out["planned_date"] = str(matter.get("planned_date_text") or matter.get("planned_period")
                              or matter.get("planned_date") or "")
    return out


def _row_context(request: Request, key: KeyInfo, job: dict, row_no: int) -> dict:
    ctx = ctx_of(request)
    try:
        row = decision_service.get_row(ctx, key, job["id"], row_no)
    except ApiError:
        raise PageError(404, "找不到该行", f"任务中没有第{row_no}行。") from None
    queue = queue_of(ctx, job["id"])
    rows = [r for r, _ in queue]
    pos = rows.index(row_no) if row_no in rows else None
    d = row["decision"]
    matter = row["input"] or {}
    err = row["error"] or {}
    return {
        "job": batch_view.job_view(job), "row": row, "matter": matter,
        "matter_facts": matter_facts(matter, ctx.screener),
        "view": answer_view(row["answer"], matter, ctx.screener) if row["answer"] else None,
        "record": {"id": row["screening_id"], "created": beijing(job["created_at"]), "source_zh": "表格任务",
                   "job_id": job["id"], "row_no": row_no, "error": row["error"]},
        "row_error": _error_text(err, matter) if row["error"] else "",
        "decision": {**batch_view.decision_view(None)} if not d else {
            "decision": d["decision"], "decision_zh": d["label_zh"], "decision_reason": d["reason"] or "",
            "decided_by": d["reviewer"] or "", "decided_at": beijing(d["decided_at"]),
            "withdrawn": d["withdrawn_version"]},
        "queue": {"pos": pos, "total": len(rows), "left": sum(1 for _, done in queue if not done),
                  "prev": rows[pos - 1] if pos else None,
                  "next": rows[pos + 1] if pos is not None and pos + 1 < len(rows) else None,
                  "next_open": _next_in_queue(queue, row_no)},
        "fix_fields": FIX_FIELDS, "fix_defaults": _fix_defaults(matter), "levels": LEVEL_CHOICES, "hide_feedback": True,
        "plan_note": [zh_text(w) for w in (row["answer"] or {}).get("warnings") or [] if "计划决策" in w],
    }


@router.get("/ui/batch/{job_id}/rows/next")
async def queue_start(request: Request, job_id: str, key: KeyInfo = Depends(signed_in("jobs"))):
    job = await run_in_threadpool(_job, request, key, job_id)
    queue = await run_in_threadpool(queue_of, ctx_of(request), job["id"])
    first = _next_in_queue(queue) or (queue[0][0] if queue else None)
    if first is None:
        raise PageError(404, "没有待研判的行", "该任务没有“待人工研判”或出错的行, 可在任务页逐行决定。")
    return RedirectResponse(f"/ui/batch/{job['id']}/rows/{first}", status_code=303)


@router.get("/ui/batch/{job_id}/rows/{row_no}")
async def row_page(request: Request, job_id: str, row_no: int, saved: str | None = None,
                   key: KeyInfo = Depends(signed_in("jobs"))):
    job = await run_in_threadpool(_job, request, key, job_id)
    context = await run_in_threadpool(_row_context, request, key, job, row_no)
    return render(request, "row.html", page="batch", saved=saved if saved in ("decision", "fix") else None,
                  errors={}, fix_values={}, **context)


def _decide(request: Request, key: KeyInfo, job: dict, row_no: int, decision: str, reason: str, reviewer: str):
    return decision_service.decide(ctx_of(request), key, job["id"], row_no, decision, reason or None,
                                   reviewer or None)


@router.post("/ui/batch/{job_id}/rows/{row_no}/decision")
async def decide_submit(request: Request, job_id: str, row_no: int, key: KeyInfo = Depends(signed_in("jobs"))):
    form = await checked_form(request)
    job = await run_in_threadpool(_job, request, key, job_id)
    decision = form_text(form, "decision", 16)
    try:
        await run_in_threadpool(_decide, request, key, job, row_no, decision, form_text(form, "reason", 500),
                                form_text(form, "reviewer", 200))
    except ApiError as exc:
        context = await run_in_threadpool(_row_context, request, key, job, row_no)
        return render(request, "row.html", status=422, page="batch", saved=None, decision_error=exc.zh,
                      errors={}, fix_values={}, **context)
    if form_text(form, "then") == "next":
        queue = await run_in_threadpool(queue_of, ctx_of(request), job["id"])
        nxt = _next_in_queue(queue, row_no)
        if nxt is not None:
            return RedirectResponse(f"/ui/batch/{job['id']}/rows/{nxt}?saved=decision", status_code=303)
    return RedirectResponse(f"/ui/batch/{job['id']}/rows/{row_no}?saved=decision#decision", status_code=303)


@router.post("/ui/batch/{job_id}/rows/{row_no}/decision.json")
async def decide_json(request: Request, job_id: str, row_no: int, key: KeyInfo = Depends(signed_in("jobs", api=True))):
    """The job table's inline decision (fetch from batch.js): the row's new decision fields."""
    form = await checked_form(request)
    job = await run_in_threadpool(_job, request, key, job_id, True)
    try:
        await run_in_threadpool(_decide, request, key, job, row_no, form_text(form, "decision", 16),
                                form_text(form, "reason", 500), form_text(form, "reviewer", 200))
    except ApiError as exc:
        raise PageError(exc.status, exc.en, exc.zh, api=True, code=exc.code) from None
    decided = await run_in_threadpool(decision_service.decisions_of, ctx_of(request), job["id"])
    return JSONResponse(batch_view.decision_view(decided.get(row_no)))


@router.post("/ui/batch/{job_id}/rows/{row_no}/fix")
async def fix_submit(request: Request, job_id: str, row_no: int, key: KeyInfo = Depends(signed_in("jobs"))):
    form = await checked_form(request)
    job = await run_in_threadpool(_job, request, key, job_id)
    values = {name: form_text(form, name, 5000) for name, _ in FIX_FIELDS}
    fields: dict = {}
    errors: dict[str, str] = {}
    for name, label in FIX_FIELDS:
        v = values[name]
        if name in ("amount_wan", "people") and v:
            try:
                fields[name] = float(v.replace(",", ""))
            except ValueError:
                errors[name] = f"{label}应为数字, 您填写的是“{v}”"
            continue
        fields[name] = v or None
    if not values["title"]:
        errors["title"] = "决策事项名称不能为空"
    if not errors:
        try:
            await run_in_threadpool(decision_service.fix_row, ctx_of(request), key, job["id"], row_no, fields,
                                    form_text(form, "reason", 500) or "更正后重新筛查", form_text(form, "reviewer", 200)
                                    or None)
        except ApiError as exc:
            errors[exc.field if exc.field in values else "title"] = exc.zh
    if errors:
        context = await run_in_threadpool(_row_context, request, key, job, row_no)
        return render(request, "row.html", status=422, page="batch", saved=None, errors=errors, fix_values=values,
                      **context)
    return RedirectResponse(f"/ui/batch/{job['id']}/rows/{row_no}?saved=fix#fix", status_code=303)
