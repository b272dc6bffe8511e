"""Every error the service returns has one shape, the CLI's (model.errors.ScreenInputError):

    {"code": "...", "message_zh": "...", "message_en": "...", "field": "..." | null, ...}

Request validation (FastAPI's 422), HTTP errors (404, 405, 413 …) and our own checks are all
turned into it here, so a caller switches on `code` and shows `message_zh` to a person."""
from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from model.contract import parse_matter
from model.errors import ScreenInputError
from model.safe_text import CONTROL_ERROR, control_messages, first_control

from .error_shape import TOO_LARGE_FLAG, body, too_large_body  # noqa: F401  (body: the shape, for callers)

log = logging.getLogger("decision_screen.api")

FIELD_ZH = {"title": "标题", "description": "说明", "unit": "承办单位", "level": "层级", "profile": "标准",
            "amount_wan": "金额", "people": "人数", "area_mu": "面积", "length_km": "长度",
            "duration_years": "期限", "planned_date": "计划决策日期", "id": "编号", "matters": "事项列表",
            "screening_id": "筛查记录编号", "agree": "是否同意", "label": "正确结论", "comment": "意见",
            "file": "文件", "callback_url": "回调地址", "body": "请求体", "category": "类别",
            "exclusion": "排除类型", "reviewer": "审核人", "skip_bad_rows": "跳过错误行", "format": "格式",
            "name": "名称"}
MATTER_FIELDS = {"id", "title", "description", "unit", "level", "profile", "amount_wan", "people", "area_mu",
                 "length_km", "duration_years", "planned_date", "planned_period", "planned_date_text"}


