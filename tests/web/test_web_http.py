"""The reviewer pages over plain HTTP (no browser needed): sign-in, the session cookie, CSRF,
scopes, who sees which records, the CSV exports, and that every asset is our own."""
from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import func, select

from api.db import feedback, screenings

WATER = "关于调整城区居民生活用水价格的实施方案"
PAGES = ("/ui/screen", "/ui/batch", "/ui/history")


def _screen(client, title=WATER, **fields) -> str:
    r = client.post("/ui/screen", data={"csrf_token": client.csrf, "title": title, **fields})
    assert r.status_code == 303, r.text[:2000]
    return re.search(r"id=([0-9a-f]{32})", r.headers["location"]).group(1)


def _count(server, table, *where) -> int:
    db = server.db()
    try:
        with db.read() as conn:
            return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()
    finally:
        db.dispose()


@pytest.mark.parametrize("path", PAGES + ("/ui/screenings/" + "0" * 32, "/ui/batch/" + "0" * 32))
def test_signed_out_pages_redirect_to_sign_in_and_come_back(web_server, path):
    c = web_server.client()
    r = c.get(path)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/ui/signin?next=%2Fui%2F")
    # Signing in from there lands on the page asked for.
    signin = c.get(r.headers["location"])
    nxt = re.search(r'name="next" value="([^"]*)"', signin.text).group(1)
    assert nxt == path
    r = c.post("/ui/signin", data={"csrf_token": c.csrf, "api_key": web_server.keys["admin"], "next": nxt})
    assert r.status_code == 303 and r.headers["location"] == path


def test_status_json_of_a_signed_out_session_is_a_401_not_a_redirect(web_server):
    r = web_server.client().get("/ui/batch/" + "0" * 32 + "/status.json")
    assert r.status_code == 401 and r.json()["code"] == "signed_out"


def test_sign_in_refuses_a_wrong_key_and_keeps_no_key_in_the_cookie(web_server):
    c = web_server.client()
    good = web_server.keys["reviewer"]
    for bad in ("", "dsk_nothing_here", good[:-3] + "xyz"):
        r = c.post("/ui/signin", data={"csrf_token": c.csrf, "api_key": bad})
        assert r.status_code == 401 and 'role="alert"' in r.text
    r = c.post("/ui/signin", data={"csrf_token": c.csrf, "api_key": good})
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax") and "Path=/ui" in cookie
    secret = good.split("_", 2)[2]
    assert secret not in cookie  # the key id only, never the secret
    assert c.get("/ui/screen").status_code == 200


def test_sign_in_needs_the_csrf_token_of_the_session(web_server):
    c = web_server.client()
    r = c.post("/ui/signin", data={"api_key": web_server.keys["admin"]})
    assert r.status_code == 403 and "表单已失效" in r.text
    r = c.post("/ui/signin", data={"csrf_token": "forged-" + c.csrf, "api_key": web_server.keys["admin"]})
    assert r.status_code == 403
    assert c.get("/ui/screen").status_code == 303  # still signed out


def test_sign_in_does_not_redirect_off_site(web_server):
    c = web_server.client()
    for nxt in ("https://evil.example/", "//evil.example/ui/", "/ui/signin", "/\\evil.example", "/api/v1/model"):
        r = c.post("/ui/signin", data={"csrf_token": c.csrf, "api_key": web_server.keys["admin"], "next": nxt})
        assert r.status_code == 303 and r.headers["location"] == "/ui/screen", nxt
        c.post("/ui/signout", data={"csrf_token": _csrf(c)})
        c.csrf = _csrf(c, "/ui/signin")


def _csrf(c, path="/ui/history") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', c.get(path).text).group(1)


