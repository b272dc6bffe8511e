"""The shipped model: checked against its card at load, named in every answer, rebuilt by train."""
import json
import shutil

import pytest

from model.learned import ARTIFACT_DIR, ArtifactError, load_default, verify_artifact
from model.screener import Screener


def test_shipped_artifact_matches_its_card_and_answers_carry_its_version():
    card = verify_artifact()
    model = load_default(required=True)
    assert model.version == card["version"]
    a = Screener(model=model).screen({"title": "关于调整城区居民生活用水价格的实施方案"})
    assert a.model_version == card["version"]
    assert 0.0 <= a.probability <= 1.0
    assert any(r.kind == "model" and "概率" in r.text for r in a.reasons)


def test_model_card_documents_data_metrics_use_and_limits():
    card = json.loads((ARTIFACT_DIR / "model_card.json").read_text(encoding="utf-8"))
    for key in ("version", "created_from", "metrics", "intended_use", "limits", "files", "review_band"):
        assert card[key]
    lo, hi = card["review_band"]
    assert 0 < lo <= hi < 1  # lo == hi: the chosen setting sends nothing to review on P alone
    assert card["metrics"]["combined"]["recall_major_or_review"] > card["metrics"]["rules_only"]["recall_major_or_review"]


def test_altered_artifact_is_refused_with_the_rebuild_command(tmp_path):
    d = tmp_path / "art"
    shutil.copytree(ARTIFACT_DIR, d)
    blob = d / "tfidf_model.joblib"
    blob.write_bytes(blob.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ArtifactError, match="decision-screen train"):
        load_default(d)


def test_missing_artifact_file_is_refused_and_no_card_means_rules_only(tmp_path):
    d = tmp_path / "art"
    shutil.copytree(ARTIFACT_DIR, d)
    (d / "tfidf_model.joblib").unlink()
    with pytest.raises(ArtifactError, match="missing"):
        load_default(d)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert load_default(empty) is None
    with pytest.raises(ArtifactError):
        load_default(empty, required=True)


def test_model_gives_attributes_terms_and_real_precedents():
    model = load_default(required=True)
    pred = model.predict(["关于调整城区居民生活用水价格的实施方案"])[0]
    assert set(pred.attributes) <= {"technical", "stability_risk", "market_entities", "price_utility",
                                    "public_interest", "land_relocation"}
    assert pred.terms and all(isinstance(t, str) and len(t) >= 2 for t, _ in pred.terms)
    for s in pred.similar:
        assert s["source_url"] and s["issuer"]


def test_fast_probability_path_equals_sklearn():
    import numpy as np

    from model.learned.tfidf_estimators import with_meta

    model = load_default(required=True)
    X = model.features.transform(["关于调整城区居民生活用水价格的实施方案", "关于召开全市安全生产工作会议的通知", "城东道路改造"])
    # the unit/level/profile columns follow the text columns where the artefact has them
    X = with_meta(X, model.meta_features, [{"unit": "市发展和改革局", "level": "city", "profile": "national"}, None,
                                           {"level": "town", "profile": "zhejiang"}])
    assert np.allclose(model.major.predict_proba(X), model.major.calibrated_.predict_proba(X), atol=1e-9)
    heads = model.attributes.predict_proba(X)
    for name, head in model.attributes.heads_.items():
        assert np.allclose(heads[name], head.predict_proba(X)[:, 1], atol=1e-9)


def test_shipped_model_was_trained_on_the_corpus_in_this_commit():
    from training.corpus import load_corpus
    from training.train import corpus_digest

    card = verify_artifact()
    records, _ = load_corpus()
    assert card["created_from"]["corpus_sha256"] == corpus_digest(records), (
        "corpora/ changed since the model was trained: run `decision-screen train`")


def test_text_with_nothing_the_model_knows_goes_to_review_saying_what_to_add():
    """An OA system's test call or a greeting is not a major decision on the model's base rate."""
    screener = Screener(model=load_default(required=True))
    for title in ("测试", "你好", "ok", "新年快乐", "萌萌哒的羊驼吃草"):
        a = screener.screen({"title": title})
        assert a.verdict == "review", title
        kinds = [r.kind for r in a.reasons]
        assert "no_rule" in kinds and "too_little_text" in kinds
        assert "请补充" in next(r.text for r in a.reasons if r.kind == "too_little_text")
    # a real proposal in few words still gets its answer
    a = screener.screen({"title": "城东污水处理厂扩建工程, 总投资3.2亿元"})
    assert a.verdict == "major" and "too_little_text" not in [r.kind for r in a.reasons]
