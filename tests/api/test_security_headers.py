"""Security headers on every answer, the documentation behind a key or a page session, failed
keys throttled per client address (issue 14, finding 8), and a request uvicorn itself refuses
answered in the error shape (finding 7)."""
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from api.process import stop, wait_until_ready

WATER = "关于调整城区居民生活用水价格的实施方案"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
ROOT = Path(__file__).resolve().parents[2]


def _has_security_headers(r) -> None:
    h = r.headers
    assert h.get("x-content-type-options") == "nosniff", (r.request.url, dict(h))
    assert h.get("x-frame-options") == "DENY", r.request.url
    assert h.get("referrer-policy"), r.request.url
    assert "frame-ancestors 'none'" in h.get("content-security-policy", ""), r.request.url


def test_every_kind_of_answer_carries_the_security_headers(service):
    c, hk = service.client, service.headers
    answers = [
        c.post("/api/v1/screen", json={"title": WATER}, headers=hk),  # 200
        c.post("/api/v1/screen", json={"title": ""}, headers=hk),  # 422
        c.post("/api/v1/screen", json={"title": WATER}),  # 401
        c.get("/api/v1/screenings/" + "0" * 32, headers=hk),  # 404
        c.post("/api/v1/screen", content=b"x" * (3 * 1024 * 1024),
               headers={**hk, "Content-Type": "application/json"}),  # 413 from the body-limit middleware
        c.get("/nowhere"), c.get("/healthz"), c.get("/metrics"),
        c.get("/ui/signin"), c.get("/", follow_redirects=False),
    ]
    assert {r.status_code for r in answers} >= {200, 401, 404, 413, 422, 307}
    for r in answers:
        _has_security_headers(r)


def test_api_answers_are_never_cached_but_versioned_static_files_may_be(service):
    r = service.client.post("/api/v1/screen", json={"title": WATER}, headers=service.headers)
    assert r.headers["cache-control"] == "no-store"
    assert service.client.get("/healthz").headers["cache-control"] == "no-store"
    css = next(p.name for p in (ROOT / "api" / "web" / "static").iterdir() if p.suffix == ".css")
    static = service.client.get(f"/ui/static/{css}")
    assert static.status_code == 200 and static.headers.get("cache-control") != "no-store"


def test_pages_keep_their_own_stricter_content_security_policy(service):
    csp = service.client.get("/ui/signin").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "form-action 'self'" in csp
    api_csp = service.client.get("/healthz").headers["content-security-policy"]
    assert api_csp.startswith("default-src 'none'")


# -- documentation ------------------------------------------------------------------------------------

def test_the_openapi_document_needs_a_key_by_default(service):
    r = service.client.get("/openapi.json")
    assert r.status_code == 401 and r.json()["code"] == "missing_api_key"
    r = service.client.get("/openapi.json", headers={"X-API-Key": "dsk_00000000_nope"})
    assert r.status_code == 401 and r.json()["code"] == "invalid_api_key"
    r = service.client.get("/openapi.json", headers=service.headers)
    assert r.status_code == 200 and "/api/v1/screen" in r.json()["paths"]


