"""uvicorn's HTTP protocols, answering the requests they refuse themselves in the service's
error shape.

A request uvicorn cannot parse (a malformed Content-Length, a broken request line, a bad
header) never reaches the app: uvicorn answers 400 with a plain-text body. These subclasses
send the JSON shape instead ({"code", "message_zh", "message_en", "field"}), with the
security headers every other answer carries. `decision-screen serve` passes PROTOCOL to
uvicorn (its `http` option)."""
from __future__ import annotations

import json

from .error_shape import body
from .middleware import SECURITY_HEADERS

_PAYLOAD = json.dumps(body("bad_http_request", "HTTP 请求格式无效 (如 Content-Length 等请求头有误), 无法解析",
                           "malformed HTTP request (e.g. an invalid Content-Length or header): cannot parse it"),
                      ensure_ascii=False).encode("utf-8")
_HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(_PAYLOAD)).encode()),
            (b"connection", b"close"), (b"cache-control", b"no-store"),
            *((k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items())]


def _raw_400() -> bytes:
    head = b"HTTP/1.1 400 Bad Request\r\n" + b"".join(k + b": " + v + b"\r\n" for k, v in _HEADERS)
    return head + b"\r\n" + _PAYLOAD


def _json_400(self, msg: str) -> None:
    self.transport.write(_raw_400())
    self.transport.close()


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class JsonHttpToolsProtocol(HttpToolsProtocol):
        send_400_response = _json_400

    PROTOCOL: type = JsonHttpToolsProtocol
except ImportError:  # httptools is optional in uvicorn; h11 is always there
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class JsonH11Protocol(H11Protocol):
        send_400_response = _json_400

    PROTOCOL = JsonH11Protocol