def test_forged_posts_without_the_token_change_nothing(web_server):
    c = web_server.client("reviewer")
    sid = _screen(c)
    screenings_before = _count(web_server, screenings)
    # Another site's form, riding on the reviewer's cookie: no token, or a token of its own.
    for token in (None, "", "x" * 43, web_server.client().csrf):
        data = {"agree": "no", "label": "not_major", "comment": "forged"}
        if token is not None:
            data["csrf_token"] = token
        r = c.post(f"/ui/screenings/{sid}/feedback", data=data)
        assert r.status_code == 403, r.text[:500]
        r = c.post("/ui/screen", data={**({"csrf_token": token} if token is not None else {}), "title": WATER})
        assert r.status_code == 403
    assert _count(web_server, feedback, feedback.c.screening_id == sid) == 0
    assert _count(web_server, screenings) == screenings_before
    # The real token works.
    r = c.post(f"/ui/screenings/{sid}/feedback", data={"csrf_token": c.csrf, "agree": "yes", "comment": "同意"})
    assert r.status_code == 303
    assert _count(web_server, feedback, feedback.c.screening_id == sid) == 1


def test_a_tampered_cookie_is_a_signed_out_session(web_server):
    c = web_server.client("admin")
    value = c.cookies.get("ds_ui_session")
    c.cookies.clear()
    c.cookies.set("ds_ui_session", value[:-2] + ("AA" if value[-2:] != "AA" else "BB"), path="/ui")
    assert c.get("/ui/history").status_code == 303


def test_signing_out_ends_the_session_and_a_revoked_key_ends_it_too(web_server):
    from api.auth import create_key, revoke_key

    c = web_server.client("admin")
    r = c.post("/ui/signout", data={"csrf_token": c.csrf})
    assert r.status_code == 303 and r.headers["location"] == "/ui/signin?out=1"
    assert c.get("/ui/history").status_code == 303

    db = web_server.db()
    try:
        key, row = create_key(db, "temporary", ["screen"])
        c = web_server.client()
        c.post("/ui/signin", data={"csrf_token": c.csrf, "api_key": key})
        assert c.get("/ui/screen").status_code == 200
        revoke_key(db, row["id"])
    finally:
        db.dispose()
    assert c.get("/ui/screen").status_code == 303


def test_scopes_decide_the_pages_and_the_navigation(web_server):
    screen_only = web_server.client("screen_only")
    page = screen_only.get("/ui/screen")
    assert page.status_code == 200
    assert 'href="/ui/batch"' not in page.text and 'href="/ui/history"' in page.text
    r = screen_only.get("/ui/batch")
    assert r.status_code == 403 and "表格任务 (jobs)" in r.text
    assert screen_only.get("/ui/batch/template.xlsx").status_code == 403
    # No feedback scope: the form is not offered and a POST is refused.
    sid = _screen(screen_only)
    record = screen_only.get(f"/ui/screenings/{sid}")
    assert 'id="feedback-form"' not in record.text and "没有“审核反馈 (feedback)”权限" in record.text
    r = screen_only.post(f"/ui/screenings/{sid}/feedback", data={"csrf_token": screen_only.csrf, "agree": "yes"})
    assert r.status_code == 403

    jobs_only = web_server.client("jobs_only")
    assert jobs_only.get("/ui/batch").status_code == 200
    assert jobs_only.get("/ui/screen").status_code == 403
    assert jobs_only.post("/ui/screen", data={"csrf_token": jobs_only.csrf, "title": WATER}).status_code == 403
    # After sign-in each key lands on the first page it may use.
    c = web_server.client()
    r = c.post("/ui/signin", data={"csrf_token": c.csrf, "api_key": web_server.keys["jobs_only"]})
    assert r.headers["location"] == "/ui/batch"


def test_records_of_another_key_are_not_found(web_server):
    mine = web_server.client("reviewer")
    sid = _screen(mine, title="关于全市中小学布局调整的方案")
    other = web_server.client("other")
    assert other.get(f"/ui/screenings/{sid}").status_code == 404
    assert other.post(f"/ui/screenings/{sid}/feedback", data={"csrf_token": other.csrf, "agree": "yes"}).status_code == 404
    assert "关于全市中小学布局调整的方案" not in other.get("/ui/history").text
    # The admin sees everyone's.
    assert web_server.client("admin").get(f"/ui/screenings/{sid}").status_code == 200


