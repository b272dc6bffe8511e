"""POST /api/v1/screen, POST /api/v1/screen/batch, GET /api/v1/screenings/{id}."""
from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.concurrency import run_in_threadpool

from model.contract import MatterIn

from .. import metrics
from ..auth import KeyInfo, require
from ..schemas import BatchIn, BatchOut, ScreenedAnswer, ScreeningRecord
from ..services import screenings
from .common import ERR_AUTH, ERR_INPUT, ERR_NOT_FOUND, PREFIX, ctx_of

router = APIRouter(prefix=PREFIX, tags=["screen"])


@router.post(
    "/screen", operation_id="screenMatter", response_model=ScreenedAnswer,
    summary="筛查一个事项 / screen one matter",
    description="返回结论、理由、分级、需履行的程序及依据; 每次筛查都会留存记录 (screening_id 可用于反馈)。\n\n"
                "Returns the verdict with its reasons, tier and the procedures the matter must go through, "
                "each with its legal basis. Every screening is recorded; `screening_id` links feedback to it.",
    responses={**ERR_AUTH, **ERR_INPUT},
)
async def screen_matter(matter: MatterIn, request: Request, key: KeyInfo = Depends(require("screen"))) -> Response:
    # Serialised once: the same text goes into the response and into the record.
    _, answer_json, rec = await screenings.screen_one(ctx_of(request), key, matter)
    return Response(screenings.with_id(answer_json, rec["id"]), media_type="application/json",
                    headers={"X-Screening-Id": rec["id"]})


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
    answers = await run_in_threadpool(screenings.screen_batch, ctx, batch.matters)
    out, records = [], []
    for m, a in zip(batch.matters, answers):
        answer_json = a.model_dump_json()
        rec = screenings.new_record(ctx, key, "batch", m, answer_json, a.verdict)
        records.append(rec)
        out.append(screenings.with_id(answer_json, rec["id"]))
        metrics.SCREENINGS.labels("batch", a.verdict).inc()
    await screenings.keep(ctx, records)
    head = json.dumps({"count": len(out), "model_version": ctx.screener.model_version,
                       "rules_version": ctx.screener.rules_version}, ensure_ascii=False)
    return Response(f'{head[:-1]},"answers":[{",".join(out)}]}}', media_type="application/json")


@router.get(
    "/screenings/{screening_id}", operation_id="getScreening", response_model=ScreeningRecord,
    summary="查看一条筛查记录 / one screening record",
    description="输入、结论、模型与规则版本, 以及已有的审核反馈。只能查看本密钥的记录 (管理员可查看全部)。\n\n"
                "The input, the answer, the model and rules versions, and any reviewer feedback. A key sees "
                "its own records; an admin key sees all.",
    responses={**ERR_AUTH, **ERR_NOT_FOUND},
)
async def get_screening(request: Request, screening_id: str = Path(max_length=64),
                        key: KeyInfo = Depends(require("screen", "feedback"))):
    return await run_in_threadpool(screenings.public_record, ctx_of(request), key, screening_id)
