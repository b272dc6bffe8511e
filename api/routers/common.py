"""Shared bits of the routers: documented error responses and small helpers."""
from __future__ import annotations

from fastapi import Request

from ..context import AppContext
from ..schemas import ErrorBody

# In each router, not at include time: the route templates then carry the prefix (metrics label
# requests by them).
PREFIX = "/api/v1"

ERR_AUTH = {
    401: {"model": ErrorBody, "description": "缺少或无效的 API 密钥 / missing or invalid API key"},
    403: {"model": ErrorBody, "description": "密钥权限不足 / the key lacks the scope"},
}
ERR_INPUT = {
    422: {"model": ErrorBody, "description": "输入无效 (字段见 field) / invalid input; `field` names it"},
    413: {"model": ErrorBody, "description": "请求体过大 / request body too large"},
    400: {"model": ErrorBody, "description": "请求体无法解析 / unparseable body"},
}
ERR_NOT_FOUND = {404: {"model": ErrorBody, "description": "不存在 / not found"}}


def ctx_of(request: Request) -> AppContext:
    return request.app.state.ctx
