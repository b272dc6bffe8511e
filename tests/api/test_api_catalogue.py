"""The catalogue year over HTTP (issue 12): office-style dates in an upload, a decision per row
that reaches the table, the summary and every download, fixing and re-screening a row, the
official catalogue (.xlsx and .docx read back), mid-year adjustments as numbered versions, the
shared tracking board with its .ics file and evaluation list, and near-duplicates."""
import io

import pytest
from openpyxl import load_workbook

from api.catalogue_export import COLUMNS

WATER = "关于调整城区居民生活用水价格的实施方案"
WATER_2 = "城区居民生活用水价格调整方案"
ROWS = [("A-1", WATER, "市水务局", "2027年第二季度"),
        ("A-2", WATER_2, "市发展和改革局", "2027/9/30"),
        ("A-3", "关于召开全市安全生产工作会议的通知", "市政府办公室", "待定"),
        ("A-4", "全市殡葬设施布局规划", "市民政局", "下半年"),
        ("A-5", "全市国土空间总体规划(2021-2035年)", "市自然资源和规划局", "明年春天")]


def csv_bytes(rows):
    import csv

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(("序号", "决策事项名称", "承办单位", "计划完成时间"))
    w.writerows(rows)
    return buf.getvalue().encode("utf-8-sig")


@pytest.fixture
def job(service):
    r = service.client.post("/api/v1/jobs", files={"file": ("2027年度建议.csv", csv_bytes(ROWS), "text/csv")},
                            data={"catalogue_year": "2027"}, headers=service.headers)
    assert r.status_code == 202, r.text
    done = service.wait_job(r.json()["id"])
    assert done["status"] == "done"
    return done


def patch(service, job, row, **body):
    return service.client.patch(f"/api/v1/jobs/{job['id']}/rows/{row}", json=body, headers=service.headers)


def get(service, job, path, **params):
    return service.client.get(f"/api/v1/jobs/{job['id']}{path}", params=params, headers=service.headers)


def test_office_style_dates_are_read_and_an_unreadable_one_does_not_stop_its_row(service, job):
    assert job["counts"]["error"] == 0 and job["done_rows"] == 5
    rows = {r["row"]: r for r in get(service, job, "/rows").json()["rows"]}
    assert rows[1]["seq"] == "A-1"  # the department's own 序号, kept
    assert (rows[1]["planned_period"], rows[1]["planned_date"]) == ("2027年第二季度", "2027-06-30")
    assert rows[2]["planned_date"] == "2027-09-30" and rows[2]["planned_period"] is None
    assert rows[3]["planned_period"] == "未定" and rows[3]["planned_date"] is None
    assert (rows[4]["planned_period"], rows[4]["planned_date"]) == ("2027年下半年", "2027-12-31")
    assert rows[5]["verdict"] is not None and rows[5]["planned_date_text"] == "明年春天"
    assert any("明年春天" in w for w in rows[5]["warnings"])
    # Deadlines of a period count back from its last working day.
    hearing = next(p for p in rows[1]["answer"]["procedures"] if p["name"] == "合法性审查")
    assert hearing["deadline"]["latest_finish"] < "2027-06-30"


