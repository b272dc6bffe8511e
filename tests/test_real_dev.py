"""The real-data validation report runs beside the test split (on an invented fixture shaped like
../shared/eval/real_dev.jsonl), says so when the file is absent, and scores a keyword row."""
import json
from pathlib import Path

import pytest

from training.keywords import KEYWORDS, keyword_verdict
from training.realdev import load_real_dev, real_dev_md, real_dev_report

FIXTURE = Path(__file__).resolve().parent / "data" / "real_dev_fixture.jsonl"
SYSTEMS = ("rules_only", "model_only", "combined", "keyword")


@pytest.fixture(scope="module")
def model():
    from model.learned import load_default

    return load_default(required=True, backend="tfidf")


@pytest.fixture(scope="module")
def report(model):
    return real_dev_report(model, FIXTURE)


def test_real_dev_report_scores_all_four_systems(report):
    items = load_real_dev(FIXTURE)
    assert report["items"] == len(items) and report["major"] == sum(r.label == "major" for r in items)
    assert tuple(report["systems"]) == SYSTEMS
    for m in report["systems"].values():
        s = m["summary"]
        for key in ("recall_strict", "recall_major_or_review", "precision_strict", "precision_major_or_review",
                    "review_rate", "hard_case_accuracy"):
            assert key in s
        assert set(m["by_level"]) == {r.level for r in items}
        assert set(m["by_class"]) == {r.klass for r in items}
    assert report["systems"]["keyword"]["summary"]["review_rate"] == 0.0


def test_real_dev_report_carries_calibration_per_level(report):
    cal = report["calibration"]
    assert 0.0 <= cal["model"]["ece"] <= 1.0 and 0.0 <= cal["model"]["brier"] <= 1.0
    assert sum(b["n"] for b in cal["model"]["bins"]) == report["items"]
    assert set(cal["model_by_level"]) == {"county", "town", "city", "province", "department"}


def test_real_dev_section_joins_the_report_summary(model, report):
    from training.evaluate import add_real_dev

    base = {"summary": {}, "systems": {}, "calibration": {"bins": [], "ece": 0.0, "brier": 0.0}}
    full = add_real_dev(base, model, FIXTURE)
    assert full["summary"]["real_dev"]["keyword"]["n"] == report["items"]
    md = real_dev_md(full["real_dev"])
    assert "Real validation data" in md and "| keyword |" in md and "| combined |" in md


def test_missing_real_dev_file_is_skipped_with_a_message(model, tmp_path):
    rd = real_dev_report(model, tmp_path / "absent.jsonl")
    assert "absent.jsonl" in rd["skipped"]
    assert "Skipped" in real_dev_md(rd)


def test_fixture_is_invented_not_copied_from_real_dev():
    real = Path(__file__).resolve().parents[2] / "shared" / "eval" / "real_dev.jsonl"
    if not real.exists():
        pytest.skip("no real_dev file here")
    real_titles = {json.loads(line)["title"] for line in real.open(encoding="utf-8") if line.strip()}
    assert not real_titles & {r.title for r in load_real_dev(FIXTURE)}


def test_keyword_checklist_flags_listed_words_only():
    assert {"规划", "方案", "价格", "收费", "征收", "补偿", "建设项目", "改造", "办法"} <= set(KEYWORDS)
    assert keyword_verdict("某县城区道路改造工程") == "major"
    assert keyword_verdict("关于召开安全生产工作会议的通知") == "not_major"


def test_evaluate_command_writes_the_real_dev_section(tmp_path):
    from typer.testing import CliRunner

    from decision_screen.cli import app

    r = CliRunner().invoke(app, ["evaluate", "--report-dir", str(tmp_path), "--real-dev", str(FIXTURE)])
    assert r.exit_code == 0, r.output
    assert "real_dev combined" in r.output and "real_dev keyword" in r.output
    md = (tmp_path / "metrics.md").read_text(encoding="utf-8")
    assert "Real validation data" in md
    assert json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))["real_dev"]["items"] == 10
    assert (tmp_path / "calibration_real_dev.png").exists()


def test_threshold_scoring_reproduces_the_screeners_verdicts_on_real_dev_items(model, report):
    import numpy as np

    from model.screener import Screener
    from training.evaluate import combined_verdicts
    from training.realdev import matters, model_probabilities

    items = load_real_dev(FIXTURE)
    fast = combined_verdicts(items, model_probabilities(model, items), tuple(model.band), model.disagreement)
    assert fast == [a.verdict for a in Screener(model=model).screen_many(matters(items))]
    assert np.isfinite(report["calibration"]["model"]["brier"])
