"""The compiler's year in a real browser (issue 12): a 300-row departmental file with dates
written the way offices write them → upload → decide rows (the review queue, the job table, a
bad row fixed and screened again) → export the official catalogue and read it back → tick
procedures in one browser and see them in another → adjust the catalogue mid-year → the
post-decision evaluation list. Screenshots go to docs/screenshots/ (year-*.png)."""
from __future__ import annotations

import io
import itertools
import random
import re
from pathlib import Path

import httpx
from web_helpers import sign_in, unlabelled

# Matters a county's departments put forward in a year: (title pattern, unit). {p} is a place,
# {y} the year; every title is a kind of matter such files carry, none copied from one.
MATTERS = [
    ("关于调整{p}城区居民生活用水价格的实施方案", "县发展和改革局"),
    ("{p}国土空间总体规划(2021-2035年)", "县自然资源局"),
    ("{p}老旧小区改造三年行动计划({y}-{y2}年)", "县住房和城乡建设局"),
    ("{p}人民医院新院区建设项目", "县卫生健康局"),
    ("关于{p}中小学校布局调整的实施方案", "县教育局"),
    ("{p}殡葬设施专项规划", "县民政局"),
    ("{p}公共停车场收费标准调整方案", "县发展和改革局"),
    ("{p}生活垃圾分类处理设施建设项目", "县城市管理局"),
    ("{p}农村供水保障工程实施方案", "县水利局"),
    ("关于{p}集体土地征收补偿安置标准的通知", "县自然资源局"),
    ("{p}产业园区招商引资优惠政策", "县商务局"),
    ("{p}公交线路优化调整方案", "县交通运输局"),
    ("关于召开{p}安全生产工作会议的通知", "县应急管理局"),
    ("关于表彰{p}{y0}年度先进集体的决定", "县人力资源和社会保障局"),
    ("关于印发{p}机关公文处理办法的通知", "县政府办公室"),
    ("{p}养老服务设施布局规划", "县民政局"),
    ("{p}河道综合治理工程", "县水利局"),
    ("关于{p}出租车经营权管理的暂行办法", "县交通运输局"),
    ("{p}文化旅游发展规划", "县文化广电旅游局"),
    ("关于开展{p}城乡环境卫生专项整治的通知", "县城市管理局"),
    ("关于加强{p}社区治理的若干意见", "县民政局"),
    ("{p}物业服务收费管理实施细则", "县发展和改革局"),
    ("关于{p}夜间经济发展的工作方案", "县商务局"),
    ("{p}农贸市场升级改造实施意见", "县市场监督管理局"),
]
PLACES = ["城关镇", "东城街道", "西河乡", "南山镇", "北关街道", "青石镇", "柳溪乡", "新华街道", "白马镇", "石桥乡",
          "龙泉镇", "永和街道", "杨柳镇", "金水乡", "长岭镇"]
# Dates as departments write them: a day, a month, a quarter, a half-year, "to be decided".
DATES = ["2027/4/15", "2027.5.20", "2027年6月", "2027年第二季度", "下半年", "2027年9月30日", "待定", "三季度",
         "2027-10-15", "年内", "2027年11月", ""]
YEAR = 2027
# Two departments proposing one matter with different dates: flagged as near-duplicates.
NEAR_A = ("城关镇城区居民用水价格调整方案", "县水务局", "2027年6月")
NEAR_B = ("关于调整城关镇城区居民用水价格的实施方案", "县发展和改革局", "2027年第三季度")
BAD_LEVEL = "月球"
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "docs" / "screenshots"  # a level no one has: that row cannot be screened until fixed in the page


def make_rows(n: int = 300) -> list[list]:
    rnd = random.Random(2027)
    rows, seen = [], set()
    for place, (pattern, unit) in itertools.product(PLACES, MATTERS):
        title = pattern.format(p=place, y=YEAR, y2=YEAR + 2, y0=YEAR - 1)
        if title not in seen:
            seen.add(title)
            rows.append([title, unit, rnd.choice(DATES)])
    rnd.shuffle(rows)
    rows = rows[:n - 3]
    rows.insert(5, list(NEAR_A))
    rows.insert(40, list(NEAR_B))
    out = []
    for i, (title, unit, date) in enumerate(rows, start=1):
        out.append([f"发改-{i:03d}" if unit == "县发展和改革局" else i, title, unit, "", "", date or None])
    out.append([n, "关于实施乡村振兴示范村建设的工作方案", "县农业农村局", "", BAD_LEVEL, "2027年第四季度"])
    return out


def write_xlsx(path, rows) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["序号", "决策事项名称", "承办单位", "事项说明", "层级", "计划决策日期"])
    for r in rows:
        ws.append(r)
    wb.save(path)


