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
PLACES = ["甲市", "乙县", "丙区", "丁镇", "戊市", "己县", "庚区", "辛镇", "壬市", "癸县", "子区", "丑市"]


def _write_corpus(d):
    lines = []
    n = 0
    for pi, p in enumerate(PLACES):
        for tmpl, label in [(t, "major") for t in MAJOR] + [(t, "not_major") for t in MINOR]:
            n += 1
            rec = {"id": f"toy-{n:04d}", "title": tmpl.format(p=p), "label": label, "source_type": "document",
                   "issuer": f"{p}人民政府", "level": "city", "province": "测试", "year": 2024,
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
        return train(out, report_dir=out / "reports", log=lambda m: None, corpus_dir=items)

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


def test_rule_disagreement_is_chosen_out_of_fold_and_travels_with_the_model(trained):
    from model.learned import load_default

    base, (card, _) = trained
    dis = card["rule_disagreement"]
    assert dis["chosen_on"] == "out-of-fold, training pool"
    assert 0 < dis["major_below"] < 0.5 < dis["exclusion_above"] < 1
    assert dis["oof_recall_major_or_review"] >= 0.97
    model = load_default(base / "a", required=True, backend="tfidf")
    assert model.disagreement == (dis["major_below"], dis["exclusion_above"])


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