def test_the_docs_pages_need_a_signed_in_session_by_default(service):
    c = service.client
    assert c.get("/docs", follow_redirects=False).headers["location"] == "/ui/docs"
    assert c.get("/redoc", follow_redirects=False).headers["location"] == "/ui/redoc"
    r = c.get("/ui/docs", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/signin?next=%2Fui%2Fdocs")
    assert c.get("/ui/openapi.json").status_code == 401
    csrf = CSRF_RE.search(c.get("/ui/signin").text).group(1)
    assert c.post("/ui/signin", data={"csrf_token": csrf, "api_key": service.key},
                  follow_redirects=False).status_code == 303
    docs = c.get("/ui/docs")
    assert docs.status_code == 200 and "/ui/openapi.json" in docs.text
    assert "http" not in docs.headers["content-security-policy"]  # nothing from another host
    assert c.get("/ui/openapi.json").json()["info"]["title"] == "decision-screen API"


def test_docs_pages_load_swagger_and_redoc_from_the_service_itself(service_with):
    svc = service_with(public_docs=True)
    for page in ("/docs", "/redoc"):
        html = svc.client.get(page).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert assets and all(a.startswith("/docs-assets/") or a.endswith("openapi.json") for a in assets), assets
        assert "googleapis" not in html and "cdn." not in html
        for a in assets:
            if a.startswith("/docs-assets/"):
                r = svc.client.get(a)
                assert r.status_code == 200 and len(r.content) > 100, a
    assert svc.client.get("/docs-assets/..%2Fcore.py").status_code == 404


def test_public_docs_setting_opens_the_docs_to_anyone(service_with):
    svc = service_with(public_docs=True)
    assert svc.client.get("/openapi.json").status_code == 200
    assert svc.client.get("/docs").status_code == 200
    assert svc.client.get("/redoc").status_code == 200


# -- failed keys ---------------------------------------------------------------------------------------

def test_failed_keys_from_one_address_are_throttled_with_429_and_retry_after(service):
    from api.throttle import LIMIT

    bad = {"X-API-Key": "dsk_00000000_wrong"}
    for _ in range(LIMIT):
        assert service.client.post("/api/v1/screen", json={"title": WATER}, headers=bad).status_code == 401
    r = service.client.post("/api/v1/screen", json={"title": WATER}, headers=bad)
    assert r.status_code == 429, r.text
    body = r.json()
    assert body["code"] == "too_many_failed_keys" and body["field"] == "X-API-Key"
    assert re.search(r"[\u4e00-\u9fff]", body["message_zh"])
    assert 1 <= int(r.headers["retry-after"]) <= 60
    # Another address is not held back.
    from fastapi.testclient import TestClient

    other = TestClient(service.app, client=("10.9.8.7", 40000))
    assert other.post("/api/v1/screen", json={"title": WATER}, headers=service.headers).status_code == 200


def test_a_missing_key_does_not_count_as_a_failed_one(service):
    from api.throttle import LIMIT

    for _ in range(LIMIT + 2):
        assert service.client.post("/api/v1/screen", json={"title": WATER}).status_code == 401
    assert service.client.post("/api/v1/screen", json={"title": WATER}, headers=service.headers).status_code == 200


def test_the_sign_in_page_shares_the_throttle(service):
    from api.throttle import LIMIT

    c = service.client
    csrf = CSRF_RE.search(c.get("/ui/signin").text).group(1)
    for _ in range(LIMIT):
        assert c.post("/ui/signin", data={"csrf_token": csrf, "api_key": "dsk_00000000_wrong"}).status_code == 401
    r = c.post("/ui/signin", data={"csrf_token": csrf, "api_key": service.key})
    assert r.status_code == 429 and "秒后再试" in r.text and r.headers["retry-after"]


def test_the_throttle_forgets_failures_after_the_window():
    from api.throttle import FailedKeyThrottle

    now = [1000.0]
    t = FailedKeyThrottle(limit=3, window=60, clock=lambda: now[0])
    for _ in range(3):
        t.failed("a")
    assert t.retry_after("a") == 60 and t.retry_after("b") is None
    now[0] += 30
    assert t.retry_after("a") == 30
    now[0] += 31
    assert t.retry_after("a") is None


# -- requests uvicorn refuses itself -------------------------------------------------------------------

@pytest.fixture
def real_server(tmp_path):
    port = _free_port()
    log = tmp_path / "server.log"
    env = {**os.environ, "DECISION_SCREEN_VAR": str(tmp_path / "var"), "DATABASE_URL": "",
           "DECISION_SCREEN_MODEL": "rules-only", "DECISION_SCREEN_JOB_WORKER": "0"}
    with log.open("ab") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "decision_screen", "serve", "--host", "127.0.0.1",
                                 "--port", str(port)], cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
    try:
        wait_until_ready(proc, f"http://127.0.0.1:{port}", log, 90)
        yield port
    finally:
        stop(proc)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("length", [b"abc", b"12, 13", b"-5"])
def test_a_malformed_content_length_gets_the_json_error_shape(real_server, length):
    with socket.create_connection(("127.0.0.1", real_server), timeout=10) as s:
        s.sendall(b"POST /api/v1/screen HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  b"Content-Length: " + length + b"\r\n\r\n{}")
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    head, _, payload = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert 400 <= status < 500, raw
    assert b"application/json" in head.lower() and b"nosniff" in head.lower(), raw
    body = json.loads(payload)
    assert {"code", "message_zh", "message_en", "field"} <= set(body)
    assert re.search(r"[\u4e00-\u9fff]", body["message_zh"])