class ApiError(Exception):
    """An error we raise on purpose, with its HTTP status."""

    def __init__(self, status: int, code: str, zh: str, en: str, field: str | None = None,
                 headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(f"{zh} / {en}")
        self.status, self.code, self.zh, self.en, self.field = status, code, zh, en, field
        self.headers, self.extra = headers, extra

    def as_dict(self) -> dict:
        return {"code": self.code, "message_zh": self.zh, "message_en": self.en, "field": self.field, **self.extra}

    @classmethod
    def of(cls, exc: ScreenInputError, status: int) -> ApiError:
        """An input error of the engine (model.vocab.unknown_profile, …) with an HTTP status."""
        return cls(status, exc.code, exc.zh, exc.en, exc.field)




def check_text(value: str | None, field: str, multiline: bool = False) -> None:
    """The request models' control-character rule (model.safe_text) for values that arrive
    outside a pydantic model: form fields and upload file names."""
    cp = first_control(value, multiline) if isinstance(value, str) else None
    if cp is not None:
        zh, en = control_messages(field, _zh(field), cp)
        raise ApiError(422, CONTROL_ERROR, zh, en, field)


def _field_path(loc: tuple) -> str | None:
    parts = [p for p in loc if p not in ("body", "query", "path", "header", "cookie")] if loc else []
    if not parts:
        return "body" if loc and loc[0] == "body" else None
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _zh(field: str | None) -> str:
    if not field:
        return "输入"
    last = field.rsplit(".", 1)[-1].split("[", 1)[0]
    return FIELD_ZH.get(last, field)


def _generic(err: dict) -> dict:
    """One pydantic/FastAPI validation error in our bilingual shape."""
    kind = err.get("type", "")
    loc = tuple(err.get("loc") or ())
    if kind == "json_invalid":
        return body("bad_json", "请求体不是有效的 JSON", f"request body is not valid JSON: {err.get('ctx', {}).get('error', '')}",
                    "body")
    field = _field_path(loc)
    zf = _zh(field)
    ctx = err.get("ctx") or {}
    msg = err.get("msg", "")
    if kind == CONTROL_ERROR:
        zh, en = control_messages(field or "input", zf, ctx.get("codepoint", "?"))
        return body(CONTROL_ERROR, zh, en, field)
    if kind == "missing":
        if field == "body":
            return body("missing_body", "缺少请求体", "request body is required", "body")
        return body("missing_field", f"缺少必填字段: {zf}", f"{field} is required", field)
    if kind == "too_long":
        return body("too_many_items", f"{zf}最多 {ctx.get('max_length')} 项",
                    f"{field} may hold at most {ctx.get('max_length')} items", field)
    if kind == "too_short":
        return body("too_few_items", f"{zf}至少需要 {ctx.get('min_length')} 项",
                    f"{field} needs at least {ctx.get('min_length')} items", field)
    if kind == "string_too_short":
        return body("blank_field", f"{zf}不能为空", f"{field} must not be blank", field)
    if kind == "string_too_long":
        return body("too_long", f"{zf}过长 (最多 {ctx.get('max_length')} 字)", f"{field} is too long "
                    f"(at most {ctx.get('max_length')} characters)", field)
    if kind == "string_unicode":
        return body("binary_input", f"{zf}含有无法识别的字符", f"{field} contains undecodable characters", field)
    if kind.startswith("date"):  # date_parsing, datetime_from_date_parsing …
        return body("bad_date", f"{zf}无效, 应为 YYYY-MM-DD 格式的真实日期",
                    f"{field} must be a real date in YYYY-MM-DD form", field)
    if kind in ("literal_error", "enum"):
        choices = str(ctx.get("expected", "")).replace(" or ", " 或 ")  # pydantic's "'a', 'b' or 'c'"
        return body("bad_choice", f"{zf}取值无效, 应为: {choices}",
                    f"{field} must be one of: {ctx.get('expected', '')}", field)
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number"):
        return body("out_of_range", f"{zf}超出允许范围", f"{field} is out of range: {msg}", field)
    if kind in ("model_attributes_type", "dict_type", "model_type"):
        return body("bad_type", f"{zf}应为 JSON 对象", f"{field} must be a JSON object", field)
    if kind == "list_type":
        return body("bad_type", f"{zf}应为 JSON 数组", f"{field} must be a JSON array", field)
    if kind.endswith(("_type", "_parsing")):
        return body("bad_type", f"{zf}类型不正确", f"{field} has the wrong type: {msg}", field)
    if kind == "value_error":
        # pydantic's English goes into message_en only.
        return body("bad_field", f"{zf}无效", f"invalid {field}: {ctx.get('error', msg)}", field)
    return body("bad_field", f"{zf}无效", f"invalid {field}: {msg}", field)


def _matter_at(payload: Any, loc: tuple) -> tuple[dict, str] | None:
    """The matter object a body error points into, and its path prefix ("", "matters[3].")."""
    parts = list(loc[1:]) if loc and loc[0] == "body" else []
    if not parts:
        return None
    if parts[0] in MATTER_FIELDS and isinstance(payload, dict):
        return payload, ""
    if (len(parts) >= 2 and parts[0] == "matters" and isinstance(parts[1], int) and isinstance(payload, dict)
            and isinstance(payload.get("matters"), list) and parts[1] < len(payload["matters"])
            and isinstance(payload["matters"][parts[1]], dict)):
        return payload["matters"][parts[1]], f"matters[{parts[1]}]."
    return None


def _as_cli_error(matter: dict, prefix: str) -> dict | None:
    try:
        parse_matter(matter)
    except ScreenInputError as exc:
        d = exc.as_dict()
        d.pop("row", None)
        d["field"] = prefix + (exc.field or "") if exc.field else (prefix.rstrip(".") or None)
        return d
    except Exception:  # a payload pydantic could not even walk: the generic text will do
        return None
    return None


def translate_validation(errors: list[dict], payload: Any = None) -> list[dict]:
    out = []
    for err in errors:
        loc = tuple(err.get("loc") or ())
        found = _matter_at(payload, loc)
        if found is not None:
            # The same wording as the CLI's for the same mistake in the same field.
            matter, prefix = found
            d = _as_cli_error(matter, prefix)
            if d is not None:
                out.append(d)
                continue
        out.append(_generic(err))
    return out


def _json(status: int, content: dict, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content=content, headers=headers)


_HTTP_CODES = {
    400: ("bad_request", "请求无效", "bad request"),
    401: ("unauthorized", "需要 API 密钥", "an API key is required"),
    403: ("forbidden", "无权访问", "forbidden"),
    404: ("not_found", "找不到该地址或资源", "not found"),
    405: ("method_not_allowed", "该地址不支持此请求方法", "method not allowed"),
    406: ("not_acceptable", "无法提供所请求的格式", "not acceptable"),
    413: ("body_too_large", "请求体过大", "request body too large"),
    415: ("unsupported_media_type", "不支持的内容类型", "unsupported media type"),
}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return _json(exc.status, exc.as_dict(), exc.headers)

    @app.exception_handler(ScreenInputError)
    async def _input_error(request: Request, exc: ScreenInputError):
        return _json(422, exc.as_dict())

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = translate_validation(list(exc.errors()), exc.body)
        first = dict(errors[0]) if errors else body("bad_request", "请求无效", "invalid request")
        first["errors"] = errors[:50]
        return _json(422, first)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if TOO_LARGE_FLAG in request.scope:
            return _json(413, too_large_body(request.scope[TOO_LARGE_FLAG]))
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            # FastAPI's answer to a body that is not UTF-8 or not parseable at all.
            if isinstance(exc.__cause__, UnicodeDecodeError):
                return _json(400, body("bad_encoding", "请求体不是有效的 UTF-8 编码", "the request body is not valid UTF-8",
                                       "body"))
            content = body("bad_body", "请求体无法解析 (应为 UTF-8 编码的 JSON 或 multipart 表单)",
                           "cannot parse the request body (send UTF-8 JSON or a multipart form)", "body")
        else:
            code, zh, en = _HTTP_CODES.get(exc.status_code, ("http_error", "请求失败", "request failed"))
            content = body(code, zh, en)
        return _json(exc.status_code, content, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception):
        if TOO_LARGE_FLAG in request.scope:
            return _json(413, too_large_body(request.scope[TOO_LARGE_FLAG]))
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _json(500, body("internal_error", "服务内部错误, 已记录; 请稍后重试",
                               "internal error (logged); please retry later"))
