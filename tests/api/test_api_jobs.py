"""Spreadsheet jobs: upload, progress, the draft catalogue, the template, bad files,
and the job-end callback."""
import http.server
import io
import json
import threading
import time
from typing import ClassVar

import pytest
from openpyxl import Workbook, load_workbook

WATER = "关于调整城区居民生活用水价格的实施方案"
USUAL = ["序号", "决策事项名称", "承办单位", "决策类别", "分级", "是否纳入", "需履行程序", "依据", "置信度", "理由"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def csv_bytes(rows, header=("序号", "决策事项名称", "承办单位", "计划决策日期"), encoding="utf-8-sig"):
    import csv

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode(encoding)


def xlsx_bytes(rows, header=("序号", "决策事项名称", "承办单位"), title_row=None):
    wb = Workbook()
    ws = wb.active
    if title_row:
        ws.append([title_row])
    ws.append(list(header))
    for r in rows:
        ws.append(list(r))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def upload(service, name, data, key=None, **form):
    return service.client.post("/api/v1/jobs", files={"file": (name, data, "application/octet-stream")},
                               data={k: str(v).lower() if isinstance(v, bool) else v for k, v in form.items()},
                               headers={"X-API-Key": key or service.key})


SAMPLE = [(1, WATER, "市发展和改革局", "2026-12-18"),
          (2, "全市国土空间总体规划(2021-2035年)", "市自然资源和规划局", ""),
          (3, "关于召开全市安全生产工作会议的通知", "市政府办公室", ""),
          (4, "=HYPERLINK(\"http://x\",\"关于召开安全生产工作会议的通知\")", "@市政府办公室", ""),
          (5, "全市国土空间总体规划（2021-2035年）", "市自然资源和规划局", "")]


def test_csv_job_runs_to_done_with_counts_and_progress(service):
    r = upload(service, "matters.csv", csv_bytes(SAMPLE))
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["Location"] == f"/api/v1/jobs/{job['id']}"
    assert job["status"] in ("queued", "running", "done") and job["total_rows"] == 5
    done = service.wait_job(job["id"])
    assert done["status"] == "done" and done["done_rows"] == 5 and done["progress"] == 1.0
    assert sum(done["counts"].values()) == 5 and done["counts"]["major"] >= 2 and done["counts"]["not_major"] >= 1


def test_result_is_a_draft_catalogue_in_the_usual_columns_with_a_summary(service):
    job = upload(service, "matters.csv", csv_bytes(SAMPLE)).json()
    service.wait_job(job["id"])
    r = service.client.get(f"/api/v1/jobs/{job['id']}/result", headers=service.headers)
    assert r.status_code == 200 and r.headers["content-type"] == XLSX
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    wb = load_workbook(io.BytesIO(r.content))
    ws = wb.worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    assert "目录草稿" in rows[0][0]  # the title row
    assert list(rows[1][:10]) == USUAL
    assert {"计划决策日期", "事项说明", "决策"} <= set(rows[1])
    body = rows[2:]
    assert len(body) == 5
    assert [row[0] for row in body] == ["1", "2", "3", "4", "5"]
    assert body[0][1] == WATER and body[0][5] == "纳入" and "听证" in body[0][6]
    assert body[2][5] == "不纳入"
    # The same title written with full-width brackets is flagged as a duplicate of row 2.
    dup_col = rows[1].index("重复")
    assert body[4][dup_col] == "与第2行重复"
    summary = wb["汇总"]
    counts = {row[0]: row[1] for row in summary.iter_rows(values_only=True) if row[0]}
    assert counts["合计"] == 5 and counts["纳入"] >= 2
    assert len(summary._charts) == 1  # the verdict chart


def test_cells_that_would_run_as_formulas_are_escaped_on_export(service):
    job = upload(service, "matters.csv", csv_bytes(SAMPLE)).json()
    service.wait_job(job["id"])
    content = service.client.get(f"/api/v1/jobs/{job['id']}/result", headers=service.headers).content
    ws = load_workbook(io.BytesIO(content)).worksheets[0]
    row = [c for c in ws[6]]  # data row 4 (title row 1, headings row 2)
    assert row[1].value.startswith("'=HYPERLINK") and row[1].data_type == "s"
    assert row[2].value == "'@市政府办公室"
    for r in ws.iter_rows():
        for c in r:
            assert c.data_type != "f"


def test_xlsx_with_a_title_row_above_the_headings_is_read(service):
    data = xlsx_bytes([(1, WATER, "市发展和改革局"), (2, "关于召开全市安全生产工作会议的通知", "市政府办公室")],
                      title_row="2027年度重大行政决策事项目录(征求意见稿)")
    job = upload(service, "目录.xlsx", data).json()
    assert job["total_rows"] == 2
    assert service.wait_job(job["id"])["counts"]["major"] == 1


def test_gbk_csv_from_excel_on_windows_is_read(service):
    job = upload(service, "gbk.csv", csv_bytes(SAMPLE[:3], encoding="gb18030")).json()
    assert service.wait_job(job["id"])["done_rows"] == 3


def test_unknown_columns_are_reported_not_fatal(service):
    data = csv_bytes([(WATER, "x")], header=("决策事项名称", "备注"))
    job = upload(service, "m.csv", data).json()
    assert job["ignored_columns"] == ["备注"]


def test_template_downloads_and_uploads_back_as_a_job(service):
    r = service.client.get("/api/v1/jobs/template", headers=service.headers)
    assert r.status_code == 200 and r.headers["content-type"] == XLSX
    wb = load_workbook(io.BytesIO(r.content))
    assert wb.worksheets[0]["B1"].value == "决策事项名称" and "填写说明" in wb.sheetnames
    job = upload(service, "template.xlsx", r.content).json()
    done = service.wait_job(job["id"])
    assert done["done_rows"] == 2 and done["counts"]["error"] == 0
    csv_t = service.client.get("/api/v1/jobs/template?format=csv", headers=service.headers)
    assert csv_t.status_code == 200 and csv_t.content.startswith(b"\xef\xbb\xbf")
    assert upload(service, "template.csv", csv_t.content).status_code == 202


def test_result_as_json_lines_keeps_every_row_in_order(service):
    job = upload(service, "m.csv", csv_bytes(SAMPLE)).json()
    service.wait_job(job["id"])
    r = service.client.get(f"/api/v1/jobs/{job['id']}/result?format=jsonl", headers=service.headers)
    lines = [json.loads(x) for x in r.text.splitlines()]
    assert [x["row"] for x in lines] == [1, 2, 3, 4, 5]
    assert lines[0]["answer"]["verdict"] == "major" and lines[0]["input"]["title"] == WATER


# -- bad files --------------------------------------------------------------------------------------

def test_formula_cell_in_an_upload_is_refused_with_its_position(service):
    data = xlsx_bytes([(1, WATER, "市发展和改革局"), (2, "=A2&\"规划\"", "市政府")])
    r = upload(service, "f.xlsx", data)
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "formula_cell" and body["sheet_row"] == 3 and body["column"] == 2
    assert "公式" in body["message_zh"] and "formula" in body["message_en"]


@pytest.mark.parametrize("name, data, status, code, field", [
    ("m.csv", csv_bytes([("规划",)], header=("名称X",)), 422, "missing_column", "title"),
    ("m.csv", b"", 422, "empty_file", "file"),
    ("m.csv", csv_bytes([], header=("决策事项名称",)), 422, "empty_file", "file"),
    ("m.csv", b"\xff\xfe\x00\x00\xc3\x28\xa0\xa1", 422, "bad_encoding", "file"),
    ("m.xlsx", b"PK\x03\x04 this is not a workbook", 422, "bad_xlsx", "file"),
    ("m.xlsx", b"plain text", 422, "bad_xlsx", "file"),
    ("m.xls", b"\xd0\xcf\x11\xe0", 415, "bad_file_type", "file"),
    ("m.pdf", b"%PDF-1.4", 415, "bad_file_type", "file"),
])
def test_bad_files_get_a_bilingual_4xx(service, name, data, status, code, field):
    r = upload(service, name, data)
    assert r.status_code == status, r.text
    assert (r.json()["code"], r.json()["field"]) == (code, field)
    assert r.json()["message_zh"] and r.json()["message_en"]


def test_bad_rows_are_listed_with_field_and_sheet_row(service):
    # An unreadable date is not a bad row any more (the row is screened with a warning).
    rows = [(1, WATER, "市发展和改革局", "2026-12-18"), (2, "规划", "x", "2026-02-30"), (3, "", "市政府", ""),
            (4, "……", "市政府", "")]
    r = upload(service, "m.csv", csv_bytes(rows))
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "bad_rows" and body["field"] == "title" and body["sheet_row"] == 4
    assert [(e["sheet_row"], e["field"]) for e in body["errors"]] == [(4, "title"), (5, "title")]


def test_skip_bad_rows_screens_the_rest_and_marks_the_bad_ones(service):
    rows = [(1, WATER, "市发展和改革局", "2026-12-18"), (2, "……", "x", "2026-02-30"),
            (3, "关于召开全市安全生产工作会议的通知", "市政府办公室", "")]
    job = upload(service, "m.csv", csv_bytes(rows), skip_bad_rows=True).json()
    done = service.wait_job(job["id"])
    assert done["counts"]["error"] == 1 and done["done_rows"] == 3
    ws = load_workbook(io.BytesIO(service.client.get(f"/api/v1/jobs/{job['id']}/result",
                                                     headers=service.headers).content)).worksheets[0]
    assert ws["F4"].value == "错误" and "标题" in ws["J4"].value


def test_unknown_profile_and_bad_callback_url_are_refused(service):
    r = upload(service, "m.csv", csv_bytes(SAMPLE), profile="atlantis")
    assert r.status_code == 422 and r.json()["field"] == "profile"
    r = upload(service, "m.csv", csv_bytes(SAMPLE), callback_url="ftp://example/x")
    assert r.status_code == 422 and r.json()["field"] == "callback_url"


def test_row_and_size_limits(service_with):
    svc = service_with(max_job_rows=10, max_upload_bytes=4000)
    r = upload(svc, "m.csv", csv_bytes([(i, f"事项{i}", "", "") for i in range(11)]))
    assert r.status_code == 413 and r.json()["code"] == "too_many_rows"
    assert upload(svc, "m.csv", csv_bytes([(i, f"事项{i}", "", "") for i in range(10)])).status_code == 202
    r = upload(svc, "m.csv", csv_bytes([(i, "长" * 100, "", "") for i in range(30)]))
    assert r.status_code == 413 and r.json()["code"] in ("file_too_large", "body_too_large")


def test_result_before_the_end_is_409_and_other_keys_cannot_see_the_job(service_with):
    svc = service_with(run_job_worker=False)
    owner = svc.new_key("jobs")
    job = upload(svc, "m.csv", csv_bytes(SAMPLE), key=owner).json()
    r = svc.client.get(f"/api/v1/jobs/{job['id']}/result", headers={"X-API-Key": owner})
    assert r.status_code == 409 and r.json()["code"] == "job_not_finished"
    stranger = svc.new_key("jobs")
    assert svc.client.get(f"/api/v1/jobs/{job['id']}", headers={"X-API-Key": stranger}).status_code == 404
    assert svc.client.get(f"/api/v1/jobs/{job['id']}", headers=svc.headers).status_code == 200  # admin


# -- callbacks ------------------------------------------------------------------------------------------

class _Receiver(http.server.BaseHTTPRequestHandler):
    fail_first: ClassVar[int] = 1
    received: ClassVar[list] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append(body)
        ok = len(type(self).received) > type(self).fail_first
        self.send_response(200 if ok else 503)
        self.end_headers()

    def log_message(self, *args):
        pass


def _callback_once(svc, job_id: str, state: str, timeout: float = 15.0) -> dict:
    """The job's callback block once it reaches `state` (or the last one seen at the deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        cb = svc.client.get(f"/api/v1/jobs/{job_id}", headers=svc.headers).json()["callback"]
        if cb["state"] == state or time.monotonic() > deadline:
            return cb
        time.sleep(0.05)


# Loopback is refused by default (api/callback_policy.py): the receivers below are let in on purpose.
LOOPBACK = ("127.0.0.0/8", "::1/128")


def test_callback_is_retried_until_delivered_without_blocking_the_job(service_with):
    service = service_with(callback_allow=LOOPBACK)
    handler = type("Receiver", (_Receiver,), {"received": [], "fail_first": 1})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{srv.server_address[1]}/hook"
        job = upload(service, "m.csv", csv_bytes(SAMPLE), callback_url=url).json()
        done = service.wait_job(job["id"])
        assert done["status"] == "done"
        state = _callback_once(service, job["id"], "sent")
        assert state == {"url": url, "state": "sent", "attempts": 2, "last_error": None}
        first, second = handler.received
        assert first["event"] == second["event"] == "job.finished"
        assert second["id"] == job["id"] and second["status"] == "done" and second["counts"] == done["counts"]
        assert second["result_url"].endswith(f"/api/v1/jobs/{job['id']}/result")
    finally:
        srv.shutdown()


def test_callback_to_a_dead_receiver_gives_up_after_the_attempts(service_with, unused_port):
    svc = service_with(callback_max_attempts=3, callback_backoff_seconds=0.05, callback_allow=LOOPBACK)
    url = f"http://127.0.0.1:{unused_port}/nobody-listens"
    job = upload(svc, "m.csv", csv_bytes(SAMPLE), callback_url=url).json()
    assert svc.wait_job(job["id"])["status"] == "done"  # the dead receiver never held the job up
    cb = _callback_once(svc, job["id"], "failed")
    assert cb["state"] == "failed" and cb["attempts"] == 3 and "Connect" in cb["last_error"]


def test_the_callback_is_documented_in_openapi(service):
    op = service.app.openapi()["paths"]["/api/v1/jobs"]["post"]
    cb = op["callbacks"]["job_finished"]
    assert "{$request.body#/callback_url}" in cb


def test_a_sheet_of_endless_blank_rows_is_refused(service_with):
    svc = service_with(max_job_rows=10)
    data = csv_bytes([(1, WATER, "", "")]) + b",,,\n" * 10_020
    r = upload(svc, "blank.csv", data)
    assert r.status_code == 413 and r.json()["code"] == "too_many_rows"


def _big_csv(n):
    return csv_bytes([(i, f"{WATER}(第{i}项)", "市发展和改革局", "") for i in range(1, n + 1)])


def test_a_graceful_shutdown_hands_the_job_back_and_the_next_start_finishes_it(service_with, tmp_path):
    first = service_with(job_chunk_rows=5, var_dir=tmp_path / "shared")
    job = upload(first, "m.csv", _big_csv(400)).json()
    deadline = time.monotonic() + 30
    while first.client.get(f"/api/v1/jobs/{job['id']}", headers=first.headers).json()["done_rows"] < 20:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    first.close()
    from sqlalchemy import select

    from api.db import job_chunks, jobs, screenings

    with first.db.read() as conn:
        left = conn.execute(select(jobs).where(jobs.c.id == job["id"])).mappings().one()
        chunks = conn.execute(select(job_chunks).where(job_chunks.c.job_id == job["id"])).mappings().all()
    assert 20 <= left["done_rows"] < 400
    # The chunk in hand was released, not left to expire, and a clean stop is not a failure.
    assert all(c["state"] in ("pending", "done") and c["lease_until"] is None for c in chunks)
    assert all(c["lease_owner"] is None for c in chunks if c["state"] == "pending")
    assert all(c["attempts"] == 0 for c in chunks) and left["attempts"] == 0
    assert sum(c["last_row"] - c["first_row"] + 1 for c in chunks if c["state"] == "done") == left["done_rows"]
    second = service_with(var_dir=tmp_path / "shared")
    done = second.wait_job(job["id"], key=first.key)
    assert done["status"] == "done" and done["done_rows"] == 400
    with second.db.read() as conn:
        rows = conn.execute(select(screenings.c.row_no).where(screenings.c.job_id == job["id"])).scalars().all()
    assert sorted(rows) == list(range(1, 401))


def test_a_job_that_keeps_failing_is_marked_failed_not_retried_for_ever(service_with, monkeypatch):
    from api.jobs import worker as jobs_mod

    def broken(self, job, rows):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(jobs_mod.JobWorker, "_screen_chunk", broken)
    monkeypatch.setattr(jobs_mod, "MAX_ATTEMPTS", 2)
    svc = service_with()
    job = upload(svc, "m.csv", csv_bytes(SAMPLE)).json()
    done = svc.wait_job(job["id"], timeout=30)
    assert done["status"] == "failed" and done["error"]["code"] == "job_failed"
    r = svc.client.get(f"/api/v1/jobs/{job['id']}/result", headers=svc.headers)
    assert r.status_code == 409


def test_a_callback_to_a_link_local_address_is_refused_when_the_job_is_created(service):
    r = upload(service, "m.csv", csv_bytes(SAMPLE), callback_url="http://169.254.169.254/latest/meta-data/")
    assert r.status_code == 422
    assert r.json()["code"] == "callback_url_not_allowed" and r.json()["field"] == "callback_url"


def test_the_callback_allow_list_limits_where_callbacks_may_go(service_with):
    svc = service_with(callback_allow=("oa.example.gov.cn", "*.intra.example"))
    refused = upload(svc, "m.csv", csv_bytes(SAMPLE), callback_url="http://elsewhere.example/hook")
    assert refused.status_code == 422 and "allow-list" in refused.json()["message_en"]
    for url in ("https://oa.example.gov.cn/hook", "http://screening.intra.example:8080/hook"):
        assert upload(svc, "m.csv", csv_bytes(SAMPLE), callback_url=url).status_code == 202, url


def test_a_name_that_now_resolves_to_link_local_is_refused_at_send_time_without_retries(service_with, monkeypatch):
    from api import callback_policy

    monkeypatch.setattr(callback_policy, "_system_resolver", lambda host: ["169.254.169.254"])
    svc = service_with(callback_max_attempts=5, callback_backoff_seconds=0.05)
    job = upload(svc, "m.csv", csv_bytes(SAMPLE), callback_url="http://hooks.rebound.example/hook").json()
    assert svc.wait_job(job["id"])["status"] == "done"
    cb = _callback_once(svc, job["id"], "failed")
    assert cb["state"] == "failed" and cb["attempts"] == 1
    assert "refused by the callback policy" in cb["last_error"] and "169.254.169.254" in cb["last_error"]
