"""POST /api/v1/screen, POST /api/v1/screen/batch, GET /api/v1/screenings/{id}."""
from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from model.contract import MatterIn
from model.errors import ScreenInputError

from .. import metrics
from ..auth import KeyInfo, require
from ..checks import check_matter
from ..db import RawJSON, feedback, screenings, utcnow
from ..errors import ApiError
from ..jobs import new_id
from ..schemas import BatchIn, BatchOut, ScreenedAnswer, ScreeningRecord
from .common import ERR_AUTH, ERR_INPUT, ERR_NOT_FOUND, PREFIX, ctx_of

router = APIRouter(prefix=PREFIX, tags=["screen"])


def _record(ctx, key: KeyInfo, source: str, matter: MatterIn, answer_json: str, verdict: str) -> dict:
    return {"id": new_id(), "created_at": utcnow(), "key_id": key.id, "source": source, "job_id": None,
            "row_no": None, "input": RawJSON(matter.model_dump_json(exclude_none=True)),
            "answer": RawJSON(answer_json), "error": None, "verdict": verdict,
            "model_version": ctx.screener.model_version, "rules_version": ctx.screener.rules_version}


def _with_id(answer_json: str, screening_id: str) -> str:
    # The contract's answer plus its record id, without parsing the answer back into a dict.
    return f'{{"screening_id":"{screening_id}",{answer_json[1:]}'


async def _keep(ctx, records: list[dict]) -> None:
    if ctx.settings.record_sync:
        await run_in_threadpool(ctx.write_now, records)
        return
    for i, rec in enumerate(records):
        if not ctx.recorder.try_submit(rec):
            # Queue full: wait for room off the event loop (back-pressure, never a dropped record).
            await run_in_threadpool(lambda rest=records[i:]: [ctx.recorder.submit(r) for r in rest])
            return


@router.post(
    "/screen", operation_id="screenMatter", response_model=ScreenedAnswer,
    summary="筛查一个事项 / screen one matter",
    description="返回结论、理由、分级、需履行的程序及依据; 每次筛查都会留存记录 (screening_id 可用于反馈)。\n\n"
                "Returns the verdict with its reasons, tier and the procedures the matter must go through, "
                "each with its legal basis. Every screening is recorded; `screening_id` links feedback to it.",
    responses={**ERR_AUTH, **ERR_INPUT},
)
async def screen_matter(matter: MatterIn, request: Request, key: KeyInfo = Depends(require("screen"))) -> Response:
    ctx = ctx_of(request)
    answer = await ctx.batcher.screen(matter)
    # Serialised once: the same text goes into the response and into the record.
    answer_json = answer.model_dump_json()
    rec = _record(ctx, key, "screen", matter, answer_json, answer.verdict)
    await _keep(ctx, [rec])
    metrics.SCREENINGS.labels("screen", answer.verdict).inc()
    return Response(_with_id(answer_json, rec["id"]), media_type="application/json",
                    headers={"X-Screening-Id": rec["id"]})


def _screen_batch(ctx, batch: BatchIn):
    try:
        for i, m in enumerate(batch.matters):
            check_matter(m, i)
        return ctx.screener.screen_many(batch.matters, start_row=0)
    except ScreenInputError as exc:
        i = exc.row if exc.row is not None else 0
        raise ApiError(422, exc.code, f"第{i + 1}个事项: {exc.zh}", f"matter {i + 1}: {exc.en}",
                       f"matters[{i}].{exc.field}" if exc.field else f"matters[{i}]", index=i) from None


@router.post(
    "/screen/batch", operation_id="screenBatch", response_model=BatchOut,
    summary="批量筛查 (最多 1000 个) / screen up to 1,000 matters",
    description="同步返回, 顺序与输入一致; 任一事项无效则整批返回 422, field 指明是第几个事项的哪个字段 "
                "(如 matters[3].title)。更大的文件请用 /api/v1/jobs。\n\n"
                "Synchronous; answers come in the order of the input. One invalid matter fails the whole "
                "batch with a 422 whose `field` points at it (e.g. matters[3].title). Use /api/v1/jobs for "
                "spreadsheets.",
    responses={**ERR_AUTH, **ERR_INPUT},
)
async def screen_batch(batch: BatchIn, request: Request, key: KeyInfo = Depends(require("screen"))) -> Response:
    ctx = ctx_of(request)
    answers = await run_in_threadpool(_screen_batch, ctx, batch)
    out, records = [], []
    for m, a in zip(batch.matters, answers):
        answer_json = a.model_dump_json()
        rec = _record(ctx, key, "batch", m, answer_json, a.verdict)
        records.append(rec)
        out.append(_with_id(answer_json, rec["id"]))
        metrics.SCREENINGS.labels("batch", a.verdict).inc()
    await _keep(ctx, records)
    head = json.dumps({"count": len(out), "model_version": ctx.screener.model_version,
                       "rules_version": ctx.screener.rules_version}, ensure_ascii=False)
    return Response(f'{head[:-1]},"answers":[{",".join(out)}]}}', media_type="application/json")


def load_screening(ctx, screening_id: str, wait: bool = True) -> dict | None:
    """A screening record; waits for the writer when the record is still queued in this process."""
    if wait:
        ctx.recorder.wait_written(screening_id)
    with ctx.db.read() as conn:
        row = conn.execute(select(screenings).where(screenings.c.id == screening_id)).mappings().first()
    return dict(row) if row else None


def _get_screening(ctx, screening_id: str) -> dict:
    rec = load_screening(ctx, screening_id)
    if rec is None:
        raise ApiError(404, "screening_not_found", "找不到该筛查记录", "no such screening record", "screening_id")
    with ctx.db.read() as conn:
        fb = conn.execute(select(feedback).where(feedback.c.screening_id == screening_id)
                          .order_by(feedback.c.id)).mappings().all()
    return {"screening_id": rec["id"], "created_at": rec["created_at"].isoformat(), "source": rec["source"],
            "job_id": rec["job_id"], "row": rec["row_no"], "input": rec["input"], "answer": rec["answer"],
            "error": rec["error"], "model_version": rec["model_version"], "rules_version": rec["rules_version"],
            "feedback": [{"id": f["id"], "agree": f["agree"], "label": f["label"], "comment": f["comment"],
                          "reviewer": f["reviewer"], "created_at": f["created_at"].isoformat()} for f in fb]}


@router.get(
    "/screenings/{screening_id}", operation_id="getScreening", response_model=ScreeningRecord,
    summary="查看一条筛查记录 / one screening record",
    description="输入、结论、模型与规则版本, 以及已有的审核反馈。\n\n"
                "The input, the answer, the model and rules versions, and any reviewer feedback.",
    responses={**ERR_AUTH, **ERR_NOT_FOUND},
)
async def get_screening(request: Request, screening_id: str = Path(max_length=64),
                        key: KeyInfo = Depends(require("screen", "feedback"))):
    return await run_in_threadpool(_get_screening, ctx_of(request), screening_id)
