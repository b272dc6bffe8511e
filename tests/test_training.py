"""Training runs end to end on a small corpus it makes, reproducibly, and beats chance honestly."""
import json

import pytest

from training import corpus as corpus_mod
from training.split import groups_for, is_test_group, split

ATTRS = ("technical", "stability_risk", "market_entities", "price_utility", "public_interest", "land_relocation")
MAJOR = ["{p}居民生活用水价格调整方案", "{p}国土空间总体规划", "{p}老旧小区改造三年行动计划", "{p}中小学布局调整方案",
         "{p}养老服务体系建设实施方案", "{p}征地补偿安置办法", "{p}公交线网优化调整方案", "{p}生活垃圾分类管理办法"]
MINOR = ["关于召开{p}安全生产工作会议的通知", "关于表彰{p}先进集体的决定", "{p}机关公务用车管理办法", "关于任免{p}干部职务的通知",
         "{p}2024年工作总结", "关于转发{p}有关文件的通知", "{p}办公用品采购", "关于启动{p}防汛应急响应的通知"]
REAL_DEV_FIXTURE = __import__("pathlib").Path(__file__).resolve().parent / "data" / "real_dev_fixture.jsonl"
# The level follows the place: a city's "…办法" may be a 规章, which the screener sends to review
# whatever the band, so in an all-city toy corpus those 2 of 16 titles alone would exceed the review budget.
LEVEL_OF = {"市": "city", "县": "county", "区": "county", "镇": "town"}
PLACES = ["甲市", "乙县", "丙区", "丁镇", "戊市", "己县", "庚区", "辛镇", "壬市", "癸县", "子区", "丑市"]


