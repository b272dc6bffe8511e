"""历史与反馈 /ui/history: a key's screenings and feedback, filtered and paged, and their CSV
exports. The queries are services.history's."""
from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from model.vocab import SOURCE_ZH
from model.vocab import VERDICT_OR_ERROR_ZH as VERDICT_ZH

from ..auth import KeyInfo
from ..services import history
from .base import ctx_of, page_router, render, signed_in

router = page_router()

@router.get("/ui/history")
async def history_page(request: Request, key: KeyInfo = Depends(signed_in())):
    view = "feedback" if request.query_params.get("view") == "feedback" else "screenings"
    f = history.Filters.from_params(request.query_params)
    db = ctx_of(request).db

    def load():
        if view == "feedback":
            rows, more = history.list_feedback(db, key, f)
            total = history.count_feedback(db, key, f)
        else:
            rows, more = history.list_screenings(db, key, f)
            total = history.count_screenings(db, key, f)
        return rows, more, total

    rows, more, total = await run_in_threadpool(load)
    return render(request, "history.html", page="history", view=view, f=f, rows=rows, more=more, total=total,
                  page_size=history.PAGE_SIZE, verdict_choices=[(k, v) for k, v in VERDICT_ZH.items()],
                  source_choices=list(SOURCE_ZH.items()), is_admin=key.allows("admin"))


def _csv_response(chunks, name: str) -> StreamingResponse:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M")
    zh, ascii_name = f"{name[0]}-{stamp}.csv", f"{name[1]}-{stamp}.csv"
    return StreamingResponse(chunks, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(zh)}"})


@router.get("/ui/history/screenings.csv")
def history_screenings_csv(request: Request, key: KeyInfo = Depends(signed_in())):
    f = history.Filters.from_params(request.query_params)
    return _csv_response(history.export_screenings(ctx_of(request).db, key, f), ("筛查记录", "screenings"))


@router.get("/ui/history/feedback.csv")
def history_feedback_csv(request: Request, key: KeyInfo = Depends(signed_in())):
    f = history.Filters.from_params(request.query_params)
    return _csv_response(history.export_feedback(ctx_of(request).db, key, f), ("审核反馈", "feedback"))
