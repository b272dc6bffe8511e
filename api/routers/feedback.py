"""POST /api/v1/feedback: a reviewer's agree/disagree on one screening, kept for retraining."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from ..auth import KeyInfo, require
from ..schemas import FeedbackIn, FeedbackOut
from ..services import screenings
from .common import ERR_AUTH, ERR_INPUT, ERR_NOT_FOUND, PREFIX, ctx_of

router = APIRouter(prefix=PREFIX, tags=["feedback"])


@router.post(
    "/feedback", operation_id="createFeedback", status_code=201, response_model=FeedbackOut,
    summary="记录审核意见 / record a reviewer's opinion",
    description="审核人同意或不同意某次筛查的结论, 给出正确结论和理由; 与筛查记录关联, 可导出为训练数据 "
                "(`decision-screen export-feedback`)。只能对本密钥的记录反馈 (管理员可对全部)。\n\nA reviewer "
                "agrees or disagrees with one screening, giving the correct label and a comment. It is linked "
                "to the screening record and exported as training data by `decision-screen export-feedback`. "
                "A key gives feedback on its own records; an admin key on any.",
    responses={**ERR_AUTH, **ERR_INPUT, **ERR_NOT_FOUND},
)
async def create_feedback(body: FeedbackIn, request: Request,
                          key: KeyInfo = Depends(require("feedback"))) -> JSONResponse:
    out = await run_in_threadpool(screenings.add_feedback, ctx_of(request), key, body)
    return JSONResponse(out, status_code=201)
