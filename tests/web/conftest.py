"""Fixtures of the reviewer-page tests.

One real server per test process (per pytest-xdist worker): uvicorn running
tests/web/web_ui_server.py, i.e. api.app.create_app plus the two lines that mount the pages,
on a free 127.0.0.1 port with a fresh SQLite file under the worker's tmp directory. Its keys
are made before it starts. HTTP-level tests talk to it with httpx; browser tests drive
Debian's Chromium through Playwright (never Playwright's own downloaded browsers), each with a
fresh profile directory, and skip with a message saying how to install it when it is missing."""
from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from api.process import stop, wait_until_ready

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("DECISION_SCREEN_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOT_DIR = ROOT / "docs" / "screenshots"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
# The keys the server knows, by role: name and scopes.
KEYS = {
    "admin": ("管理员", ["admin"]),
    "reviewer": ("法制科 审核员", ["screen", "feedback", "jobs"]),
    "screen_only": ("OA 插件 (仅研判)", ["screen"]),
    "jobs_only": ("目录编制 (仅表格)", ["jobs"]),
    "other": ("另一单位", ["screen", "feedback", "jobs"]),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class WebServer:
    base: str
    db_url: str
    var_dir: Path
    log: Path
    keys: dict[str, str] = field(default_factory=dict)
    key_ids: dict[str, str] = field(default_factory=dict)

    def db(self):
        from api.db import Database

        return Database(self.db_url)

    def new_key(self, *scopes: str) -> str:
        """A key of its own for a test that must see only its own records."""
        from api.auth import create_key

        db = self.db()
        try:
            return create_key(db, "test", list(scopes))[0]
        finally:
            db.dispose()

    def client(self, role: str | None = None, key: str | None = None):
        """An httpx client, signed in as `role` (or with `key`) when given; its CSRF token is `client.csrf`."""
        import httpx

        c = httpx.Client(base_url=self.base, follow_redirects=False, timeout=30)
        r = c.get("/ui/signin")
        c.csrf = CSRF_RE.search(r.text).group(1)
        if role is not None or key is not None:
            r = c.post("/ui/signin", data={"csrf_token": c.csrf, "api_key": key or self.keys[role]})
            assert r.status_code == 303, r.text
            page = c.get(r.headers["location"])
            c.csrf = CSRF_RE.search(page.text).group(1)
        return c


@pytest.fixture(scope="session")
def web_server(tmp_path_factory) -> WebServer:
    from api.auth import create_key
    from api.db import Database, migrate

    var_dir = tmp_path_factory.mktemp("web-var")
    db_url = f"sqlite:///{var_dir / 'decision_screen.db'}"
    db = Database(db_url)
    migrate(db)
    srv = WebServer(base="", db_url=db_url, var_dir=var_dir, log=var_dir / "server.log")
    for role, (name, scopes) in KEYS.items():
        key, row = create_key(db, name, scopes)
        srv.keys[role], srv.key_ids[role] = key, row["id"]
    db.dispose()
    port = free_port()
    srv.base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DECISION_SCREEN_VAR": str(var_dir), "DATABASE_URL": db_url,
           "DECISION_SCREEN_JOB_POLL_SECONDS": "0.1", "DECISION_SCREEN_JOB_CHUNK_ROWS": "8",
           "DECISION_SCREEN_SESSION_SECRET": secrets.token_urlsafe(32), "PYTHONUNBUFFERED": "1"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with srv.log.open("wb") as fh:
        proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("web_ui_server.py")), "--port",
                                 str(port)], cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
    try:
        wait_until_ready(proc, srv.base, srv.log, timeout=90)
        yield srv
    finally:
        stop(proc)


# -- the browser ---------------------------------------------------------------------------------

def _browser_missing() -> str | None:
    if not CHROMIUM.exists():
        return (f"Chromium is not installed at {CHROMIUM}: browser tests skipped. Install Debian's Chromium with "
                "`make browser` (apt-get install -y chromium fonts-noto-cjk); never `playwright install`.")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]'): browser tests skipped"
    return None


@pytest.fixture(scope="session")
def playwright_session():
    reason = _browser_missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        yield pw
    finally:
        pw.stop()


@pytest.fixture
def page(playwright_session, tmp_path):
    """A page in a Chromium with a profile directory of its own (nothing carries over between tests)."""
    profile = tmp_path / "chromium-profile"
    context = playwright_session.chromium.launch_persistent_context(
        str(profile), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, locale="zh-CN",
        timezone_id="Asia/Shanghai", viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(15_000)
    errors: list[str] = []
    pg = context.pages[0] if context.pages else context.new_page()
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.js_errors = errors
    try:
        yield pg
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def second_browser(playwright_session, tmp_path):
    """Another Chromium with a profile of its own (another person's browser), opened on demand."""
    contexts = []

    def open_page():
        context = playwright_session.chromium.launch_persistent_context(
            str(tmp_path / f"second-profile-{len(contexts)}"), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
            headless=True, locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1280, "height": 900},
            accept_downloads=True)
        context.set_default_timeout(20_000)
        contexts.append(context)
        return context.pages[0] if context.pages else context.new_page()

    try:
        yield open_page
    finally:
        for context in contexts:
            context.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def shoot(screenshot_dir):
    """Save a full-page screenshot under tmp, and copy it to docs/screenshots/ for review."""

    def take(page, name: str) -> Path:
        path = screenshot_dir / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, SCREENSHOT_DIR / f"{name}.png")
        return path

    return take
