"""The one error shape of the service, `{code, message_zh, message_en, field, …}`, and the
body-too-large error: a leaf module, so that errors.py (the exception handlers) and
middleware.py (which answers before any handler runs) both build errors without importing
each other."""
from __future__ import annotations

from typing import Any

# Set on the request scope by the body-limit middleware when it cut a body off; the exception
# handlers read it to answer 413 instead of FastAPI's 400.
TOO_LARGE_FLAG = "decision_screen.body_too_large"


def body(code: str, zh: str, en: str, field: str | None = None, **extra: Any) -> dict:
    return {"code": code, "message_zh": zh, "message_en": en, "field": field, **extra}


def too_large_body(limit: int) -> dict:
    mb = limit / (1024 * 1024)
    return body("body_too_large", f"请求体过大: 上限 {mb:g} MB", f"request body too large: the limit is {mb:g} MB",
                "body", limit_bytes=limit)
