"""The reviewer pages in a real browser (Debian's Chromium driven by Playwright) against the
real server: sign-in, 单项研判 with feedback saved to the database, 批量筛查 from template
download to draft-catalogue download, 历史与反馈 with a CSV export, a forged cross-site POST,
labels and keyboard use. Each page is photographed to docs/screenshots/ for review."""
from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select
from web_helpers import sign_in, tab_sequence, tab_until, unlabelled

from api.db import feedback, jobs

WATER = "关于调整城区居民生活用水价格的实施方案"
BATCH_ROWS = [
    # (序号, 决策事项名称, 承办单位, 事项说明, 层级, 计划决策日期)
    (1, WATER, "市发展和改革局", "拟调整城区居民阶梯水价第一档价格, 涉及约12万户居民。", "", "2026-12-18"),
    (2, "全市国土空间总体规划(2021-2035年)", "市自然资源和规划局", "", "", "2027-03-20"),
    (3, "关于召开全市安全生产工作会议的通知", "市应急管理局", "", "", ""),
    (4, "关于开展城市管理专项整治行动的通知", "市城市管理局", "", "", ""),
    (5, "关于规范网约车经营的暂行办法", "市交通运输局", "", "", ""),
    (6, "全市殡葬设施布局规划", "市民政局", "", "", ""),
    (7, "关于表彰2025年度先进集体的决定", "市人力资源和社会保障局", "", "", ""),
    (8, "市区老旧小区改造三年行动计划", "市住房和城乡建设局", "计划投资3.2亿元, 惠及居民约2万户。", "", ""),
    (9, "关于印发机关公文处理办法的通知", "市政府办公室", "", "", ""),
    (10, "关于全市中小学布局调整的方案", "市教育局", "", "", ""),
    (11, "关于市政府规章立法计划的通知", "市司法局", "", "", ""),
    (12, "关于进一步优化营商环境的若干措施", "市发展和改革局", "", "", ""),
    (13, "关于加强社区养老服务的意见", "市民政局", "", "", ""),
    (14, "县城乡供水专项规划(2025-2035年)", "市水利局", "", "", ""),
    (15, "关于处置某化工厂火灾事故的应急措施", "市应急管理局", "", "", ""),
    (16, "市人民医院新院区建设项目", "市卫生健康委员会", "总投资12亿元, 占地150亩。", "", ""),
    (17, "关于公共停车场收费标准调整的方案", "市发展和改革局", "", "", ""),
    (18, "关于某公司行政处罚的决定", "市市场监督管理局", "", "", ""),
    (19, "关于制定突发事件应急预案的通知", "市应急管理局", "", "", ""),
    (20, WATER, "市发展和改革局", "", "", ""),  # the same matter twice: flagged as a duplicate
    (21, "关于乡村振兴示范村建设的工作方案", "市农业农村局", "", "月球", ""),  # a bad level: an error row
]


def _xlsx(path, rows):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["序号", "决策事项名称", "承办单位", "事项说明", "层级", "计划决策日期"])
    for r in rows:
        ws.append([v if v != "" else None for v in r])
    wb.save(path)
    return path


def _db_rows(server, query):
    db = server.db()
    try:
        with db.read() as conn:
            return [dict(r) for r in conn.execute(query).mappings().all()]
    finally:
        db.dispose()


# -- sign-in ------------------------------------------------------------------------------------------

def test_sign_in_by_keyboard_with_a_wrong_then_a_right_key(page, web_server, shoot):
    page.goto(f"{web_server.base}/ui/history")
    assert "/ui/signin?next=%2Fui%2Fhistory" in page.url
    assert unlabelled(page) == []
    assert page.locator("h1").inner_text() == "登录"
    # Tab reaches the key field, then the submit button; Enter submits.
    tab_until(page, "#api_key")
    page.keyboard.type("dsk_00000000_not-a-key")
    tab_until(page, "button[type=submit].btn-primary")
    page.locator("#api_key").focus()
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    assert page.get_by_role("alert").inner_text().startswith("API 密钥无效")
    assert page.locator("#api_key").get_attribute("aria-invalid") == "true"
    shoot(page, "01-signin-error")
    page.locator("#api_key").fill(web_server.keys["reviewer"])
    page.locator("#api_key").press("Enter")
    page.wait_for_url(f"{web_server.base}/ui/history")
    assert page.get_by_role("navigation", name="主导航").inner_text().split() == ["单项研判", "批量筛查", "历史与反馈"]
    # Signing out (a POST form with its token) ends the session.
    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url(re.compile(r"/ui/signin\?out=1"))
    assert "您已退出登录" in page.content()
    shoot(page, "01-signin")