def snap(page, name: str, full: bool = False) -> None:
    """A screenshot for docs/screenshots/: the visible part (long tables make a full page
    unreadable), or the whole page."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / f"{name}.png"), full_page=full)


def test_the_compilers_year_from_upload_to_the_evaluation_list(page, second_browser, web_server, tmp_path):
    from docx import Document
    from openpyxl import load_workbook

    rows = make_rows()
    assert len(rows) == 300
    upload = tmp_path / "县直部门2027年度重大行政决策事项建议表.xlsx"
    write_xlsx(upload, rows)

    # -- upload: every row is screened, office dates and all -----------------------------------
    sign_in(page, web_server, "reviewer", "/ui/batch")
    page.get_by_label("选择表格文件 (.xlsx 或 .csv)").set_input_files(str(upload))
    page.locator("#upload-submit").click()
    page.wait_for_load_state()
    assert "第301行" in page.locator("#upload-error").inner_text()  # the row as the file numbers it
    page.get_by_label("选择表格文件 (.xlsx 或 .csv)").set_input_files(str(upload))
    page.get_by_label(re.compile("有错误的行先保留")).check()
    page.locator("#upload-submit").click()
    page.wait_for_url(re.compile(r"/ui/batch/[0-9a-f]{32}$"))
    job_url = page.url
    job_id = job_url.rsplit("/", 1)[1]
    page.locator("#rows").wait_for(state="visible", timeout=90_000)
    assert "显示 300 行" in page.locator("#row-count").inner_text()
    errors = page.locator("#results-body tr.row-error")
    assert errors.count() == 1, "only the row with an impossible level fails; office dates never stop a row"
    body = page.locator("#results-body").inner_text()
    assert not re.search(r"(?<![\d.])0\.0%", body)  # review rows carry a real probability, never 0.0%
    assert "2,027" not in page.content()

    # the two departments' versions of one matter, with their conflicting dates
    page.get_by_label("只看重复与疑似重复").check()
    assert "时间不一致" in page.locator("#results-body").inner_text()
    page.get_by_label("只看重复与疑似重复").uncheck()
    snap(page, "year-01-job")

    # -- the review queue: decide review rows one after another --------------------------------
    page.locator("#review-queue").click()
    page.wait_for_url(re.compile(r"/rows/\d+$"))
    assert "待研判队列第" in page.locator(".queue-nav").inner_text()
    assert unlabelled(page) == []
    snap(page, "year-02-review-row")
    decided = []
    # Review rows first, then rows to fix: adopt what can be adopted, until the queue reaches the
    # bad row (how many review rows come before it depends on the shipped model's band).
    for _ in range(120):
        row_no = int(re.search(r"/rows/(\d+)", page.url).group(1))
        adopt = page.get_by_label("采纳 (纳入目录)")
        (adopt if adopt.count() else page.get_by_label("待定")).check()
        page.get_by_label("理由").fill("经研判: 涉及群众切身利益" if adopt.count() else "待更正后再定")
        page.locator("#decide-next").click()
        page.wait_for_url(re.compile(r"saved=decision"))
        decided.append(row_no)
        if row_no == 300 or int(re.search(r"/rows/(\d+)", page.url).group(1)) == row_no:
            break  # the bad row is decided, or nothing is left in the queue
    assert 300 in decided and len(set(decided)) == len(decided)
    page.goto(f"{job_url}/rows/{decided[0]}")
    assert "法制科 审核员" in page.locator("#decision-now").inner_text()

    # -- a bad row: fixed in the page and screened again ------------------------------------------
    page.goto(f"{job_url}/rows/300")
    assert f"“{BAD_LEVEL}”" in page.locator("#row-error").inner_text()  # the message quotes the bad value
    assert page.get_by_label("采纳 (纳入目录)").count() == 0  # not screened: cannot be adopted yet
    page.locator("#fix-form").get_by_label("层级").fill("县级")
    page.locator("#fix-form button[type=submit]").click()
    page.wait_for_url(re.compile(r"saved=fix"))
    assert page.locator("#row-error").count() == 0

    # -- the job table: decide rows inline, with who and when ------------------------------------
    page.goto(job_url)
    page.locator("#rows").wait_for(state="visible", timeout=30_000)
    page.get_by_label("结论", exact=True).select_option("major")
    adopted_titles = []
    for i in range(6):
        tr = page.locator("#results-body tr:not(.detail)").nth(i)
        adopted_titles.append(tr.locator(".title-cell").inner_text())
        tr.get_by_role("button", name=re.compile("详情")).click()
        detail = page.locator("#results-body tr.detail").first
        detail.get_by_label("理由 (可选)").fill("年度重点工作")
        detail.get_by_role("button", name="采纳", exact=True).click()
        page.wait_for_function("(t) => document.querySelector('#results-body tr.detail .decision-now')"
                               " && document.querySelector('#results-body tr.detail .decision-now').textContent"
                               ".includes('采纳')", arg=None)
        tr.get_by_role("button", name=re.compile("详情")).click()  # close it again
    assert page.locator("#results-body .badge.decision-adopt").count() == 6
    assert "法制科 审核员" in page.locator("#results-body .who-line").first.inner_text()
    page.locator("#rows-title").evaluate("(h) => h.scrollIntoView()")
    snap(page, "year-03-job-decided")
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_label("结论", exact=True).select_option("")
    first = page.locator("#results-body tr:not(.detail)").first
    assert first.locator(".badge").first.is_visible()  # the verdict stays visible on a phone
    assert first.locator(".decision-cell .badge").is_visible()
    page.locator("#rows-title").evaluate("(h) => h.scrollIntoView()")
    snap(page, "year-04-job-phone")
    wide = page.evaluate("() => Array.from(document.querySelectorAll('body *')).filter(e => !e.closest('.table-wrap') && e.getBoundingClientRect().right > 392).slice(0, 8).map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 400, wide
    page.set_viewport_size({"width": 1280, "height": 900})

    # -- the official catalogue, read back ----------------------------------------------------------
    page.goto(job_url)
    page.locator("#catalogue-xlsx").wait_for(state="visible", timeout=30_000)
    with page.expect_download() as dl:
        page.locator("#catalogue-xlsx").click()
    assert dl.value.suggested_filename.endswith(".xlsx")
    wb = load_workbook(io.BytesIO(Path(dl.value.path()).read_bytes()))
    ws = wb.worksheets[0]
    text = "\n".join(str(c.value) for row in ws.iter_rows() for c in row if c.value is not None)
    assert f"{YEAR}年度" in text
    for h in ("序号", "决策事项名称", "承办单位", "计划完成时间", "需履行的程序"):
        assert h in text
    for t in adopted_titles:
        assert t in text
    assert not re.search(r"\b(province|county|internal_management|major)\b", text)
    with page.expect_download() as dl:
        page.locator("#catalogue-docx").click()
    doc = Document(io.BytesIO(Path(dl.value.path()).read_bytes()))
    doc_text = "\n".join(p.text for p in doc.paragraphs) + "\n".join(
        c.text for t in doc.tables for r in t.rows for c in r.cells)
    assert all(t in doc_text for t in adopted_titles)

    # the draft catalogue (every row) carries the decisions, in Chinese only
    with page.expect_download() as dl:
        page.locator("#download-xlsx").click()
    wb = load_workbook(io.BytesIO(Path(dl.value.path()).read_bytes()))
    draft = "\n".join(str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value)
    assert "计划决策日期" in draft and "事项说明" in draft and "采纳" in draft
    code = re.search(r"\b(province|city|county|town|department|internal_management|routine|not_major|review)\b",
                     draft)
    assert not code, draft[max(0, code.start() - 200):code.end() + 100]

    # -- the tracking board: ticks in one browser, seen in another ---------------------------------
    page.goto(f"{job_url}/board")
    assert unlabelled(page) == []
    item = page.locator("article.board-item").first
    item_row = item.get_attribute("id").split("-")[1]
    button = item.locator("button[aria-pressed=false]").first
    procedure = button.get_attribute("data-procedure")
    button.click()
    page.wait_for_url(re.compile(r"saved=tick"))
    assert page.locator(f"#item-{item_row} button[data-procedure='{procedure}']").get_attribute("aria-pressed") == "true"
    snap(page, "year-05-board", full=True)

    page2 = second_browser()
    sign_in(page2, web_server, "admin", f"/ui/batch/{job_id}/board")
    tick = page2.locator(f"#item-{item_row} button[data-procedure='{procedure}']")
    assert tick.get_attribute("aria-pressed") == "true"
    who = page2.locator(f"#item-{item_row} li:has(button[data-procedure='{procedure}']) .tick-who").inner_text()
    assert "法制科 审核员" in who
    # the second browser ticks another step; the first sees it on reload
    second = page2.locator(f"#item-{item_row} button[aria-pressed=false]").first
    second_proc = second.get_attribute("data-procedure")
    second.click()
    page2.wait_for_url(re.compile(r"saved=tick"))
    page.reload()
    assert page.locator(f"#item-{item_row} button[data-procedure='{second_proc}']").get_attribute(
        "aria-pressed") == "true"
    with page.expect_download() as dl:
        page.locator("#board-ics").click()
    ics = Path(dl.value.path()).read_text(encoding="utf-8")
    assert "BEGIN:VCALENDAR" in ics and "BEGIN:VEVENT" in ics

    # -- mid-year adjustment: numbered versions with reasons ---------------------------------------
    rows_in = [a.get_attribute("id").split("-")[1] for a in page.locator("article.board-item").all()]
    form = page.locator("#adjust-form")
    form.get_by_label("调整方式").select_option("withdraw")
    form.get_by_label("行号 (撤回、调整时间)").fill(rows_in[-1])
    form.get_by_label("调整理由").fill("上级政策调整, 年内不再推进")
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"saved=adjust"))
    assert "第 2 版" in page.locator("#versions .notice").inner_text()
    form = page.locator("#adjust-form")
    form.get_by_label("调整方式").select_option("add")
    form.get_by_label("新增事项名称").fill("城关镇城区集中供热价格调整方案")
    form.get_by_label("新增事项承办单位").fill("县发展和改革局")
    form.get_by_label("新的计划时间 (新增、调整时间)").fill("2027年第四季度")
    form.get_by_label("调整理由").fill("县政府常务会议决定年中增补")
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"saved=adjust"))
    versions = page.locator("#versions table").inner_text()
    assert "第2版" in versions and "第3版" in versions and "年中增补" in versions
    assert "城关镇城区集中供热价格调整方案" in page.locator("#items").inner_text()
    page.locator("#versions").scroll_into_view_if_needed()
    snap(page, "year-06-board-versions")

    # -- the evaluation list, looked at from the end of the next year ------------------------------
    page.goto(f"{job_url}/board?date=2028-12-31")
    evaluation = page.locator("#evaluation").inner_text()
    assert "决策事项" in evaluation and any(t in evaluation for t in adopted_titles)
    page.locator("#evaluation").scroll_into_view_if_needed()
    snap(page, "year-07-evaluation")

    # the version history reaches the catalogue file too
    r = httpx.get(f"{web_server.base}/api/v1/jobs/{job_id}/catalogue?format=xlsx",
                  headers={"X-API-Key": web_server.keys["reviewer"]}, timeout=30)
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.content))
    all_text = "\n".join(str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value)
    assert "年中增补" in all_text and "城关镇城区集中供热价格调整方案" in all_text


def test_one_matters_opinion_prints_on_at_most_two_pages_and_downloads_as_docx(page, web_server):
    from docx import Document

    sign_in(page, web_server, "reviewer", "/ui/screen")
    page.get_by_label(re.compile("决策事项名称")).fill("关于调整城关镇城区居民生活用水价格的实施方案")
    page.get_by_label(re.compile("事项说明")).fill("拟调整居民阶梯水价, 涉及约3万户居民, 2027-2029年分步实施。")
    page.locator("#screen-form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/ui/screen\?id="))
    page.get_by_role("link", name="研判意见书").first.click()
    page.wait_for_url(re.compile(r"/opinion$"))
    assert page.locator("h1").inner_text() == "重大行政决策事项研判意见书"
    text = page.locator("article.opinion").inner_text()
    assert "研判结论" in text and "须履行的法定程序" in text and "2,027" not in text
    snap(page, "year-08-opinion", full=True)
    page.emulate_media(media="print")
    assert not page.locator(".site-header").is_visible() and not page.locator("#opinion-docx").is_visible()
    pdf = page.pdf(format="A4", print_background=False)
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
    assert 1 <= pages <= 2, pages
    page.emulate_media(media="screen")
    with page.expect_download() as dl:
        page.locator("#opinion-docx").click()
    assert dl.value.suggested_filename.endswith(".docx")
    doc = Document(io.BytesIO(Path(dl.value.path()).read_bytes()))
    body = "\n".join(p.text for p in doc.paragraphs) + "\n".join(
        c.text for t in doc.tables for r in t.rows for c in r.cells)
    assert "研判意见书" in body and "城关镇城区居民生活用水价格" in body and "研判结论" in body


def test_swagger_and_redoc_render_offline_from_the_services_own_files(page, web_server):
    """The docs pages load nothing from another host (a request to one is refused here and would
    fail the test) and still draw the API."""
    outside = []
    page.route(re.compile(r"^https?://(?!127\.0\.0\.1)"), lambda route: (outside.append(route.request.url),
                                                                       route.abort()))
    sign_in(page, web_server, "reviewer", "/ui/docs")
    page.locator(".swagger-ui .info .title").wait_for(state="visible", timeout=20_000)
    assert "decision-screen API" in page.locator(".swagger-ui .info .title").inner_text()
    assert page.locator(".opblock-summary-path", has_text="/api/v1/screen").count() >= 1
    page.goto(f"{web_server.base}/ui/redoc")
    page.get_by_text("decision-screen API").first.wait_for(state="visible", timeout=20_000)
    assert outside == []
