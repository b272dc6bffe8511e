"""The legal regression suite: matters written from the law (tests/legal/cases.yaml), each with
the verdict and the procedures the law decides, run through the screening engine.

The engine runs on its rules alone (no learned model): the suite pins what the rulebooks say in
law; how the learned model may move a weak or silent answer is tested with the model. Cases the
engine still gets wrong carry `xfail` with the reason and article; the mark is strict, so a case
turns red the day the engine is fixed and the mark must come off.
"""
from __future__ import annotations

import collections
import datetime as dt
import sys
from pathlib import Path

import pytest
import yaml

CASES_FILE = Path(__file__).with_name("cases.yaml")
CASES: list[dict] = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))["cases"]

# The steps every major decision takes under the 条例 (第14条, 第25条, 第30条, 第31条, 第32条, 第33条).
CORE = ["公众参与", "合法性审查", "集体讨论决定", "党委请示报告", "决策公布", "档案归档"]
VERDICTS = {"major", "not_major", "review"}
PROFILES = {"national", "zhejiang", "yunnan", "yunnan_wuhua", "hunan_town", "xiamen", "jiangsu_city",
            "sichuan_county"}
LEVELS = {"province", "city", "county", "town", "department"}


def _expand(names: list[str] | None) -> list[str]:
    out: list[str] = []
    for n in names or []:
        out.extend(CORE if n == "core" else [n])
    return out


def _verdicts(case: dict) -> set[str]:
    v = case["verdict"]
    return set(v) if isinstance(v, list) else {v}


@pytest.fixture(scope="module")
def screener():
    from model.screener import Screener

    return Screener(model=None)


def _param(case: dict):
    marks = []
    if case.get("xfail"):
        marks.append(pytest.mark.xfail(strict=True, reason=case["xfail"]))
    return pytest.param(case, id=case["id"], marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_the_engine_answers_as_the_law_does(screener, case):
    answer = screener.screen(case["matter"])
    want = _verdicts(case)
    assert answer.verdict in want, (
        f"{case['id']}: verdict {answer.verdict}, the law gives {sorted(want)} ({case['article']})")
    procs = {p.name: p for p in answer.procedures}
    for name in _expand(case.get("required")):
        assert name in procs and procs[name].required, (
            f"{case['id']}: {name} should be required ({case['article']}); engine: "
            f"{procs[name].status if name in procs else 'absent'}")
    for name in _expand(case.get("not_required")):
        assert name not in procs or not procs[name].required, (
            f"{case['id']}: {name} is not required by law ({case['article']}); engine requires it")
    planned = case["matter"].get("planned_date")
    for name in case.get("after_decision") or []:
        d = procs[name].deadline if name in procs else None
        assert d is not None and d.earliest is not None and str(d.earliest) >= str(planned), (
            f"{case['id']}: {name} comes after the government's own decision ({case['article']}); "
            f"engine deadline: {d}")
    for name, days in (case.get("min_days_before") or {}).items():
        d = procs[name].deadline if name in procs else None
        assert d is not None and d.latest_start is not None, f"{case['id']}: {name} has no start date"
        gap = (dt.date.fromisoformat(str(planned)) - d.latest_start).days
        assert gap >= days, f"{case['id']}: {name} starts {gap} days before the decision, the law needs {days}+"
    words = case.get("reasons_mention")
    if words:  # where the verdict is open, the answer must at least name the deciding fact
        said = " ".join(r.text for r in answer.reasons)
        assert any(w in said for w in words), f"{case['id']}: the reasons should mention one of {words}: {said}"
    for name, words in (case.get("text") or {}).items():
        assert name in procs, f"{case['id']}: no {name} in the answer"
        said = procs[name].basis + " " + procs[name].why
        assert any(w in said for w in words), f"{case['id']}: {name} should mention one of {words}: {said}"


# --- the suite itself ---------------------------------------------------------------------------

def test_the_suite_has_at_least_150_cases_with_unique_ids():
    ids = [c["id"] for c in CASES]
    assert len(ids) >= 150
    assert not [i for i, n in collections.Counter(ids).items() if n > 1]


def test_every_case_states_verdict_article_and_reasoning():
    for c in CASES:
        assert _verdicts(c) <= VERDICTS, c["id"]
        assert c.get("article", "").strip() and c.get("reasoning", "").strip(), c["id"]
        assert len(c["reasoning"]) >= 10, c["id"]
        assert c["matter"].get("title"), c["id"]
        known = set(CORE) | {"听证", "专家论证", "风险评估", "公平竞争审查", "人大报告", "决策后评估"}
        for name in _expand(c.get("required")) + _expand(c.get("not_required")) + list(c.get("text") or {}):
            assert name in known, f"{c['id']}: unknown procedure {name}"


def test_every_case_cites_an_article_of_a_registered_source():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from test_sources import REGISTRY, citation_problems

    bad = {c["id"]: citation_problems(c["article"], None, REGISTRY) for c in CASES}
    assert not {k: v for k, v in bad.items() if v}


def test_the_suite_covers_every_profile_and_level():
    from model.screener import level_from_unit

    profiles = {c["matter"].get("profile", "national") for c in CASES}
    levels = {c["matter"].get("level") or level_from_unit(c["matter"].get("unit")) for c in CASES}
    assert PROFILES <= profiles, PROFILES - profiles
    assert LEVELS <= levels, LEVELS - levels