# -- 单项研判 ------------------------------------------------------------------------------------------

def test_second_opinion_end_to_end_with_feedback_saved(page, web_server, shoot):
    sign_in(page, web_server, "reviewer", "/ui/screen")
    assert page.url.endswith("/ui/screen")
    assert unlabelled(page) == []
    # The keyboard reaches every field and then the submit button, in reading order.
    order = page.evaluate("""() => Array.from(document.querySelectorAll('#screen-form input:not([type=hidden]),'
        + '#screen-form select, #screen-form textarea, #screen-form button')).map(e => e.id)""")
    assert order[0] == "title" and order[-1] == "screen-submit"
    walked = tab_sequence(page, "#screen-submit")
    # (A date input takes one Tab per part: year, month, day.)
    in_form = [x for i, x in enumerate(walked) if x in order and (i == 0 or walked[i - 1] != x)]
    assert in_form == order  # nothing skipped, nothing out of order

    page.get_by_label("决策事项名称").fill(WATER)
    page.get_by_label("事项说明").fill("拟对城区居民阶梯水价第一档价格作调整, 涉及约12万户居民, 需配套改造资金3000万元。")
    page.get_by_label("承办单位").fill("市发展和改革局")
    page.get_by_label("适用标准").select_option("national")
    page.get_by_label("决策机关层级").select_option("city")
    page.get_by_label("涉及人数", exact=True).fill("314400")
    page.get_by_label("计划决策日期").fill("2026-12-18")
    page.get_by_label("决策事项名称").press("Enter")  # Enter in a field submits the form
    page.wait_for_url(re.compile(r"/ui/screen\?id=[0-9a-f]{32}#result"))
    sid = re.search(r"id=([0-9a-f]{32})", page.url).group(1)

    verdict = page.locator(".verdict-card")
    assert verdict.locator(".verdict-badge").inner_text() == "纳入"
    assert re.search(r"置信度\s*\d+\.\d%", verdict.inner_text())
    # The rules that fired, each with its legal basis.
    rules = page.locator("ol.reasons > li")
    assert rules.count() >= 2
    assert "列举" in rules.first.inner_text() and "依据" in rules.first.inner_text()
    assert "条例第3条" in page.locator("ol.reasons").inner_text()
    # The phrases that drove the verdict, marked in the text; each rule mark points at its reason.
    assert page.locator("#matter-text mark.hl-rule").count() >= 1
    assert page.locator("#matter-text mark.hl-model-major").count() >= 1
    assert page.locator("#matter-text sup.ref").first.inner_text().startswith("[")
    assert page.locator(".terms .chip").count() >= 1
    # Numbers read, tier, procedures checklist, timeline, precedents.
    numbers = page.locator("section[aria-labelledby=numbers-title]").inner_text()
    assert "人数" in numbers and "314,400" in numbers and "分级" in numbers
    checklist = page.locator("ul.checklist > li")
    assert checklist.count() == 12
    legality = page.locator("ul.checklist > li", has_text="合法性审查")
    assert "必须" in legality.inner_text() and "最迟启动" in legality.inner_text()
    assert page.locator("ol.timeline li.planned time").inner_text() == "2026-12-18"
    assert page.locator("section[aria-labelledby=similar-title] tbody tr").count() >= 1
    # A tick in the checklist is remembered by this browser.
    page.get_by_label("合法性审查").check()
    page.reload()
    assert page.get_by_label("合法性审查").is_checked()
    assert unlabelled(page) == []
    shoot(page, "02-screen-result")

    # Feedback: disagree, give the correct label, say why.
    page.get_by_label("不同意").check()
    assert page.get_by_label("正确结论").evaluate("el => el.required") is True
    page.get_by_label("正确结论").select_option("not_major")
    page.get_by_label("不纳入的原因 (可选)").select_option("statutory_procedure")
    page.get_by_label("理由 / 意见").fill("水价调整已按价格法另行听证, 本级不再列入目录。")
    page.get_by_label("审核人").fill("法制科 王敏")
    page.get_by_role("button", name="保存审核意见").click()
    page.wait_for_url(re.compile(r"saved=\d+#feedback"))
    assert "已保存审核意见" in page.get_by_role("status").first.inner_text()
    saved = _db_rows(web_server, select(feedback).where(feedback.c.screening_id == sid))
    assert len(saved) == 1
    fb = saved[0]
    assert (fb["agree"], fb["label"], fb["verdict"], fb["exclusion"]) == (False, "not_major", "major",
                                                                          "statutory_procedure")
    assert fb["comment"].startswith("水价调整") and fb["reviewer"] == "法制科 王敏"
    assert fb["key_id"] == web_server.key_ids["reviewer"]
    assert "不同意" in page.locator(".feedback-list").inner_text()
    page.locator("#feedback").scroll_into_view_if_needed()
    shoot(page, "03-screen-feedback")


