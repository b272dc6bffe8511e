"""Reviewer feedback: linked to the screening, committed before it is acknowledged, and
exported as corpus records (corpora/SCHEMA.md, source_type "feedback")."""
import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from api.db import feedback

WATER = "关于调整城区居民生活用水价格的实施方案"
MEETING = "关于召开全市安全生产工作会议的通知"


def _screen(service, title, **extra):
    r = service.client.post("/api/v1/screen", json={"title": title, **extra}, headers=service.headers)
    assert r.status_code == 200
    return r.json()


def _fb(service, **body):
    return service.client.post("/api/v1/feedback", json=body, headers=service.headers)


def test_agreeing_records_the_verdict_as_the_label_and_links_the_record(service):
    a = _screen(service, WATER)
    r = _fb(service, screening_id=a["screening_id"], agree=True, comment="价格听证事项, 同意", reviewer="法制科 王")
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["label"] == a["verdict"] == "major" and out["verdict"] == "major" and out["agree"] is True
    rec = service.client.get(f"/api/v1/screenings/{a['screening_id']}", headers=service.headers).json()
    assert rec["feedback"][0]["id"] == out["id"] and rec["feedback"][0]["reviewer"] == "法制科 王"


def test_feedback_is_committed_before_it_is_acknowledged(service):
    a = _screen(service, WATER)
    fid = _fb(service, screening_id=a["screening_id"], agree=False, label="not_major", comment="x").json()["id"]
    # A fresh connection (not the app's) sees it at once: it was committed, not queued.
    from api.db import Database

    other = Database(service.settings.db_url)
    with other.read() as conn:
        assert conn.execute(select(feedback.c.label).where(feedback.c.id == fid)).scalar_one() == "not_major"
    other.dispose()


@pytest.mark.parametrize("body, code, field", [
    ({"agree": False}, "label_required", "label"),
    ({"agree": False, "label": "major"}, "label_conflicts", "label"),
    ({"agree": True, "label": "not_major"}, "label_conflicts", "label"),
    ({"agree": True, "label": "maybe"}, "bad_choice", "label"),
])
def test_inconsistent_feedback_is_refused(service, body, code, field):
    a = _screen(service, WATER)
    assert a["verdict"] == "major"
    r = _fb(service, screening_id=a["screening_id"], **body)
    assert r.status_code == 422 and (r.json()["code"], r.json()["field"]) == (code, field)


def test_feedback_on_an_unknown_screening_is_404(service):
    r = _fb(service, screening_id="f" * 32, agree=True)
    assert r.status_code == 404 and r.json()["field"] == "screening_id"


def _export(settings, *args):
    from decision_screen.cli import app

    env = {"DATABASE_URL": settings.db_url, "DECISION_SCREEN_VAR": str(settings.var_dir)}
    return CliRunner().invoke(app, ["export-feedback", *args], env=env)


def test_export_feedback_writes_valid_corpus_records_latest_opinion_winning(service, tmp_path):
    water = _screen(service, WATER, unit="市发展和改革局", description="涉及约12万户居民")
    meeting = _screen(service, MEETING)
    _fb(service, screening_id=water["screening_id"], agree=True)
    _fb(service, screening_id=meeting["screening_id"], agree=False, label="major", comment="先记为重大")
    _fb(service, screening_id=meeting["screening_id"], agree=True, comment="会议通知, 例行事务",
        exclusion="routine")  # changed their mind: this one wins
    out = tmp_path / "feedback_2026.jsonl"
    r = _export(service.settings, "--output", str(out))
    assert r.exit_code == 0, r.output
    recs = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(recs) == 2
    by_title = {r["title"]: r for r in recs}
    w, m = by_title[WATER], by_title[MEETING]
    assert w["source_type"] == m["source_type"] == "feedback"
    assert w["label"] == "major" and w["unit"] == "市发展和改革局" and w["description"] == "涉及约12万户居民"
    assert w["attributes"]["price_utility"] is True and w["hard_case"] is False
    assert m["label"] == "not_major" and m["exclusion"] == "routine" and m["reason"] == "会议通知, 例行事务"
    assert all(r["id"].startswith("feedback_2026-") for r in recs)
    corpus = pytest.importorskip("training.corpus")
    for rec in recs:
        corpus.Record.model_validate(rec)  # the lead's corpus schema accepts every exported line


def test_a_disagreement_without_comment_still_exports_as_a_valid_hard_case(service, tmp_path):
    a = _screen(service, WATER)
    _fb(service, screening_id=a["screening_id"], agree=False, label="not_major")
    out = tmp_path / "fb.jsonl"
    assert _export(service.settings, "--output", str(out)).exit_code == 0
    rec = json.loads(out.read_text(encoding="utf-8"))
    assert rec["hard_case"] is True and rec["exclusion"] == "routine" and rec["reason"]
    corpus = pytest.importorskip("training.corpus")
    corpus.Record.model_validate(rec)


def test_rows_of_a_spreadsheet_job_take_feedback_too(service):
    data = ("序号,决策事项名称\n1," + WATER + "\n2," + MEETING + "\n").encode("utf-8")
    job = service.client.post("/api/v1/jobs", files={"file": ("m.csv", data, "text/csv")},
                              headers=service.headers).json()
    service.wait_job(job["id"])
    lines = service.client.get(f"/api/v1/jobs/{job['id']}/result?format=jsonl", headers=service.headers).text
    second = json.loads(lines.splitlines()[1])
    r = _fb(service, screening_id=second["screening_id"], agree=True)
    assert r.status_code == 201 and r.json()["label"] == second["answer"]["verdict"]
    rec = service.client.get(f"/api/v1/screenings/{second['screening_id']}", headers=service.headers).json()
    assert rec["source"] == "job" and rec["job_id"] == job["id"] and rec["row"] == 2 and len(rec["feedback"]) == 1
