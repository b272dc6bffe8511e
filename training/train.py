"""`decision-screen train`: fit the default model from the corpus, reproducibly.

Steps: load and check the corpus → grouped split (a fixed test split plus grouped folds of
the rest) → C and the weight of the unit-kind/level tokens on grouped out-of-fold log-loss →
out-of-fold probabilities on the training pool → fit the final model on the whole training pool
→ choose the review band and the rule-disagreement thresholds on the out-of-fold predictions
plus the real validation data (training/thresholds.py; real_dev chooses these numbers and never
fits a weight; the test split is never used) → evaluate on the test split and on real_dev →
write the artefact, its serving file (model/learned/tfidf_serving.py: the same model as numpy
arrays, what the service loads), the model card (with the sha256 of both) and the reports."""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import joblib
import numpy as np

from model.learned import ARTIFACT_DIR, sha256_file
from model.learned.tfidf import ARTIFACT_FILE, TfidfModel
from model.learned.tfidf_estimators import (
    AttributeHeads,
    MajorClassifier,
    MetaFeatures,
    Precedents,
    TextFeatures,
    with_meta,
)
from model.learned.tfidf_serving import SERVING_FILE, NotExportable, export_serving
from model.rulebook import ATTRIBUTES

from .corpus import CORPUS_DIR, Record, load_corpus
from .inputs import meta_of
from .split import grouped_folds, split

SEED = 20261126
C_GRID = (4.0, 16.0, 64.0)
META_WEIGHTS = (0.0, 0.5, 1.0, 2.0)  # 0: the text alone
RECALL_TARGET = 0.97


def _labels(records: list[Record]) -> np.ndarray:
    return np.array([1 if r.label == "major" else 0 for r in records])


def _attr_matrix(records: list[Record]) -> np.ndarray:
    return np.array([[int(getattr(r.attributes, a)) for a in ATTRIBUTES] for r in records])


def _precedent_item(r: Record) -> dict:
    return {"title": r.title, "label": r.label, "issuer": r.issuer, "year": r.year, "source_url": r.source_url}


def fit_bundle(records: list[Record], groups: list[str], C: float, meta_weight: float = 0.0) -> dict:
    texts = [r.text for r in records]
    feats = TextFeatures().fit(texts)
    X = feats.transform(texts)
    folds = grouped_folds(groups, 5)
    # The unit kind and level are read by the classifier and the attribute heads;
    # precedents are matched on the text alone (what the matter is, not who proposes it).
    metas = [meta_of(r) for r in records]
    meta = MetaFeatures(weight=meta_weight).fit(metas) if meta_weight > 0 else None
    Xm = with_meta(X, meta, metas)
    major = MajorClassifier(C=C, cv=folds, random_state=SEED).fit(Xm, _labels(records))
    heads = AttributeHeads(names=ATTRIBUTES).fit(Xm, _attr_matrix(records))
    # Precedents shown to users are real matters; written examples teach the model but are not
    # "past catalogue items".
    real = [i for i, r in enumerate(records) if r.source_type in ("catalogue", "document")]
    prec = Precedents().fit(X[real] if real else X[:0], [_precedent_item(records[i]) for i in real])
    return {"features": feats, "major": major, "attributes": heads, "precedents": prec, "meta": meta}


def out_of_fold(records: list[Record], groups: list[str], C: float, meta_weight: float = 0.0) -> np.ndarray:
    """P(major) for every record from a model that never saw its group."""
    probs = np.zeros(len(records))
    for tr, va in grouped_folds(groups, 5):
        sub = [records[i] for i in tr]
        bundle = fit_bundle(sub, [groups[i] for i in tr], C, meta_weight)
        X = bundle["features"].transform([records[i].text for i in va])
        X = with_meta(X, bundle["meta"], [meta_of(records[i]) for i in va])
        probs[va] = bundle["major"].predict_proba(X)[:, 1]
    return probs


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import log_loss

    return float(log_loss(y, np.clip(p, 1e-6, 1 - 1e-6)))


def choose_c(records: list[Record], groups: list[str]) -> tuple[float, float, dict, np.ndarray]:
    """C (text alone), then the weight of the meta tokens at that C, each by grouped
    out-of-fold log-loss; returns the out-of-fold probabilities of the chosen pair too."""
    y = _labels(records)
    scores, oof = {}, {}
    for C in C_GRID:
        oof[(C, 0.0)] = out_of_fold(records, groups, C, 0.0)
        scores[C] = _log_loss(y, oof[(C, 0.0)])
    best = min(scores, key=scores.get)
    by_weight = {0.0: scores[best]}
    for w in META_WEIGHTS:
        if w > 0:
            oof[(best, w)] = out_of_fold(records, groups, best, w)
            by_weight[w] = _log_loss(y, oof[(best, w)])
    weight = min(by_weight, key=by_weight.get)
    return best, weight, {"log_loss_by_C": {str(k): round(v, 4) for k, v in scores.items()}, "C": best,
                          "log_loss_by_meta_weight": {str(k): round(v, 4) for k, v in by_weight.items()},
                          "meta_weight": weight}, oof[(best, weight)]