# -- 批量筛查 ------------------------------------------------------------------------------------------

def test_batch_from_template_to_draft_catalogue(page, web_server, shoot, tmp_path):
    import openpyxl
    import pandas as pd

    sign_in(page, web_server, "reviewer", "/ui/batch")
    assert unlabelled(page) == []
    tab_until(page, "#upload-submit")

    with page.expect_download() as dl:
        page.get_by_role("link", name="下载模板 (.xlsx)").click()
    template = tmp_path / dl.value.suggested_filename
    dl.value.save_as(template)
    wb = openpyxl.load_workbook(template)
    assert "决策事项名称" in [c.value for c in wb.worksheets[0][1]]

    upload = _xlsx(tmp_path / "2027年度决策事项建议汇总.xlsx", BATCH_ROWS)
    page.get_by_label("选择表格文件 (.xlsx 或 .csv)").set_input_files(str(upload))
    page.get_by_label(re.compile("有错误的行先保留")).check()
    shoot(page, "04-batch")
    polls = []
    page.on("response", lambda r: polls.append(r.url) if r.url.endswith("/status.json") else None)
    page.get_by_role("button", name="上传并开始筛查").click()
    page.wait_for_url(re.compile(r"/ui/batch/[0-9a-f]{32}$"))
    job_id = page.url.rsplit("/", 1)[1]

    # Live progress: the page polls the job until it is done.
    page.locator("#downloads").wait_for(state="visible", timeout=30_000)
    assert polls, "the page never polled the job status"
    assert page.locator("#job-status").inner_text() == "已完成"
    assert page.locator("#job-progress").evaluate("p => p.value === p.max && p.max === 21")
    page.locator("#rows").wait_for(state="visible")
    job = _db_rows(web_server, select(jobs).where(jobs.c.id == job_id))[0]
    # (how many rows fall in the review band is the model's business: the order below holds for any number)
    assert job["status"] == "done" and job["n_error"] == 1

    # Summary: counts, and the charts drawn by the page itself.
    cards = page.locator("#stat-cards").inner_text()
    assert "21" in cards and "待人工研判" in cards and "重复事项" in cards
    assert page.locator("#chart-verdicts svg[role=img] rect").count() == 4
    assert page.locator("#chart-units svg text").first.text_content()
    assert page.locator("#chart-categories svg rect").count() >= 1

    # The table: the review band first, then error rows, then the rest.
    rows = page.locator("#results-body tr")
    assert page.locator("#row-count").inner_text() == "显示 21 行 (共 21 行)"
    verdicts = [rows.nth(i).locator(".badge").first.inner_text() for i in range(rows.count())]
    n_review = job["n_review"]
    assert verdicts[:n_review] == ["待人工研判"] * n_review and verdicts[n_review] == "输入错误"
    # Filter by verdict, then by text.
    page.get_by_label("结论", exact=True).select_option("not_major")
    shown = [rows.nth(i).locator(".badge").first.inner_text() for i in range(rows.count())]
    assert shown and set(shown) == {"不纳入"} and len(shown) == job["n_not_major"]
    page.get_by_label("结论", exact=True).select_option("")
    page.get_by_label("搜索事项或单位").fill("殡葬")
    assert rows.count() == 1 and "全市殡葬设施布局规划" in rows.first.inner_text()
    page.get_by_label("搜索事项或单位").fill("")
    page.get_by_label("只看重复与疑似重复").check()
    shown = [rows.nth(i).inner_text() for i in range(rows.count())]
    assert sum("与第1行重复" in t for t in shown) == 1 and all("重复" in t or "近似" in t for t in shown)
    page.get_by_label("只看重复与疑似重复").uncheck()
    # Sort by row number, both ways (the header is a button: keyboard-operable).
    header = page.locator("th[data-sort=row]")
    header.get_by_role("button").focus()
    page.keyboard.press("Enter")
    assert header.get_attribute("aria-sort") == "ascending" and rows.first.locator("td").first.inner_text() == "1"
    header.get_by_role("button").click()
    assert header.get_attribute("aria-sort") == "descending" and rows.first.locator("td").first.inner_text() == "21"
    # Drill down into a row, and on to its record.
    first = rows.first
    detail_button = first.get_by_role("button", name=re.compile("详情"))
    detail_button.click()
    assert page.locator("#results-body tr[data-row='21'] button").get_attribute("aria-expanded") == "true"
    detail = page.locator("#detail-21")
    assert "层级" in detail.inner_text() or "输入" in detail.inner_text()
    assert unlabelled(page) == []
    shoot(page, "05-batch-job")

    # The draft catalogue, downloaded and read back.
    with page.expect_download() as dl:
        page.get_by_role("link", name="下载目录草稿 (.xlsx)").click()
    out = tmp_path / "draft.xlsx"
    dl.value.save_as(out)
    assert dl.value.suggested_filename.endswith(".xlsx")
    sheets = pd.read_excel(out, sheet_name=None, header=1)  # row 1 is the title row
    catalogue = sheets["目录草稿"]
    assert len(catalogue) == 21
    assert list(catalogue.columns[:10]) == ["序号", "决策事项名称", "承办单位", "决策类别", "分级", "是否纳入",
                                            "需履行程序", "依据", "置信度", "理由"]
    assert catalogue.loc[catalogue["决策事项名称"] == "全市殡葬设施布局规划", "是否纳入"].item() == "纳入"
    assert (catalogue["是否纳入"] == "错误").sum() == 1
    assert len(sheets) >= 2  # the summary sheet

    # The drill-down link leads to the record, with its reasons and the feedback form.
    page.get_by_label("搜索事项或单位").fill("殡葬")
    rows.first.get_by_role("button", name=re.compile("详情")).click()
    page.get_by_role("link", name="完整研判与审核意见 →").click()
    page.wait_for_url(re.compile(r"/ui/screenings/[0-9a-f]{32}"))
    assert page.locator(".verdict-badge").inner_text() == "纳入"
    assert page.locator("#feedback-form").count() == 1
    assert unlabelled(page) == []