def test_bad_form_input_is_shown_next_to_its_field(web_server):
    c = web_server.client("reviewer")
    r = c.post("/ui/screen", data={"csrf_token": c.csrf, "title": "  ", "amount_wan": "三千"})
    assert r.status_code == 422
    assert 'id="amount_wan-error"' in r.text and "金额(万元)应为数字" in r.text
    r = c.post("/ui/screen", data={"csrf_token": c.csrf, "title": "", "unit": "市财政局"})
    assert r.status_code == 422 and 'id="title-error"' in r.text and "标题不能为空" in r.text
    assert 'value="市财政局"' in r.text  # what was typed is kept
    r = c.post("/ui/screen", data={"csrf_token": c.csrf, "title": WATER, "planned_date": "2026-02-30"})
    assert r.status_code == 422 and 'id="planned_date-error"' in r.text
    # The field names its hint and its error in one attribute, and is marked invalid.
    assert 'aria-describedby="planned-hint planned_date-error" aria-invalid="true"' in r.text
    assert r.text.count("aria-invalid") == 1


def test_history_filters_and_exports_csv(web_server):
    c = web_server.client(key=web_server.new_key("screen", "feedback"))
    a = _screen(c, title="关于召开全市安全生产工作会议的通知")
    b = _screen(c, title="全市殡葬设施布局规划")
    r = c.post(f"/ui/screenings/{b}/feedback", data={"csrf_token": c.csrf, "agree": "no", "label": "not_major",
                                                      "comment": "=不应纳入, 属例行工作", "reviewer": "王某"})
    assert r.status_code == 303
    page = c.get("/ui/history", params={"q": "殡葬"})
    assert "全市殡葬设施布局规划" in page.text and "安全生产工作会议" not in page.text
    page = c.get("/ui/history", params={"verdict": "not_major"})
    assert "安全生产工作会议" in page.text and "殡葬设施布局规划" not in page.text
    page = c.get("/ui/history", params={"reviewed": "yes"})
    assert "殡葬设施布局规划" in page.text and "安全生产工作会议" not in page.text

    r = c.get("/ui/history/screenings.csv", params={"q": "殡葬"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    text = r.content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["记录编号"] for row in rows] == [b]
    assert rows[0]["结论"] == "纳入" and rows[0]["反馈数"] == "1" and "公众参与" in rows[0]["需履行程序"]
    assert a not in text

    r = c.get("/ui/history/feedback.csv", params={"agree": "no"})
    fb_rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    mine = [row for row in fb_rows if row["记录编号"] == b]
    assert mine and mine[0]["是否同意"] == "不同意" and mine[0]["正确结论"] == "非重大 (不纳入)"
    # A comment starting with "=" would run as a formula in Excel: it is escaped.
    assert mine[0]["意见"] == "'=不应纳入, 属例行工作"


def test_pages_use_only_their_own_assets_and_send_a_strict_csp(web_server):
    c = web_server.client("admin")
    sid = _screen(c, planned_date="2026-12-18")
    template = c.get("/ui/batch/template.xlsx").content
    r = c.post("/ui/batch", data={"csrf_token": c.csrf}, files={"file": ("模板.xlsx", template)})
    assert r.status_code == 303, r.text[:1000]
    job_page = r.headers["location"]
    seen_assets = set()
    for path in PAGES + (f"/ui/screen?id={sid}", f"/ui/screenings/{sid}", "/ui/history?view=feedback", job_page):
        r = c.get(path)
        assert r.status_code == 200, path
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert r.headers["cache-control"] == "no-store"
        html = r.text
        assert "<script>" not in html and " style=" not in html  # nothing inline for the CSP to block
        for tag, attr in (("script", "src"), ("link", "href"), ("img", "src")):
            for url in re.findall(rf"<{tag}\b[^>]*\b{attr}=\"([^\"]+)\"", html):
                assert url.startswith("/ui/static/"), f"{path}: {tag} {url}"
                seen_assets.add(url.split("?")[0])
    assert {"/ui/static/app.css", "/ui/static/ui.js", "/ui/static/batch.js"} <= seen_assets
    for asset in seen_assets:
        r = c.get(asset)
        assert r.status_code == 200 and r.content, asset
        body = r.text
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", body), asset  # no CDN, no web font
        assert "@import" not in body and "url(http" not in body


def test_deadlines_on_an_estimated_holiday_calendar_are_marked_on_the_page(web_server):
    # 2027's official schedule is not published: its dates are estimated and the page says so,
    # next to the checklist's dates and in the timeline; a 2026 schedule carries no marker.
    c = web_server.client("admin")
    marker = "(预计, 以官方公布为准)"
    estimated = c.get(f"/ui/screenings/{_screen(c, planned_date='2027-03-18')}").text
    assert estimated.count(marker) >= 2
    assert re.search(r'class="timeline".*?预计, 以官方公布为准', estimated, re.S)
    assert re.search(r'class="checklist".*?预计, 以官方公布为准', estimated, re.S)
    published = c.get(f"/ui/screenings/{_screen(c, planned_date='2026-06-18')}").text
    assert 'class="timeline"' in published and marker not in published


def test_history_search_finds_records_whether_typed_in_traditional_or_simplified(web_server):
    c = web_server.client(key=web_server.new_key("screen"))
    _screen(c, title="关于调整城区居民生活用水价格的实施方案")
    _screen(c, title="全縣殯葬設施佈局規劃")  # submitted in Traditional characters
    page = c.get("/ui/history", params={"q": "調整城區居民生活用水"})
    assert "关于调整城区居民生活用水价格的实施方案" in page.text and "殯葬" not in page.text
    page = c.get("/ui/history", params={"q": "殡葬设施"})
    assert "全縣殯葬設施佈局規劃" in page.text and "用水价格" not in page.text


def test_a_review_record_asks_whether_the_matter_is_major_not_whether_one_agrees(web_server):
    from api.db import screenings

    c = web_server.client(key=web_server.new_key("screen", "feedback"))
    sid = _screen(c, title="关于进一步做好社区工作的意见")
    db = web_server.db()
    try:
        with db.write() as conn:  # whatever the model said, make it a review record
            rec = conn.execute(screenings.select().where(screenings.c.id == sid)).mappings().one()
            conn.execute(screenings.update().where(screenings.c.id == sid).values(
                verdict="review", answer={**rec["answer"], "verdict": "review"}))
    finally:
        db.dispose()
    page = c.get(f"/ui/screenings/{sid}").text
    assert "是否属于重大行政决策" in page and "您是否同意" not in page
    r = c.post(f"/ui/screenings/{sid}/feedback", data={"csrf_token": c.csrf, "agree": "yes", "reviewer": "王某"})
    assert r.status_code == 422 and "是否属于重大行政决策" in r.text
    r = c.post(f"/ui/screenings/{sid}/feedback", data={"csrf_token": c.csrf, "agree": "yes", "label": "not_major"})
    assert r.status_code == 303


def _finished_job(c, rows) -> str:
    import time

    body = "序号,决策事项名称,承办单位,计划决策日期\n" + "".join(f"{i},{t},{u},{d}\n" for i, (t, u, d) in
                                                                 enumerate(rows, start=1))
    r = c.post("/ui/batch", data={"csrf_token": c.csrf}, files={"file": ("建议表.csv", body.encode("utf-8"))})
    assert r.status_code == 303, r.text[:1000]
    job = r.headers["location"].rsplit("/", 1)[1]
    for _ in range(300):
        if c.get(f"/ui/batch/{job}/status.json").json()["status"] == "done":
            return job
        time.sleep(0.1)
    raise AssertionError("the job did not finish")


def test_row_decisions_ticks_and_adjustments_need_the_token_and_stay_with_the_jobs_owner(web_server):
    from api.db import procedure_ticks, row_decisions

    c = web_server.client("reviewer")
    job = _finished_job(c, [(WATER, "县发展和改革局", "2027年第二季度"), ("全县殡葬设施布局规划", "县民政局", "下半年")])
    # forged: no token, nothing written
    assert c.post(f"/ui/batch/{job}/rows/1/decision", data={"decision": "adopt"}).status_code == 403
    assert _count(web_server, row_decisions, row_decisions.c.job_id == job) == 0
    r = c.post(f"/ui/batch/{job}/rows/1/decision", data={"csrf_token": c.csrf, "decision": "adopt", "reason": "民生"})
    assert r.status_code == 303
    r = c.post(f"/ui/batch/{job}/rows/2/decision.json", data={"csrf_token": c.csrf, "decision": "pending"})
    assert r.status_code == 200 and r.json()["decision_zh"] == "待定" and r.json()["decided_by"] == "法制科 审核员"
    rows = c.get(f"/ui/batch/{job}/rows.json").json()
    assert [r["decision"] for r in rows["rows"]] == ["adopt", "pending"]
    assert {d["key"]: d["count"] for d in rows["summary"]["decisions"]}["adopt"] == 1

    board = c.get(f"/ui/batch/{job}/board").text
    assert WATER in board and "全县殡葬设施布局规划" not in board  # only adopted rows are in the catalogue
    assert c.post(f"/ui/batch/{job}/board/tick", data={"row": "1", "procedure": "听证"}).status_code == 403
    r = c.post(f"/ui/batch/{job}/board/tick", data={"csrf_token": c.csrf, "row": "1", "procedure": "听证"})
    assert r.status_code == 303
    assert _count(web_server, procedure_ticks, procedure_ticks.c.job_id == job) == 1
    r = c.post(f"/ui/batch/{job}/board/adjust", data={"csrf_token": c.csrf, "action": "withdraw", "row": "1",
                                                      "reason": ""})
    assert r.status_code == 422 and "理由" in r.text
    r = c.get(f"/ui/batch/{job}/catalogue.xlsx")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert c.get(f"/ui/batch/{job}/board.ics").text.startswith("BEGIN:VCALENDAR")

    other = web_server.client("other")  # another unit's key sees none of it
    for path in (f"/ui/batch/{job}/rows/1", f"/ui/batch/{job}/board", f"/ui/batch/{job}/catalogue.xlsx",
                 f"/ui/batch/{job}/board.ics"):
        assert other.get(path).status_code == 404, path
    r = other.post(f"/ui/batch/{job}/board/tick", data={"csrf_token": other.csrf, "row": "1", "procedure": "公众参与"})
    assert r.status_code == 404
    assert _count(web_server, procedure_ticks, procedure_ticks.c.job_id == job) == 1


def test_an_opinion_is_a_page_for_printing_and_a_docx_for_the_records_owner_only(web_server):
    from docx import Document

    c = web_server.client(key=web_server.new_key("screen"))
    sid = _screen(c, title=WATER, description="涉及约3万户居民, 2027-2029年分步实施。")
    page = c.get(f"/ui/screenings/{sid}/opinion")
    assert page.status_code == 200 and "重大行政决策事项研判意见书" in page.text and "2,027" not in page.text
    r = c.get(f"/ui/screenings/{sid}/opinion.docx")
    assert r.status_code == 200
    text = "\n".join(p.text for p in Document(io.BytesIO(r.content)).paragraphs)
    assert "研判意见书" in text and "须履行的法定程序" in text
    other = web_server.client("other")
    assert other.get(f"/ui/screenings/{sid}/opinion").status_code == 404
    assert other.get(f"/ui/screenings/{sid}/opinion.docx").status_code == 404