def _verdict_scores(records: list[Record], probs: np.ndarray, band: tuple[float, float],
                    disagreement: tuple[float, float] | None = None) -> tuple[float, float, float]:
    """(F1 of automatic "major" verdicts, recall of major counting review as caught, review
    rate) of the combined system on these records."""
    from .evaluate import combined_verdicts

    y = _labels(records)
    n_major = max(int((y == 1).sum()), 1)
    v = np.array(combined_verdicts(records, probs, band, disagreement))
    auto = v == "major"
    tp = (auto & (y == 1)).sum()
    prec, rec = tp / max(auto.sum(), 1), tp / n_major
    f1 = 2 * prec * rec / max(prec + rec, 1e-9)
    flagged = ((v != "not_major") & (y == 1)).sum() / n_major
    return float(f1), float(flagged), float((v == "review").mean())


def choose_band(records: list[Record], probs: np.ndarray) -> tuple[tuple[float, float], dict]:
    """Review band on out-of-fold results of the combined system (rules + model), never on test.
    lo: the highest value that keeps recall of major (major or review) at ≥ 0.97 — below it the
    model may say "not major" on its own. hi: the value that then maximises F1 of automatic
    "major" verdicts (ties go to the narrower band, fewer items for a person)."""
    grid = np.round(np.arange(0.02, 0.99, 0.02), 2)
    best_lo = float(grid[0])
    for lo in grid:
        if _verdict_scores(records, probs, (float(lo), 0.99))[1] >= RECALL_TARGET:
            best_lo = float(lo)
    best = (-1.0, 0.0, 0.99)
    for hi in grid:
        if hi <= best_lo:
            continue
        f1, _, review = _verdict_scores(records, probs, (best_lo, float(hi)))
        if (f1, -review) > (best[0], -best[1]):
            best = (f1, review, float(hi))
    band = (best_lo, best[2])
    return band, {"review_band": list(band), "recall_target": RECALL_TARGET, "hi_rule": "max F1 of automatic major",
                  "oof_f1_auto_major": round(float(best[0]), 4), "oof_review_rate": round(best[1], 4),
                  "chosen_on": "out-of-fold, training pool"}


def choose_disagreement(records: list[Record], probs: np.ndarray, band: tuple[float, float]
                        ) -> tuple[tuple[float, float], dict]:
    """How far the model must lean against a clear rule answer before a person looks, chosen on
    out-of-fold results (never on test). exclusion_above: the highest value that keeps recall
    (major or review) ≥ 0.97; major_below: then the value that maximises F1 of automatic
    "major" verdicts among those keeping that recall. Ties go to fewer items for review."""
    exclusion_above = 0.5
    for ex in np.round(np.arange(0.96, 0.49, -0.02), 2):
        exclusion_above = float(ex)
        if _verdict_scores(records, probs, band, (0.08, exclusion_above))[1] >= RECALL_TARGET:
            break
    best = None
    for mb in np.round(np.arange(0.02, 0.52, 0.02), 2):
        f1, flagged, review = _verdict_scores(records, probs, band, (float(mb), exclusion_above))
        if flagged < RECALL_TARGET:
            continue
        if best is None or (round(f1, 4), -review) > (round(best[0], 4), -best[2]):
            best = (f1, flagged, review, float(mb))
    major_below = best[3] if best else 0.08
    f1, flagged, review = _verdict_scores(records, probs, band, (major_below, exclusion_above))
    return (major_below, exclusion_above), {
        "major_below": major_below, "exclusion_above": exclusion_above, "oof_f1_auto_major": round(f1, 4),
        "oof_recall_major_or_review": round(flagged, 4), "oof_review_rate": round(review, 4),
        "chosen_on": "out-of-fold, training pool"}


def corpus_digest(records: list[Record]) -> str:
    """sha256 of the records in canonical form (sorted keys), so that reordering the keys of a
    line changes nothing that the model learned from."""
    h = hashlib.sha256()
    for r in records:
        h.update(json.dumps(r.model_dump(mode="json"), sort_keys=True, ensure_ascii=False).encode("utf-8"))
    return h.hexdigest()