def test_upload_errors_are_listed_with_their_sheet_rows(page, web_server, tmp_path):
    sign_in(page, web_server, "reviewer", "/ui/batch")
    # (an impossible date no longer stops a row: it is screened with a warning quoting it)
    bad = _xlsx(tmp_path / "bad.xlsx", [(1, "", "市民政局", "", "", ""), (2, "全市殡葬设施布局规划", "", "", "月球", "2026-02-30")])
    page.get_by_label("选择表格文件 (.xlsx 或 .csv)").set_input_files(str(bad))
    page.get_by_role("button", name="上传并开始筛查").click()
    page.wait_for_load_state()
    alert = page.get_by_role("alert").inner_text()
    assert "第2行" in alert and "第3行" in alert and "有错误的行先保留" in alert


# -- 历史与反馈 ----------------------------------------------------------------------------------------

def test_history_filter_export_and_feedback_view(page, web_server, shoot, tmp_path):
    client = web_server.client("reviewer")
    for title in ("关于全市中小学布局调整的方案", "关于表彰2025年度先进集体的决定"):
        r = client.post("/ui/screen", data={"csrf_token": client.csrf, "title": title, "unit": "市教育局"})
        assert r.status_code == 303
    sid = re.search(r"id=([0-9a-f]{32})", r.headers["location"]).group(1)
    r = client.post(f"/ui/screenings/{sid}/feedback", data={"csrf_token": client.csrf, "agree": "yes",
                                                             "comment": "例行表彰, 同意不纳入", "reviewer": "李"})
    assert r.status_code == 303

    sign_in(page, web_server, "reviewer", "/ui/history")
    assert unlabelled(page) == []
    assert page.locator("#history-table tbody tr").count() >= 2
    # Type a keyword, press Enter: the filter form submits.
    page.get_by_label("关键词").fill("中小学")
    page.get_by_label("关键词").press("Enter")
    page.wait_for_url(re.compile(r"q=%E4%B8%AD%E5%B0%8F%E5%AD%A6"))
    table = page.locator("#history-table tbody tr")
    assert table.count() >= 1 and all("中小学" in table.nth(i).inner_text() for i in range(table.count()))
    shoot(page, "06-history")
    with page.expect_download() as dl:
        page.get_by_role("link", name="导出 CSV").click()
    path = tmp_path / "history.csv"
    dl.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert rows and all("中小学" in row["决策事项名称"] for row in rows)

    page.get_by_role("link", name="审核反馈").click()
    page.wait_for_url(re.compile(r"view=feedback"))
    assert unlabelled(page) == []
    fb_table = page.locator("#history-table").inner_text()
    assert "例行表彰, 同意不纳入" in fb_table and "同意" in fb_table
    page.get_by_label("意见").select_option("yes")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url(re.compile(r"agree=yes"))
    shoot(page, "07-history-feedback")


