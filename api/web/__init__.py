"""Reviewer pages of the service: 单项研判 (screen.py), 批量筛查 (batch.py), 逐条研判 and row
decisions (review.py), 目录执行跟踪 (board.py), 研判意见书 (opinion.py), 历史与反馈 (history.py),
with sign-in by API key (signin.py); base.py holds what they share.

Server-rendered Jinja2 templates with a little vanilla JavaScript; every asset is served from
api/web/static (no CDN, no web fonts). The pages only translate HTTP to the services in
api/services (the same ones the JSON API calls) and back, so the API and the pages never disagree.

Mounted by api.app.create_app:

    app.include_router(web.router)
    app.mount(web.STATIC_URL, web.static_files(), name="ui-static")
"""
from fastapi import APIRouter

from . import batch, board, history, opinion, review, screen, signin
from .base import STATIC_DIR, STATIC_URL, TEMPLATE_DIR, UPLOAD_PATH, static_files

router = APIRouter(include_in_schema=False)
for _page in (signin, screen, opinion, review, board, batch, history):
    router.include_router(_page.router)

__all__ = ["STATIC_DIR", "STATIC_URL", "TEMPLATE_DIR", "UPLOAD_PATH", "router", "static_files"]