def test_a_decision_is_stored_with_who_and_when_and_becomes_feedback(service, job):
    r = patch(service, job, 1, decision="adopt", reason="列入年度计划")
    assert r.status_code == 200, r.text
    d = r.json()["decision"]
    assert (d["decision"], d["label_zh"], d["reason"], d["reviewer"]) == ("adopt", "采纳", "列入年度计划", "admin (tests)")
    assert d["decided_at"]
    assert patch(service, job, 3, decision="reject", reason="会议事项", reviewer="法制科 李").status_code == 200
    assert patch(service, job, 2, decision="pending").status_code == 200
    status = service.client.get(f"/api/v1/jobs/{job['id']}", headers=service.headers).json()
    assert status["decisions"] == {"adopt": 1, "reject": 1, "pending": 1, "undecided": 2, "withdrawn": 0}
    assert [r["row"] for r in get(service, job, "/rows", decision="adopt").json()["rows"]] == [1]
    assert [r["row"] for r in get(service, job, "/rows", decision="undecided").json()["rows"]] == [4, 5]
    # adopt/reject are reviewer feedback on the row's screening record (pending says nothing yet).
    sid = get(service, job, "/rows/1").json()["screening_id"]
    fb = service.client.get(f"/api/v1/screenings/{sid}", headers=service.headers).json()["feedback"]
    assert [(f["label"], f["reviewer"]) for f in fb] == [("major", "admin (tests)")]
    sid3 = get(service, job, "/rows/3").json()["screening_id"]
    fb3 = service.client.get(f"/api/v1/screenings/{sid3}", headers=service.headers).json()["feedback"]
    assert [(f["label"], f["reviewer"]) for f in fb3] == [("not_major", "法制科 李")]
    sid2 = get(service, job, "/rows/2").json()["screening_id"]
    assert service.client.get(f"/api/v1/screenings/{sid2}", headers=service.headers).json()["feedback"] == []


def test_decisions_reach_the_draft_download_and_its_summary(service, job):
    patch(service, job, 1, decision="adopt", reason="列入")
    patch(service, job, 3, decision="reject")
    wb = load_workbook(io.BytesIO(get(service, job, "/result").content))
    ws = wb["目录草稿"]
    rows = list(ws.iter_rows(values_only=True))
    assert "目录草稿" in rows[0][0]  # the title row
    head = list(rows[1])
    body = {r[head.index("行号")]: dict(zip(head, r)) for r in rows[2:]}
    assert body[1]["决策"] == "采纳" and body[1]["决策理由"] == "列入" and body[1]["决策人"] == "admin (tests)"
    assert body[3]["决策"] == "不采纳" and body[2]["决策"] in (None, "")
    assert body[1]["计划决策日期"] == "2027年第二季度" and body[5]["计划决策日期"] == "明年春天 (无法识别)"
    assert body[1]["序号"] == "A-1"
    assert ws.page_setup.orientation == "landscape" and ws.print_title_rows == "$1:$2"
    assert ws.auto_filter.ref.startswith("A2:")
    summary = {r[0]: r[1] for r in wb["汇总"].iter_rows(values_only=True) if r[0]}
    assert summary["采纳"] == 1 and summary["不采纳"] == 1 and summary["未决定"] == 3
    lines = get(service, job, "/result", format="jsonl").text.splitlines()
    import json

    first = json.loads(lines[0])
    assert first["decision"]["decision"] == "adopt"


def test_decision_errors_are_structured_and_in_chinese(service, job):
    r = patch(service, job, 1, decision="maybe")
    assert r.status_code == 422 and r.json()["field"] and r.json()["message_zh"]
    r = patch(service, job, 99, decision="adopt")
    assert r.status_code == 404 and r.json()["code"] == "row_not_found" and "99" in r.json()["message_zh"]
    r = patch(service, job, 1)
    assert r.status_code == 422 and r.json()["code"] == "nothing_to_change"
    r = patch(service, job, 1, fields={"secret": "x"})
    assert r.status_code == 422 and "secret" in r.json()["message_zh"]
    other = service.new_key("jobs")
    r = service.client.patch(f"/api/v1/jobs/{job['id']}/rows/1", json={"decision": "adopt"},
                             headers={"X-API-Key": other})
    assert r.status_code == 404 and r.json()["code"] == "job_not_found"


