"""POST /api/v1/feedback: a reviewer's agree/disagree on one screening, kept for retraining."""
from __future__ import annotations

import re
import time

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import insert

from .. import metrics
from ..auth import KeyInfo, require
from ..db import feedback, utcnow
from ..errors import ApiError
from ..schemas import FeedbackIn, FeedbackOut
from .common import ERR_AUTH, ERR_INPUT, ERR_NOT_FOUND, PREFIX, ctx_of
from .screen import load_screening

router = APIRouter(prefix=PREFIX, tags=["feedback"])
# A record written by another service process may still sit in that process's writer queue
# (flushed every few tens of milliseconds): look again for this long before saying 404.
NOT_YET_WRITTEN_GRACE = 0.5
_OUR_ID = re.compile(r"[0-9a-f]{32}")


def _record(ctx, body: FeedbackIn, key: KeyInfo) -> dict:
    rec = load_screening(ctx, body.screening_id)
    deadline = time.monotonic() + (NOT_YET_WRITTEN_GRACE if _OUR_ID.fullmatch(body.screening_id) else 0)
    while rec is None and time.monotonic() < deadline:
        time.sleep(0.05)
        rec = load_screening(ctx, body.screening_id, wait=False)
    if rec is None:
        raise ApiError(404, "screening_not_found", "找不到该筛查记录", "no such screening record", "screening_id")
    verdict = rec["verdict"]
    if verdict is None:
        raise ApiError(422, "no_answer", "该记录是错误行, 没有可审核的结论", "this record is an input error: there "
                       "is no verdict to review", "screening_id")
    label = body.label
    if body.agree:
        if verdict == "review" and label is None:
            raise ApiError(422, "label_required", "原结论为“待人工研判”, 请给出正确结论 (label)",
                           "the verdict was review: give the correct label", "label")
        if label is None:
            label = verdict
        elif verdict != "review" and label != verdict:
            raise ApiError(422, "label_conflicts", f"同意原结论时, label 应与原结论 ({verdict}) 一致",
                           f"agreeing with the verdict, label must equal it ({verdict})", "label")
    else:
        if label is None:
            raise ApiError(422, "label_required", "不同意时请给出正确结论 (label: major 或 not_major)",
                           "when disagreeing, give the correct label (major or not_major)", "label")
        if label == verdict:
            raise ApiError(422, "label_conflicts", "不同意原结论, 但给出的 label 与原结论相同",
                           "disagreeing, yet the label equals the verdict", "label")
    row = {"screening_id": rec["id"], "key_id": key.id, "agree": body.agree, "label": label, "verdict": verdict,
           "category": body.category, "exclusion": body.exclusion, "comment": body.comment or None,
           "reviewer": body.reviewer or None, "created_at": utcnow()}
    # Committed before we answer: an acknowledged review is never lost.
    with ctx.db.write() as conn:
        row["id"] = conn.execute(insert(feedback).returning(feedback.c.id), row).scalar_one()
    metrics.FEEDBACK.labels(str(body.agree).lower()).inc()
    return {"id": row["id"], "screening_id": row["screening_id"], "agree": row["agree"], "label": label,
            "verdict": verdict, "created_at": row["created_at"].isoformat()}


@router.post(
    "/feedback", operation_id="createFeedback", status_code=201, response_model=FeedbackOut,
    summary="记录审核意见 / record a reviewer's opinion",
    description="审核人同意或不同意某次筛查的结论, 给出正确结论和理由; 与筛查记录关联, 可导出为训练数据 "
                "(`decision-screen export-feedback`)。\n\nA reviewer agrees or disagrees with one screening, "
                "giving the correct label and a comment. It is linked to the screening record and exported as "
                "training data by `decision-screen export-feedback`.",
    responses={**ERR_AUTH, **ERR_INPUT, **ERR_NOT_FOUND},
)
async def create_feedback(body: FeedbackIn, request: Request,
                          key: KeyInfo = Depends(require("feedback"))) -> JSONResponse:
    out = await run_in_threadpool(_record, ctx_of(request), body, key)
    return JSONResponse(out, status_code=201)
