"""Request body size limits, checked before the body is read into memory.

A declared Content-Length over the limit is refused at once; a chunked body is counted as
it streams and cut off when it passes the limit. Uploads (multipart, POST /api/v1/jobs)
get the upload limit, everything else the JSON limit."""
from __future__ import annotations

import json

from .error_shape import TOO_LARGE_FLAG, body, too_large_body


class BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    def __init__(self, app, json_limit: int, upload_limit: int, upload_paths: frozenset[str]):
        self.app = app
        self.json_limit, self.upload_limit, self.upload_paths = json_limit, upload_limit, upload_paths

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        # Multipart framing adds a little to the file itself; allow for it.
        limit = self.upload_limit + 64 * 1024 if scope["path"] in self.upload_paths else self.json_limit
        declared = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_json(send, 400, body("bad_content_length", "Content-Length 无效",
                                                     "invalid Content-Length header", "Content-Length"))
                    return
                break
        if declared is not None and declared > limit:
            await _send_json(send, 413, too_large_body(limit))
            return

        received = 0
        started = False

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # FastAPI turns errors raised while reading a body into a 400; the flag lets
                    # our handler answer 413 instead (errors.py reads it).
                    scope[TOO_LARGE_FLAG] = limit
                    raise BodyTooLarge()
            return message

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _send_json(send, 413, too_large_body(limit))


async def _send_json(send, status: int, content: dict) -> None:
    payload = json.dumps(content, ensure_ascii=False).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": payload})


# Every answer carries these (the pages set a stricter CSP of their own first, api/web/base.py).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
# JSON and files: nothing in them may run, load or be framed.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Swagger UI and ReDoc (FastAPI's pages) load their script and style from this service
# (api/docs.py, /docs-assets: nothing from a CDN) and start with an inline script.
DOCS_CSP = ("default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src blob:; "
            "frame-ancestors 'none'; base-uri 'none'")
DOCS_PATHS = frozenset({"/docs", "/redoc", "/ui/docs", "/ui/redoc"})


class SecurityHeadersMiddleware:
    """Adds the security headers to every response that does not set them itself, and
    `Cache-Control: no-store` to all but the versioned static files (answers hold one key's
    records and must not stay in a shared or browser cache)."""

    def __init__(self, app, static_prefix: str = "/ui/static/"):
        self.app, self.static_prefix = app, static_prefix
        # The four header sets (docs page or not, static file or not) are built once, not per request.
        base = tuple((k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items())
        self._sets = {(docs, static): base + ((b"content-security-policy", (DOCS_CSP if docs else API_CSP).encode()),)
                      + (() if static else ((b"cache-control", b"no-store"),))
                      for docs in (False, True) for static in (False, True)}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        extra = self._sets[(path in DOCS_PATHS, path.startswith(self.static_prefix))]

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(kv for kv in extra if kv[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class UrlTextMiddleware:
    """The request models' control-character rule (model.safe_text) for the URL: a path or a
    query parameter holding one (%00 in an id, a search term) is answered 422 before any route
    runs, so no such value reaches the database (PostgreSQL refuses NUL with an error)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            problem = _url_problem(scope)
            if problem is not None:
                await _send_json(send, 422, problem)
                return
        await self.app(scope, receive, send)


def _url_problem(scope) -> dict | None:
    from urllib.parse import parse_qsl

    from model.safe_text import CONTROL_ERROR, control_messages, first_control

    cp = first_control(scope.get("path", ""))
    if cp is not None:
        zh, en = control_messages("path", "网址路径", cp)
        return body(CONTROL_ERROR, zh, en, "path")
    query = scope.get("query_string", b"").decode("latin-1")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        return body("bad_encoding", "网址查询参数不是有效的 UTF-8 编码", "the query string is not valid UTF-8", "query")
    for name, value in pairs:
        if first_control(name) is not None:
            zh, en = control_messages("query", "查询参数名", first_control(name))
            return body(CONTROL_ERROR, zh, en, "query")
        cp = first_control(value)
        if cp is not None:
            zh, en = control_messages(name, f"查询参数 {name} ", cp)
            return body(CONTROL_ERROR, zh, en, name)
    return None