def train(out_dir: Path = ARTIFACT_DIR, extra_files: list[Path] | None = None,
          report_dir: Path | None = None, log=print, corpus_dir: Path = CORPUS_DIR,
          real_dev: Path | str | None = None) -> dict:
    from .evaluate import add_real_dev, evaluate_bundle, write_reports
    from .inputs import probabilities
    from .realdev import load_real_dev, real_dev_path
    from .thresholds import choose_thresholds

    t0 = time.perf_counter()
    records, _ = load_corpus(corpus_dir, extra_files=extra_files)
    train_idx, test_idx, groups = split(records)
    pool = [records[i] for i in train_idx]
    pool_groups = [groups[i] for i in train_idx]
    test = [records[i] for i in test_idx]
    log(f"corpus {len(records)} items: training pool {len(pool)}, test {len(test)} "
        f"({len(set(groups[i] for i in test_idx))} groups)")
    C, meta_weight, c_info, oof = choose_c(pool, pool_groups)
    log(f"C={C}, meta-token weight {meta_weight} chosen by grouped out-of-fold log-loss "
        f"{c_info['log_loss_by_C']} {c_info['log_loss_by_meta_weight']}")
    bundle = fit_bundle(pool, pool_groups, C, meta_weight)
    out_dir.mkdir(parents=True, exist_ok=True)
    artifact = out_dir / ARTIFACT_FILE
    joblib.dump(bundle, artifact, compress=3)
    # real_dev is scored by the final model, which never saw it; its items only choose thresholds.
    dev = load_real_dev(real_dev)
    dev_probs = probabilities(TfidfModel(bundle, {"version": "selecting"}), dev) if dev else None
    band, dis, choice = choose_thresholds(pool, oof, dev, dev_probs)
    if dev:
        _, _, oof_only = choose_thresholds(pool, oof)
        choice["out_of_fold_only_choice"] = {k: oof_only[k] for k in
                                             ("review_band", "major_below", "exclusion_above", "out_of_fold")}
        choice["real_dev_file"] = real_dev_path(real_dev).name
    log(f"review band {band}, rule disagreement {dis} chosen on {choice['chosen_on']} "
        f"(recall targets met: {choice['recall_targets_met']})")
    digest = corpus_digest(records)
    card = {
        "name": "decision-screen default model",
        "backend": "tfidf",
        "version": "",  # set from the artefact's own hash below: one version per distinct model
        "artifact": ARTIFACT_FILE,
        "created_from": {"corpus_sha256": digest, "items": len(records), "training_pool": len(pool),
                         "test": len(test), "seed": SEED},
        "hyperparameters": {**c_info, "features": "jieba words + word bigrams, char 1-4-grams, TF-IDF (sublinear); "
                                                  "for the classifier and attribute heads also the tokens LEVEL=… and "
                                                  "UNIT=<kind of the lead unit> when given (weight meta_weight); no "
                                                  "profile token (each non-national profile's corpus items carry one "
                                                  "label, so it would learn the label)",
                            "classifier": "logistic regression (balanced), sigmoid calibration on grouped folds",
                            "attribute_heads": "logistic regression per attribute (≥8 positives)"},
        "review_band": list(band),
        "band_selection": choice,
        "rule_disagreement": {"major_below": dis[0], "exclusion_above": dis[1], "chosen_on": choice["chosen_on"],
                              "oof_recall_major_or_review": choice["out_of_fold"]["recall_major_or_review"],
                              "oof_review_rate": choice["out_of_fold"]["review_rate"]},
        "real_dev": ("../shared/eval/real_dev.jsonl (real catalogue items and real non-major documents) chose the "
                     "review band and the rule-disagreement thresholds together with out-of-fold predictions; it "
                     "never fitted a weight and none of its items is in the corpus" if dev
                     else "real_dev absent: thresholds chosen out of fold only"),
        "intended_use": "A second opinion on whether a proposed matter is a 重大行政决策, beside the rulebooks; "
                        "a person decides. Not for matters outside Chinese administrative decision-making.",
        "limits": [],
        "files": {},
        "metrics": {},
    }
    card["files"][ARTIFACT_FILE] = sha256_file(artifact)
    card["version"] = f"tfidf-{card['files'][ARTIFACT_FILE][:10]}"
    # The serving file (numpy + JSON, no pickle): what the service loads, without scikit-learn.
    try:
        export_serving(out_dir, card, bundle, write_card=False)
    except NotExportable as exc:
        (out_dir / SERVING_FILE).unlink(missing_ok=True)
        log(f"no serving file ({exc}); the service will load {ARTIFACT_FILE}")
    model = TfidfModel(bundle, card)
    report = evaluate_bundle(model, test, pool_size=len(pool), oof=(pool, oof))
    add_real_dev(report, model, real_dev)
    card["metrics"] = report["summary"]
    card["limits"] = report["limits"] + ([
        "real_dev numbers are not independent of the thresholds: real_dev chose the review band and the "
        "rule-disagreement thresholds (never a weight); the test split is the untouched estimate."] if dev else [])
    (out_dir / "model_card.json").write_text(json.dumps(card, ensure_ascii=False, indent=1), encoding="utf-8")
    write_reports(report, report_dir)
    log(f"trained in {time.perf_counter() - t0:.1f}s → {artifact} ({artifact.stat().st_size / 1e6:.2f} MB)")
    return card


if __name__ == "__main__":
    train()
