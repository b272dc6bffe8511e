"""The pages' own queries (history filters and exports, the batch table, the record page) on
PostgreSQL, in process: the JSON path filters compile differently there than on SQLite.
Uses DATABASE_URL_TEST or the local server at 127.0.0.1:5432, in a schema of its own; skipped
with a message where none answers."""
from __future__ import annotations

import csv
import io
import os
import re
import secrets
import time
import warnings

import pytest

PG_ADMIN_URL = os.environ.get("DATABASE_URL_TEST", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url():
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    try:
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:  # no server, no driver, refused …
        pytest.skip(f"PostgreSQL not reachable ({type(exc).__name__}): the pages' PostgreSQL run is skipped")
    schema = f"ds_web_{os.getpid()}_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield make_url(PG_ADMIN_URL).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


def test_pages_on_postgresql(pg_url, tmp_path):
    from web_ui_server import build_app

    from api.auth import create_key
    from api.db import Database, migrate
    from api.settings import Settings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from fastapi.testclient import TestClient

    settings = Settings(var_dir=tmp_path / "var", database_url=pg_url, job_poll_seconds=0.05, freeze_gc=False)
    db = Database(pg_url)
    migrate(db)
    key, _ = create_key(db, "pg", ["screen", "feedback", "jobs"])
    try:
        with TestClient(build_app(settings)) as c:
            token = CSRF_RE.search(c.get("/ui/signin").text).group(1)
            assert c.post("/ui/signin", data={"csrf_token": token, "api_key": key}).status_code == 200
            token = CSRF_RE.search(c.get("/ui/screen").text).group(1)
            # No secret in the environment: one is made in the var directory, readable by us only.
            secret = settings.var_dir / "ui_session_secret"
            assert secret.exists() and secret.stat().st_mode & 0o077 == 0

            ids = {}
            for title in ("全市殡葬设施布局规划", "关于召开全市安全生产工作会议的通知"):
                r = c.post("/ui/screen", data={"csrf_token": token, "title": title, "unit": "市民政局",
                                               "planned_date": "2026-12-18"}, follow_redirects=False)
                assert r.status_code == 303
                ids[title] = re.search(r"id=([0-9a-f]{32})", r.headers["location"]).group(1)
                assert c.get(r.headers["location"]).status_code == 200
            sid = ids["全市殡葬设施布局规划"]
            r = c.post(f"/ui/screenings/{sid}/feedback", data={"csrf_token": token, "agree": "no",
                                                                "label": "not_major", "comment": "100%_例行"},
                       follow_redirects=False)
            assert r.status_code == 303

            def total(query: str) -> int:
                page = c.get("/ui/history" + query)
                assert page.status_code == 200, page.text[:500]
                return int(re.search(r"共 (\d+) 条", page.text).group(1))

            assert total("") == 2
            assert total("?q=殡葬") == 1 and total("?q=%25") == 0  # LIKE wildcards are escaped
            assert total("?verdict=not_major") == 1 and total("?verdict=error") == 0
            assert total("?reviewed=yes") == 1 and total("?reviewed=no") == 1
            assert total("?source=screen&date_from=2020-01-01&date_to=2099-12-31") == 2
            assert total("?date_to=2020-01-01") == 0
            assert total("?view=feedback&agree=no&label=not_major&q=100%25_") == 1
            assert total("?view=feedback&agree=yes") == 0
            rows = list(csv.DictReader(io.StringIO(c.get("/ui/history/screenings.csv?reviewed=yes").content
                                                   .decode("utf-8-sig"))))
            assert [r["记录编号"] for r in rows] == [sid]
            rows = list(csv.DictReader(io.StringIO(c.get("/ui/history/feedback.csv").content.decode("utf-8-sig"))))
            assert rows[0]["意见"] == "100%_例行"

            template = c.get("/ui/batch/template.xlsx").content
            r = c.post("/ui/batch", data={"csrf_token": token}, files={"file": ("模板.xlsx", template)},
                       follow_redirects=False)
            assert r.status_code == 303
            job = r.headers["location"]
            deadline = time.monotonic() + 30
            while c.get(job + "/status.json").json()["status"] != "done":
                assert time.monotonic() < deadline
                time.sleep(0.05)
            data = c.get(job + "/rows.json").json()
            assert data["summary"]["total"] == 2 and len(data["rows"]) == 2
            assert c.get(job + "/result.xlsx").status_code == 200
            assert "模板.xlsx" in c.get("/ui/batch").text
    finally:
        db.dispose()
