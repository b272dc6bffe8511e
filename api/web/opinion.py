"""研判意见书 /ui/screenings/{id}/opinion: one matter's opinion on one or two printed pages (the
print stylesheet drops the navigation and forms), and the same as .docx. The content is
api.services.opinion's, so the page and the document agree."""
from __future__ import annotations

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from ..auth import KeyInfo
from ..downloads import disposition
from ..errors import ApiError
from ..services import opinion
from .base import PageError, ctx_of, page_router, render, signed_in
from .board import DOCX

router = page_router()


def _data(request: Request, key: KeyInfo, screening_id: str) -> dict:
    try:
        return opinion.opinion_data(ctx_of(request), key, screening_id)
    except ApiError:
        raise PageError(404, "找不到该筛查记录", "该记录不存在, 或不属于当前密钥。") from None


@router.get("/ui/screenings/{screening_id}/opinion")
async def opinion_page(request: Request, screening_id: str,
                       key: KeyInfo = Depends(signed_in("screen", "feedback", "jobs"))):
    data = await run_in_threadpool(_data, request, key, screening_id)
    return render(request, "opinion.html", page="history", op=data)


@router.get("/ui/screenings/{screening_id}/opinion.docx")
def opinion_docx(request: Request, screening_id: str, key: KeyInfo = Depends(signed_in("screen", "feedback", "jobs"))):
    data = _data(request, key, screening_id)
    return Response(opinion.opinion_docx(data), media_type=DOCX,
                    headers=disposition(f"研判意见书-{data['id']}.docx", f"opinion-{data['id']}.docx"))