def test_a_bad_row_is_fixed_and_screened_again_keeping_its_decision(service, job):
    patch(service, job, 5, decision="pending", reason="日期待核")
    r = patch(service, job, 5, fields={"planned_date": "2027年6月"}, reason="改为6月")
    assert r.status_code == 200, r.text
    row = r.json()
    assert (row["planned_period"], row["planned_date"], row["planned_date_text"]) == ("2027年6月", "2027-06-30", None)
    assert not any("无法识别" in w for w in row["warnings"])
    assert row["decision"]["decision"] == "pending"
    # A fix that still cannot be screened is refused, quoting the problem, and nothing changes.
    r = patch(service, job, 5, fields={"title": "!!!"})
    assert r.status_code == 422 and r.json()["field"] == "title" and "第5行" in r.json()["message_zh"]
    assert get(service, job, "/rows/5").json()["title"].startswith("全市国土空间")
    log = get(service, job, "/catalogue", format="json").json()["changes"]
    assert [c["action"] for c in log] == ["pending", "fix"]
    assert log[1]["details"]["fields"]["planned_date"]["to"] == "2027-06-30"


def _adopt(service, job, *rows):
    for n in rows:
        assert patch(service, job, n, decision="adopt", reason="列入目录").status_code == 200


def test_the_catalogue_xlsx_has_the_usual_layout_print_setup_and_a_change_log(service, job):
    _adopt(service, job, 1, 4)
    patch(service, job, 3, decision="reject", reason="会议事项")
    r = get(service, job, "/catalogue", format="xlsx")
    assert r.status_code == 200 and "filename*=UTF-8''" in r.headers["content-disposition"]
    wb = load_workbook(io.BytesIO(r.content))
    ws = wb["目录"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "2027年度重大行政决策事项目录"
    assert "第1版" in rows[1][0] and "北京时间" in rows[1][0]
    assert list(rows[2]) == COLUMNS
    items = [r for r in rows[3:] if r[0] is not None]
    assert [(r[0], r[1], r[2], r[4]) for r in items] == [(1, WATER, "市水务局", "2027年第二季度"),
                                                          (2, "全市殡葬设施布局规划", "市民政局", "2027年下半年")]
    assert "听证" in items[0][5] and "原表序号 A-1" in items[0][6]
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.fitToWidth == 1
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.print_title_rows == "$1:$3"
    assert ws.auto_filter.ref == "A3:G5"
    log = list(wb["变更记录"].iter_rows(values_only=True))
    assert [r[2] for r in log[1:]] == ["采纳", "采纳", "不采纳"]
    assert log[3][5] == "会议事项"
    # Chinese labels only: no contract code anywhere in the catalogue.
    text = " ".join(str(v) for s in wb.worksheets for r in s.iter_rows(values_only=True) for v in r if v)
    for code in ("adopt", "reject", "major", "province", "county", "internal_management"):
        assert code not in text


def test_the_catalogue_docx_reads_back_landscape_with_a_repeated_heading_and_a_change_log(service, job):
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.oxml.ns import qn

    _adopt(service, job, 1, 4)
    r = get(service, job, "/catalogue", format="docx", title="某县2027年度重大行政决策事项目录")
    assert r.status_code == 200
    doc = Document(io.BytesIO(r.content))
    assert doc.paragraphs[0].text == "某县2027年度重大行政决策事项目录"
    assert doc.sections[0].orientation == WD_ORIENT.LANDSCAPE
    table = doc.tables[0]
    assert [c.text for c in table.rows[0].cells] == COLUMNS
    assert table.rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None
    assert [row.cells[1].text for row in table.rows[1:]] == [WATER, "全市殡葬设施布局规划"]
    assert any(p.text == "变更记录" for p in doc.paragraphs)
    assert [row.cells[2].text for row in doc.tables[1].rows[1:]] == ["采纳", "采纳"]


def test_mid_year_adjustments_make_numbered_versions_with_reasons(service, job):
    _adopt(service, job, 1, 4)
    url = f"/api/v1/jobs/{job['id']}/catalogue/adjustments"
    r = service.client.post(url, json={"reason": "年中调整: 市政府常务会议研究", "changes": [
        {"action": "withdraw", "row": 4, "reason": "暂缓实施"},
        {"action": "reschedule", "row": 1, "planned_date": "2027年第三季度"},
        {"action": "add", "fields": {"title": "全市城市供水专项规划(2027-2035年)", "unit": "市水务局",
                                     "planned_date": "2027年11月"}}]}, headers=service.headers)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["version"] == 2 and [c["action"] for c in out["changes"]] == ["withdraw", "reschedule", "add"]
    added = out["changes"][2]["row"]
    assert added == 6
    cat = get(service, job, "/catalogue", format="json").json()
    assert cat["version"] == 2 and [i["row"] for i in cat["items"]] == [1, 6]
    assert cat["items"][0]["planned_label"] == "2027年第三季度"
    assert cat["items"][1]["decision"]["added_version"] == 2
    assert [v["version"] for v in cat["versions"]] == [2] and cat["versions"][0]["reason"].startswith("年中调整")
    by_action = {c["action"]: c for c in cat["changes"] if c["version"] == 2}
    assert by_action["withdraw"]["reason"] == "暂缓实施" and by_action["reschedule"]["reason"].startswith("年中调整")
    assert service.client.get(f"/api/v1/jobs/{job['id']}", headers=service.headers).json()["total_rows"] == 6
    # The withdrawn row is out of the catalogue but keeps its decision; the next adjustment is version 3.
    assert get(service, job, "/rows/4").json()["decision"]["withdrawn_version"] == 2
    r = service.client.post(url, json={"reason": "再次调整", "changes": [{"action": "withdraw", "row": 6}]},
                            headers=service.headers)
    assert r.json()["version"] == 3
    wb = load_workbook(io.BytesIO(get(service, job, "/catalogue").content))
    assert "第3版" in wb["目录"]["A2"].value
    assert [r[0] for r in wb["版本"].iter_rows(min_row=2, values_only=True)] == ["第1版", "第2版", "第3版"]


def test_bad_adjustments_are_refused_with_chinese_messages(service, job):
    _adopt(service, job, 1)
    url = f"/api/v1/jobs/{job['id']}/catalogue/adjustments"
    r = service.client.post(url, json={"reason": "", "changes": [{"action": "withdraw", "row": 1}]},
                            headers=service.headers)
    assert r.status_code == 422 and r.json()["message_zh"]
    r = service.client.post(url, json={"reason": "x", "changes": [{"action": "withdraw", "row": 3}]},
                            headers=service.headers)
    assert r.status_code == 422 and r.json()["code"] == "bad_adjustment" and "第3行" in r.json()["message_zh"]
    r = service.client.post(url, json={"reason": "x", "changes": [{"action": "reschedule", "row": 1}]},
                            headers=service.headers)
    assert r.status_code == 422 and r.json()["field"] == "changes[0].planned_date"
    assert get(service, job, "/catalogue", format="json").json()["version"] == 1


def test_the_tracking_board_is_shared_in_the_database_with_overdue_and_due_soon_by_unit(service, job):
    _adopt(service, job, 1)
    board = get(service, job, "/tracking", today="2027-01-04").json()
    item = board["items"][0]
    names = [p["name"] for p in item["procedures"]]
    assert item["row"] == 1 and "听证" in names and "合法性审查" in names
    assert all(p["deadline"] for p in item["procedures"] if p["name"] != "档案归档")
    r = service.client.post(f"/api/v1/jobs/{job['id']}/tracking/ticks",
                            json={"row": 1, "procedure": "公众参与", "done": True, "reviewer": "水务局 张"},
                            headers=service.headers)
    assert r.status_code == 200 and r.json()["reviewer"] == "水务局 张"
    # Another client (another session, the same data) sees the tick with who and when.
    late = get(service, job, "/tracking", today="2027-12-30").json()
    public_participation = next(p for p in late["items"][0]["procedures"] if p["name"] == "公众参与")
    assert public_participation["done"] and public_participation["tick"]["reviewer"] == "水务局 张"
    overdue = late["overdue"]["市水务局"]
    assert {o["procedure"] for o in overdue} >= {"听证", "合法性审查"} and "公众参与" not in {o["procedure"] for o in overdue}
    legality = next(p for p in item["procedures"] if p["name"] == "合法性审查")
    soon = get(service, job, "/tracking", today=legality["deadline"], soon=3).json()
    assert any(o["procedure"] == "合法性审查" for o in soon["due_soon"]["市水务局"])
    # Untick: it is open again.
    service.client.post(f"/api/v1/jobs/{job['id']}/tracking/ticks",
                        json={"row": 1, "procedure": "公众参与", "done": False}, headers=service.headers)
    again = get(service, job, "/tracking", today="2027-12-30").json()
    assert "公众参与" in {o["procedure"] for o in again["overdue"]["市水务局"]}


def test_ticks_are_checked(service, job):
    _adopt(service, job, 1)
    url = f"/api/v1/jobs/{job['id']}/tracking/ticks"
    r = service.client.post(url, json={"row": 1, "procedure": "跳舞"}, headers=service.headers)
    assert r.status_code == 422 and r.json()["code"] == "unknown_procedure"
    r = service.client.post(url, json={"row": 2, "procedure": "听证"}, headers=service.headers)
    assert r.status_code == 422 and r.json()["code"] == "not_in_catalogue"


def test_the_ics_export_has_one_event_per_open_deadline(service, job):
    from icalendar import Calendar

    _adopt(service, job, 1)
    board = get(service, job, "/tracking").json()
    open_deadlines = sum(1 for p in board["items"][0]["procedures"] if p["deadline"] and not p["done"])
    r = get(service, job, "/tracking.ics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    events = Calendar.from_ical(r.content).walk("VEVENT")
    assert len(events) == open_deadlines > 3
    assert any("【听证】" in str(e["SUMMARY"]) and WATER in str(e["SUMMARY"]) for e in events)
    assert len({str(e["UID"]) for e in events}) == len(events)


def test_the_evaluation_list_shows_decisions_due_and_drops_evaluated_ones(service, job):
    _adopt(service, job, 1, 4)
    assert get(service, job, "/evaluations", today="2027-03-01").json()["items"] == []
    due = get(service, job, "/evaluations", today="2028-07-20", within_days=0).json()["items"]
    assert [i["row"] for i in due] == [1]
    assert due[0]["overdue"] and due[0]["due"] >= "2028-06-30"
    both = get(service, job, "/evaluations", today="2029-01-10").json()["items"]
    assert [i["row"] for i in both] == [1, 4]
    service.client.post(f"/api/v1/jobs/{job['id']}/tracking/ticks", json={"row": 1, "procedure": "决策后评估"},
                        headers=service.headers)
    assert [i["row"] for i in get(service, job, "/evaluations", today="2029-01-10").json()["items"]] == [4]


def test_near_duplicates_across_departments_are_flagged_with_conflicting_dates(service, job):
    near = get(service, job, "/near-duplicates").json()["rows"]
    by_row = {r["row"]: r["matches"] for r in near}
    assert set(by_row) == {1, 2}
    m = by_row[2][0]
    assert m["row"] == 1 and m["other_unit"] and m["date_conflict"]
    wb = load_workbook(io.BytesIO(get(service, job, "/result").content))
    rows = list(wb["目录草稿"].iter_rows(values_only=True))
    head = list(rows[1])
    second = dict(zip(head, rows[3]))
    assert "与第1行近似" in second["近似重复"] and "计划时间不一致" in second["近似重复"]


@pytest.mark.parametrize("path, method, body", [
    ("/rows/1", "patch", {"fields": {"title": "规划\x00"}}),
    ("/rows/1", "patch", {"fields": {"amount_wan": True}}),
    ("/rows/1", "patch", {"fields": {"title": {"nested": 1}}}),
    ("/rows/1", "patch", {"fields": {"planned_date": "2027\x00年"}}),
    ("/rows/1", "patch", {"decision": "adopt", "reason": "理由\x00"}),
    ("/rows/1", "patch", {"decision": "adopt", "reviewer": "王\u202e"}),
    ("/tracking/ticks", "post", {"row": 1, "procedure": "听\x00证"}),
    ("/tracking/ticks", "post", {"row": 0, "procedure": "听证"}),
    ("/catalogue/adjustments", "post", {"reason": "x", "changes": [{"action": "add", "fields": {"title": "\x00"}}]}),
    ("/catalogue/adjustments", "post", {"reason": "x", "changes": [{"action": "reschedule", "row": 1,
                                                                     "planned_date": "下辈子"}]}),
    ("/tracking?today=2027-02-30", "get", None),
    ("/catalogue?format=xlsx&title=%E7%9B%AE%00", "get", None),
])
def test_awkward_input_to_the_catalogue_endpoints_is_a_structured_4xx(service, job, path, method, body):
    _adopt(service, job, 1)
    url = f"/api/v1/jobs/{job['id']}{path}"
    r = getattr(service.client, method)(url, headers=service.headers, **({"json": body} if body is not None else {}))
    assert 400 <= r.status_code < 500, r.text
    assert {"code", "message_zh", "message_en", "field"} <= set(r.json())


def test_a_correction_to_an_unreadable_date_is_refused_quoting_it(service, job):
    r = patch(service, job, 2, fields={"planned_date": "下辈子"})
    assert r.status_code == 422 and r.json()["code"] == "bad_date" and "下辈子" in r.json()["message_zh"]
    assert get(service, job, "/rows/2").json()["planned_date"] == "2027-09-30"
    assert patch(service, job, 2, fields={"planned_date": "待定"}).json()["planned_period"] == "未定"


def test_an_error_row_of_an_upload_is_fixed_screened_and_counted_again(service):
    rows = [("1", WATER, "市水务局", "2027年6月"), ("2", "……", "市民政局", "下半年")]
    r = service.client.post("/api/v1/jobs", files={"file": ("m.csv", csv_bytes(rows), "text/csv")},
                            data={"skip_bad_rows": "true"}, headers=service.headers)
    job = service.wait_job(r.json()["id"])
    assert job["counts"]["error"] == 1
    r = patch(service, job, 2, decision="adopt")
    assert r.status_code == 422 and r.json()["code"] == "row_has_error"
    r = patch(service, job, 2, fields={"title": "全市殡葬设施布局规划"}, decision="adopt", reason="更正名称后采纳")
    assert r.status_code == 200, r.text
    row = r.json()
    assert row["verdict"] is not None and row["error"] is None and row["decision"]["decision"] == "adopt"
    assert row["planned_period"] == "2027年下半年"  # the rest of the row as uploaded
    after = service.client.get(f"/api/v1/jobs/{job['id']}", headers=service.headers).json()
    assert after["counts"]["error"] == 0 and sum(after["counts"].values()) == 2


def test_the_same_tick_and_decision_from_many_clients_at_once_never_fail(service, job):
    from concurrent.futures import ThreadPoolExecutor

    url = f"/api/v1/jobs/{job['id']}"

    def decide(i):
        return patch(service, job, 1, decision="adopt", reason=f"第{i}次").status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(decide, range(16))) == {200}

    def tick(i):
        return service.client.post(f"{url}/tracking/ticks", json={"row": 1, "procedure": "听证", "done": i % 2 == 0},
                                   headers=service.headers).status_code

    def adjust(i):
        return service.client.post(f"{url}/catalogue/adjustments", json={"reason": f"调整{i}", "changes": [
            {"action": "add", "fields": {"title": f"全市第{i}批老旧小区改造计划"}}]}, headers=service.headers).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(tick, range(16))) == {200}
        assert set(pool.map(adjust, range(4))) <= {201, 409}
    versions = [v["version"] for v in get(service, job, "/catalogue", format="json").json()["versions"]]
    assert versions == list(range(2, 2 + len(versions)))