def _write_corpus(d):
    lines = []
    n = 0
    for pi, p in enumerate(PLACES):
        for tmpl, label in [(t, "major") for t in MAJOR] + [(t, "not_major") for t in MINOR]:
            n += 1
            rec = {"id": f"toy-{n:04d}", "title": tmpl.format(p=p), "label": label, "source_type": "document",
                   "issuer": f"{p}人民政府", "level": LEVEL_OF[p[-1]], "province": "测试", "year": 2024,
                   "source_url": f"http://example.invalid/{n}", "attributes": {a: (label == "major" and a == "public_interest") for a in ATTRS},
                   "hard_case": False, "exclusion": None if label == "major" else "routine",
                   "reason": None if label == "major" else "日常事务"}
            lines.append(json.dumps(rec, ensure_ascii=False))
    (d / "toy.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from training.train import train

    base = tmp_path_factory.mktemp("train")
    items = base / "items"
    items.mkdir()
    _write_corpus(items)

    def run(out):
        return train(out, report_dir=out / "reports", log=lambda m: None, corpus_dir=items, real_dev=REAL_DEV_FIXTURE)

    return base, (run(base / "a"), run(base / "b"))


def test_training_is_reproducible(trained):
    base, (a, b) = trained
    assert a["files"] == b["files"]
    assert a["version"] == b["version"]


def test_training_writes_card_and_reports(trained):
    base, (card, _) = trained
    assert (base / "a" / "model_card.json").exists()
    for f in ("metrics.json", "metrics.md", "calibration.png"):
        assert (base / "a" / "reports" / f).exists()
    m = card["metrics"]
    assert m["combined"]["accuracy"] >= 0.8
    assert "rules_only" in m


def test_thresholds_are_chosen_on_out_of_fold_and_real_dev_and_travel_with_the_model(trained):
    from model.learned import load_default

    base, (card, _) = trained
    dis = card["rule_disagreement"]
    assert dis["chosen_on"] == "out-of-fold (training pool) + real_dev"
    assert 0 < dis["major_below"] <= 0.5 <= dis["exclusion_above"] < 1
    choice = card["band_selection"]
    assert {"out_of_fold", "real_dev", "out_of_fold_only_choice"} <= set(choice)
    assert "never fitted a weight" in choice["real_dev_use"] and "never fitted a weight" in card["real_dev"]
    assert choice["recall_targets_met"]["out_of_fold"] == (choice["out_of_fold"]["recall_major_or_review"] >= 0.97)
    assert choice["recall_targets_met"]["out_of_fold"]  # reachable on the toy corpus, so imposed
    model = load_default(base / "a", required=True, backend="tfidf")
    assert model.disagreement == (dis["major_below"], dis["exclusion_above"])


def test_the_chosen_thresholds_stay_within_the_review_budget_on_both_sets(trained):
    from training.thresholds import MAX_REVIEW_RATE

    _, (card, _) = trained
    choice = card["band_selection"]
    assert f"at most {MAX_REVIEW_RATE:.0%}" in choice["rule"]
    if choice["recall_targets_met"]["out_of_fold"]:
        assert choice["out_of_fold"]["review_rate"] <= MAX_REVIEW_RATE
        assert choice["real_dev"]["review_rate"] <= MAX_REVIEW_RATE


def test_training_writes_the_serving_file_the_model_then_loads(trained):
    """`decision-screen train` also writes the numpy serving file (in the card, with its sha256);
    the model loads from it and answers as the joblib artefact does."""
    from model.learned import load_default
    from model.learned.tfidf import TfidfModel
    from model.learned.tfidf_serving import SERVING_FILE

    base, (card, _) = trained
    assert card["serving"]["file"] == SERVING_FILE and SERVING_FILE in card["files"]
    served = load_default(base / "a", required=True, backend="tfidf")
    assert served.loaded_from == "serving"
    pickled = TfidfModel.load(base / "a", card, serving=False)
    texts = [t.format(p="甲市") for t in MAJOR + MINOR] + ["某县防汛工作方案"]
    assert served.predict(texts, k_similar=3) == pickled.predict(texts, k_similar=3)


def test_split_keeps_each_issuer_on_one_side():
    recs = [corpus_mod.Record.model_validate({
        "id": f"s-{i:04d}", "title": f"标题{i}", "label": "major", "source_type": "document",
        "issuer": f"单位{i % 7}", "level": "city", "year": 2024, "source_url": "http://x.invalid",
        "attributes": {a: False for a in ATTRS}, "hard_case": False}) for i in range(70)]
    train_idx, test_idx, groups = split(recs)
    assert {groups[i] for i in train_idx}.isdisjoint({groups[i] for i in test_idx})
    assert all(is_test_group(groups[i]) for i in test_idx)


def test_near_duplicate_written_items_share_a_group():
    def w(i, t):
        return corpus_mod.Record.model_validate({"id": f"w-{i:04d}", "title": t, "label": "major", "source_type": "written",
                                                 "level": "city", "attributes": {a: False for a in ATTRS}, "hard_case": False})
    g = groups_for([w(1, "城区居民生活用水价格调整方案"), w(2, "城区居民生活用水价格调整实施方案"), w(3, "表彰先进集体的决定")])
    assert g[0] == g[1] != g[2]


def test_threshold_scores_match_the_combined_systems_own_verdicts(trained):
    """The chooser adds per-kind counts instead of re-running the combiner per combination: at the
    chosen setting its numbers must equal those of the Screener's verdicts."""
    from model.learned import load_default
    from training.evaluate import combined_verdicts
    from training.inputs import probabilities
    from training.realdev import load_real_dev, summary

    import numpy as np

    base, (card, _) = trained
    model = load_default(base / "a", required=True, backend="tfidf")
    dev = load_real_dev(REAL_DEV_FIXTURE)
    v = combined_verdicts(dev, probabilities(model, dev), tuple(model.band), model.disagreement)
    s = summary(np.array([r.label == "major" for r in dev]).astype(int), v, np.zeros(len(dev), bool))
    got = card["band_selection"]["real_dev"]
    for k in ("recall_major_or_review", "review_rate", "accuracy", "precision_major_or_review"):
        assert abs(got[k] - (s[k] or 0.0)) < 1e-4, k


def _records_with_meta():
    """The toy corpus with levels, units and profiles that move the label: town matters
    proposed by a town government are major more often than the same words from a department."""
    out = []
    n = 0
    for pi, p in enumerate(PLACES):
        town = pi % 2 == 0
        for tmpl, label in [(t, "major") for t in MAJOR] + [(t, "not_major") for t in MINOR]:
            n += 1
            out.append(corpus_mod.Record.model_validate({
                "id": f"meta-{n:04d}", "title": tmpl.format(p=p), "label": label, "source_type": "document",
                "issuer": f"{p}人民政府", "year": 2024, "source_url": f"http://example.invalid/m{n}",
                "level": "town" if town else "department", "unit": f"{p}东镇人民政府" if town else f"{p}财政局",
                "profile": "zhejiang" if pi % 3 == 0 else "national",
                "attributes": {a: (label == "major" and a == "public_interest") for a in ATTRS},
                "hard_case": False, "exclusion": None if label == "major" else "routine",
                "reason": None if label == "major" else "日常事务"}))
    return out


def test_unit_level_and_profile_reach_the_model_and_its_fast_path_stays_exact():
    import numpy as np

    from model.learned.tfidf import TfidfModel
    from model.learned.tfidf_estimators import meta_tokens
    from model.screener import Screener
    from training.inputs import meta_of
    from training.train import fit_bundle

    recs = _records_with_meta()
    bundle = fit_bundle(recs, groups_for(recs), C=4.0, meta_weight=0.5)
    assert {"LEVEL=town", "LEVEL=department", "UNIT=乡镇", "UNIT=局"} <= set(bundle["meta"].names_)
    assert not [t for t in bundle["meta"].names_ if t.startswith("PROFILE=")]  # see meta_tokens
    model = TfidfModel(bundle, {"version": "toy"})
    assert model.uses_meta
    texts = [r.text for r in recs] + ["某县防汛工作方案"]
    metas = [meta_of(r) for r in recs] + [{"unit": "某县应急管理局", "level": "county", "profile": "national"}]
    fast = model.predict(texts, k_similar=3, meta=metas)
    ref = model.predict_sklearn(texts, k_similar=3, meta=metas)
    assert np.max(np.abs(np.array([p.probability for p in fast]) - [p.probability for p in ref])) < 1e-9
    # precedents match on the text alone, in both paths (the toy titles tie, so compare scores)
    assert [[s["score"] for s in p.similar] for p in fast] == [[s["score"] for s in p.similar] for p in ref]
    assert all(p.similar for p in fast[:-1])
    # the same words read differently with a different unit and level, through the Screener too
    screener = Screener(model=model)
    a = screener.screen({"title": "甲市办公用品采购", "unit": "甲镇人民政府"})
    b = screener.screen({"title": "甲市办公用品采购", "unit": "甲市财政局"})
    assert a.level == "town" and b.level == "department"
    assert a.probability != b.probability
    assert meta_tokens({"unit": None, "level": None, "profile": None}) == []