# -- CSRF in the browser -----------------------------------------------------------------------------

def test_a_forged_cross_site_form_post_is_refused(page, web_server):
    client = web_server.client("reviewer")
    r = client.post("/ui/screen", data={"csrf_token": client.csrf, "title": "全市殡葬设施布局规划"})
    sid = re.search(r"id=([0-9a-f]{32})", r.headers["location"]).group(1)
    sign_in(page, web_server, "reviewer", f"/ui/screenings/{sid}")

    # Another origin (another port of the same host: the *same site*, so SameSite cookies ride
    # along) serves a page that posts the feedback form on the reviewer's behalf.
    evil = web_server.base.rsplit(":", 1)[0] + ":9/evil.html"
    html = f"""<!doctype html><meta charset="utf-8"><form id="f" method="post"
      action="{web_server.base}/ui/screenings/{sid}/feedback">
      <input name="agree" value="no"><input name="label" value="not_major"><input name="comment" value="forged">
      </form><script>document.getElementById('f').submit()</script>"""
    page.route(evil, lambda route: route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html))
    with page.expect_navigation(url=re.compile(r"/feedback$")):
        page.goto(evil)
    assert page.locator("h1").inner_text() == "表单已失效"
    assert _db_rows(web_server, select(feedback).where(feedback.c.screening_id == sid)) == []
    # The reviewer's own form, with its token, still works.
    page.goto(f"{web_server.base}/ui/screenings/{sid}")
    page.get_by_label("同意", exact=True).check()
    page.get_by_role("button", name="保存审核意见").click()
    page.wait_for_url(re.compile(r"saved=\d+"))
    assert len(_db_rows(web_server, select(feedback).where(feedback.c.screening_id == sid))) == 1


@pytest.mark.parametrize("role,path,expected", [("jobs_only", "/ui/screen", 403), ("screen_only", "/ui/batch", 403)])
def test_a_page_outside_the_keys_scopes_explains_itself(page, web_server, role, path, expected):
    sign_in(page, web_server, role, "/ui/history")
    response = page.goto(f"{web_server.base}{path}")
    assert response.status == expected
    assert page.locator("h1").inner_text() == "权限不足"
