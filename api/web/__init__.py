"""Reviewer pages of the service (DESIGN.md §1): 单项研判, 批量筛查, 历史与反馈, with sign-in by API key.

Mounted by api.app.create_app:

    app.include_router(web.router)
    app.mount(web.STATIC_URL, web.static_files(), name="ui-static")
"""
from .router import STATIC_DIR, STATIC_URL, TEMPLATE_DIR, UPLOAD_PATH, router, static_files

__all__ = ["STATIC_DIR", "STATIC_URL", "TEMPLATE_DIR", "UPLOAD_PATH", "router", "static_files"]
