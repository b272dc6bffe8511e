"""The serving file (numpy arrays + JSON) is the joblib artefact's model, loaded without
scikit-learn: same numbers, checked against the model card, refused when it does not match."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from model.learned import ARTIFACT_DIR, ArtifactError, load_default, verify_artifact
from model.learned.tfidf import TfidfModel
from model.learned.tfidf_serving import SERVING_FILE, export_serving, read_serving

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def card():
    return verify_artifact()


@pytest.fixture(scope="module")
def serving(card):
    model = TfidfModel.load(ARTIFACT_DIR, card)
    assert model.loaded_from == "serving"
    return model


@pytest.fixture(scope="module")
def from_joblib(card):
    model = TfidfModel.load(ARTIFACT_DIR, card, serving=False)
    assert model.loaded_from == "joblib"
    return model


@pytest.fixture(scope="module")
def corpus_texts():
    from training.corpus import load_corpus

    records, _ = load_corpus(strict=False)
    return [r.text for r in records]


def test_the_shipped_card_lists_the_serving_file_made_from_its_joblib(card):
    assert card["serving"]["file"] == SERVING_FILE
    assert SERVING_FILE in card["files"] and card["artifact"] in card["files"]
    _, header = read_serving(ARTIFACT_DIR / SERVING_FILE)
    assert header["source_sha256"] == card["files"][card["artifact"]]
    assert load_default(required=True, backend="tfidf").loaded_from == "serving"


def test_serving_file_holds_exactly_the_compiled_joblib_model(serving, from_joblib):
    a, b = serving.compiled, from_joblib.compiled
    assert a.n_features == b.n_features and a.term_names == b.term_names
    assert np.array_equal(a.readable, b.readable)
    for name in ("weights", "major_intercept", "cal_a", "cal_b", "head_intercept", "dense", "dense_row"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.attribute_names == b.attribute_names and a.n_members == b.n_members
    for x, y in zip(a.by_feature, b.by_feature):
        assert np.array_equal(x, y)
    assert a.precedent_items == b.precedent_items and a.precedent_min_score == b.precedent_min_score
    assert len(a.blocks) == len(b.blocks)
    for x, y in zip(a.blocks, b.blocks):
        assert x.vocab == y.vocab and np.array_equal(x.idf, y.idf)
        assert (x.field, x.sublinear, x.binary, x.norm) == (y.field, y.sublinear, y.binary, y.norm)
    assert (a.meta is None) == (b.meta is None)
    if a.meta is not None:
        assert a.meta_vocab == b.meta_vocab and a.meta_weight == b.meta_weight


def test_serving_file_gives_the_joblib_fast_path_answers_on_the_corpus(serving, from_joblib, corpus_texts):
    texts = corpus_texts[::5] + ["", "   ", "ABC abc", "关于召开全市安全生产工作会议的通知"]
    units = ["市水务局", "临江镇人民政府", None]
    metas = [{"unit": units[i % 3], "level": "county", "profile": "national"} for i in range(len(texts))]
    for meta in (None, metas):
        a = serving.predict(texts, k_similar=3, meta=meta)
        b = from_joblib.predict(texts, k_similar=3, meta=meta)
        assert [p.probability for p in a] == [p.probability for p in b]
        assert [p.attributes for p in a] == [p.attributes for p in b]
        assert [p.terms for p in a] == [p.terms for p in b]
        assert [p.similar for p in a] == [p.similar for p in b]
    for text in texts[:50]:  # the one-matter path too
        assert serving.predict([text])[0] == from_joblib.predict([text])[0]


def test_serving_load_imports_neither_sklearn_nor_scipy():
    code = ("import sys\n"
            "from model.learned import load_default\n"
            "from model.screener import Screener\n"
            "m = load_default(required=True, backend='tfidf')\n"
            "assert m.loaded_from == 'serving', m.loaded_from\n"
            "s = Screener(model=m)\n"
            "s.screen({'title': '关于调整城区居民生活用水价格的实施方案', 'unit': '市水务局'})\n"
            "s.screen_many([{'title': '城东道路改造'}, {'title': '关于召开全市安全生产工作会议的通知'}])\n"
            "bad = sorted(k for k in sys.modules if k.split('.')[0] in ('sklearn', 'scipy', 'joblib'))\n"
            "print(bad)\n"
            "assert not bad, bad\n")
    out = subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_export_is_deterministic_and_runs_on_an_existing_artefact(tmp_path, card):
    d = tmp_path / "art"
    d.mkdir()
    shutil.copy(ARTIFACT_DIR / card["artifact"], d / card["artifact"])
    old = {k: v for k, v in card.items() if k != "serving"}
    old["files"] = {card["artifact"]: card["files"][card["artifact"]]}
    (d / "model_card.json").write_text(json.dumps(old, ensure_ascii=False), encoding="utf-8")
    # an artefact trained before the serving file existed loads from its joblib
    assert load_default(d, backend="tfidf").loaded_from == "joblib"
    new = export_serving(d)
    assert new["files"] == card["files"]  # the same bytes as the shipped serving file
    assert json.loads((d / "model_card.json").read_text(encoding="utf-8"))["serving"]["file"] == SERVING_FILE
    assert load_default(d, backend="tfidf").loaded_from == "serving"


def test_altered_or_foreign_serving_file_is_refused(tmp_path, card):
    d = tmp_path / "art"
    shutil.copytree(ARTIFACT_DIR, d)
    blob = d / SERVING_FILE
    blob.write_bytes(blob.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ArtifactError, match="decision-screen train"):
        load_default(d, backend="tfidf")
    # a well-formed file whose header names another joblib: refused even with a matching sha256
    shutil.copy(ARTIFACT_DIR / SERVING_FILE, blob)
    with np.load(blob) as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(arrays["header"].tobytes().decode("utf-8"))
    header["source_sha256"] = "0" * 64
    arrays["header"] = np.frombuffer(json.dumps(header).encode("utf-8"), np.uint8)
    np.savez(blob, **arrays)
    c = json.loads((d / "model_card.json").read_text(encoding="utf-8"))
    from model.learned import sha256_file

    c["files"][SERVING_FILE] = sha256_file(blob)
    (d / "model_card.json").write_text(json.dumps(c, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ArtifactError, match="not made from"):
        load_default(d, backend="tfidf")
