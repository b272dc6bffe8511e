"""Evaluation on the fixed test split: the model and the combined system against the rules alone.

`decision-screen evaluate` re-scores the shipped artefact; `train` calls the same code right
after fitting. Beside the test split, every report carries the real validation data
(training/realdev.py; skipped with a note when the file is absent). Reports go to
training/reports/ (metrics.json, metrics.md, calibration.png, calibration_real_dev.png)."""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from model.combine import combine
from model.extract import extract
from model.learned import Prediction
from model.rulebook import ATTRIBUTES, default_rulebooks
from model.rules import evaluate as evaluate_rules
from model.screener import Screener

from .corpus import Record
from .inputs import probabilities
from .realdev import (
    calibration,
    calibration_by_level,
    plot_reliability,
    real_dev_md,
    real_dev_report,
    reliability_plot,
)

REPORT_DIR = Path(__file__).resolve().parent / "reports"
ATTR_PROCEDURE = {"price_utility": "听证", "technical": "专家论证", "stability_risk": "风险评估",
                  "market_entities": "公平竞争审查", "public_interest": "公众参与"}
_rule_cache: dict[str, object] = {}


def _rules_for(r: Record):
    key = f"{r.id}|{r.profile}|{r.level}"
    if key not in _rule_cache:
        rb = default_rulebooks()
        prof = rb.get(r.profile if r.profile in rb.names() else "national")
        text = r.text
        _rule_cache[key] = (evaluate_rules(text, extract(text), prof, r.level), prof)
    return _rule_cache[key]


def combined_verdicts(records, probs: np.ndarray, band: tuple[float, float],
                      disagreement: tuple[float, float] | None = None) -> list[str]:
    """The Screener's verdicts for these probabilities without re-running the model: records
    are corpus Records or real-dev items (both give id, text, profile and a known level)."""
    out = []
    for r, p in zip(records, probs):
        rules, _ = _rules_for(r)
        out.append(combine(rules, Prediction(probability=float(p)), band, disagreement, text=r.text).verdict)
    return out


def _prf(y: np.ndarray, pred: np.ndarray) -> dict:
    tp = int((pred & (y == 1)).sum())
    fp = int((pred & (y == 0)).sum())
    fn = int((~pred & (y == 1)).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "tp": tp, "fp": fp, "fn": fn}


def verdict_metrics(y: np.ndarray, verdicts: list[str]) -> dict:
    v = np.array(verdicts)
    strict = _prf(y, v == "major")
    flagged = _prf(y, v != "not_major")
    decided = v != "review"
    correct = ((v == "major") & (y == 1)) | ((v == "not_major") & (y == 0))
    return {
        "major_strict": strict,  # review counted as "not major"
        "major_flagged": flagged,  # review counted as "flagged for a person"
        "review_rate": round(float((v == "review").mean()), 4),
        "accuracy": round(float(correct.mean()), 4),
        "accuracy_decided": round(float(correct[decided].mean()), 4) if decided.any() else None,
        "n": int(len(v)),
    }


def _group_accuracy(keys: list[str], y: np.ndarray, verdicts: list[str]) -> dict:
    acc: dict = defaultdict(lambda: [0, 0])
    for k, yy, v in zip(keys, y, verdicts):
        acc[k][1] += 1
        acc[k][0] += int((v == "major") == (yy == 1) and v != "review")
    return {k: {"n": n, "accuracy": round(c / n, 4)} for k, (c, n) in sorted(acc.items())}


def _matters(records: list[Record]) -> list[dict]:
    return [{"id": r.id, "title": r.title, "description": r.description, "unit": r.unit, "level": r.level,
             "profile": r.profile if r.profile in default_rulebooks().names() else "national"} for r in records]


def _procedure_f1(records: list[Record], answers) -> dict:
    """Per-procedure F1 among gold-major items: against the catalogue's own marks where it has
    them, else against the attribute labels that drive the procedure (GUIDELINES.md)."""
    out = {}
    for attr, name in ATTR_PROCEDURE.items():
        gold, pred = [], []
        for r, a in zip(records, answers):
            if r.label != "major":
                continue
            mark = (r.procedures or {}).get(name)
            gold.append(bool(mark) if mark is not None else bool(getattr(r.attributes, attr)))
            pred.append(any(p.name == name and p.required for p in a.procedures))
        g, p = np.array(gold), np.array(pred)
        if len(g):
            out[name] = _prf(g.astype(int), p)
    return out


def _attribute_f1(records: list[Record], answers) -> dict:
    out = {}
    for attr in ATTRIBUTES:
        g = np.array([int(getattr(r.attributes, attr)) for r in records])
        p = np.array([a.attributes.get(attr, 0.0) >= 0.5 for a in answers])
        out[attr] = _prf(g, p)
    return out


def evaluate_bundle(model, test: list[Record], pool_size: int = 0, oof=None) -> dict:
    y = np.array([1 if r.label == "major" else 0 for r in test])
    matters = _matters(test)
    with_model = Screener(model=model).screen_many(matters)
    rules_only = Screener(model=None).screen_many(matters)
    probs = probabilities(model, test)
    v_comb = [a.verdict for a in with_model]
    v_rules = [a.verdict for a in rules_only]
    v_model = ["major" if p >= 0.5 else "not_major" for p in probs]
    hard = np.array([r.hard_case for r in test])
    systems = {"rules_only": v_rules, "model_only": v_model, "combined": v_comb}
    report: dict = {"test_items": len(test), "test_major": int(y.sum()), "training_pool": pool_size,
                    "review_band": list(model.band) if model.band else None,
                    "rule_disagreement": list(getattr(model, "disagreement", None) or []) or None, "systems": {}}
    for name, v in systems.items():
        m = verdict_metrics(y, v)
        if hard.any():
            m["hard_cases"] = verdict_metrics(y[hard], [x for x, h in zip(v, hard) if h])
        m["by_level"] = _group_accuracy([r.level for r in test], y, v)
        m["by_source_type"] = _group_accuracy([r.source_type for r in test], y, v)
        m["by_exclusion_type"] = _group_accuracy([r.exclusion or "(major)" for r in test], y, v)
        m["by_hard_type"] = _group_accuracy([r.hard_type or "(not hard)" for r in test], y, v)
        report["systems"][name] = m
    report["calibration"] = calibration(y, probs)
    report["procedures"] = {"combined": _procedure_f1(test, with_model), "rules_only": _procedure_f1(test, rules_only)}
    report["attributes"] = {"combined": _attribute_f1(test, with_model), "rules_only": _attribute_f1(test, rules_only)}
    if oof is not None:
        pool, p_oof = oof
        y_oof = np.array([1 if r.label == "major" else 0 for r in pool])
        report["cross_validation"] = {
            "model_only": verdict_metrics(y_oof, ["major" if p >= 0.5 else "not_major" for p in p_oof]),
            "combined": verdict_metrics(y_oof, combined_verdicts(pool, p_oof, tuple(model.band),
                                                                 getattr(model, "disagreement", None))),
            "note": "out-of-fold over the training pool, 5 folds grouped by issuer / near-duplicate cluster",
            "calibration": {k: v for k, v in calibration(y_oof, np.asarray(p_oof)).items() if k != "bins"},
            "calibration_by_level": calibration_by_level([r.level for r in pool], y_oof, np.asarray(p_oof)),
        }
    worst = np.argsort(-np.abs(probs - y))[:20]
    report["worst"] = [{"id": test[i].id, "title": test[i].title, "label": test[i].label,
                        "probability": round(float(probs[i]), 4), "verdict": v_comb[i],
                        "source_type": test[i].source_type} for i in worst]
    comb, rules = report["systems"]["combined"], report["systems"]["rules_only"]
    report["summary"] = {
        "test_items": len(test),
        "combined": {"precision_major": comb["major_strict"]["precision"], "recall_major": comb["major_strict"]["recall"],
                     "recall_major_or_review": comb["major_flagged"]["recall"],
                     "precision_major_or_review": comb["major_flagged"]["precision"],
                     "review_rate": comb["review_rate"], "accuracy": comb["accuracy"],
                     "hard_case_accuracy": comb.get("hard_cases", {}).get("accuracy")},
        "rules_only": {"precision_major": rules["major_strict"]["precision"], "recall_major": rules["major_strict"]["recall"],
                       "recall_major_or_review": rules["major_flagged"]["recall"],
                       "precision_major_or_review": rules["major_flagged"]["precision"],
                       "review_rate": rules["review_rate"], "accuracy": rules["accuracy"],
                       "hard_case_accuracy": rules.get("hard_cases", {}).get("accuracy")},
        "calibration": {"ece": report["calibration"]["ece"], "brier": report["calibration"]["brier"]},
    }
    real = sum(r.source_type in ("catalogue", "document") for r in test)
    report["limits"] = [
        f"Test split: {len(test)} items, of which {real} are real catalogue or document titles; the rest are "
        "written examples, so scores on real proposals may differ.",
        "Labels of document titles are the labellers' judgement under GUIDELINES.md, not the issuers'.",
        "Thresholds of the national profile are project defaults, not published standards.",
    ]
    return report


def _plot_calibration(report: dict, path: Path) -> None:
    reliability_plot(report["calibration"], "Calibration on test", path)


def _md(report: dict) -> str:
    rows = []
    for name, m in report["systems"].items():
        hc = m.get("hard_cases", {})
        rows.append(f"| {name} | {m['major_strict']['precision']:.3f} | {m['major_strict']['recall']:.3f} | "
                    f"{m['major_strict']['f1']:.3f} | {m['major_flagged']['precision']:.3f} | "
                    f"{m['major_flagged']['recall']:.3f} | {m['review_rate']:.3f} | {m['accuracy']:.3f} | "
                    f"{hc.get('accuracy', float('nan')):.3f} |")
    proc = "\n".join(f"| {k} | {v['f1']:.3f} | {report['procedures']['rules_only'][k]['f1']:.3f} |"
                     for k, v in report["procedures"]["combined"].items())
    lvl = report["systems"]["combined"]["by_level"]
    lvl_r = report["systems"]["rules_only"]["by_level"]
    by_level = "\n".join(f"| {k} | {v['n']} | {v['accuracy']:.3f} | {lvl_r[k]['accuracy']:.3f} |" for k, v in lvl.items())
    ex = report["systems"]["combined"]["by_exclusion_type"]
    ex_r = report["systems"]["rules_only"]["by_exclusion_type"]
    by_ex = "\n".join(f"| {k} | {v['n']} | {v['accuracy']:.3f} | {ex_r[k]['accuracy']:.3f} |" for k, v in ex.items())
    cv = report.get("cross_validation", {})
    cv_line = ""
    if cv:
        cv_line = (f"\nCross-validation (out-of-fold, training pool): model alone F1 {cv['model_only']['major_strict']['f1']:.3f}; "
                   f"combined recall (major or review) {cv['combined']['major_flagged']['recall']:.3f}, "
                   f"review rate {cv['combined']['review_rate']:.3f}.\n")
        if "calibration_by_level" in cv:
            cv_line += (f"Out-of-fold calibration of P(major): ECE {cv['calibration']['ece']:.3f}; by level "
                        + ", ".join(f"{k} {v['ece']:.3f} (n={v['n']})" for k, v in cv["calibration_by_level"].items())
                        + ".\n")
    return f"""# Evaluation report

Fixed test split: {report['test_items']} items ({report['test_major']} major), never used for training or
for choosing the review band {report['review_band']}. Training pool: {report['training_pool']} items.
"strict" counts a review verdict as not major; "flagged" counts it as caught for a person.

| system | precision (strict) | recall (strict) | F1 (strict) | precision (flagged) | recall (flagged) | review rate | accuracy | hard-case accuracy |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
{chr(10).join(rows)}
{cv_line}
Calibration of P(major) on test: ECE {report['calibration']['ece']:.3f}, Brier {report['calibration']['brier']:.3f}
(see calibration.png).

## Per-procedure F1 (gold-major test items)

| procedure | combined | rules only |
| --- | --- | --- |
{proc}

## Accuracy by level (review counted wrong)

| level | n | combined | rules only |
| --- | --- | --- | --- |
{by_level}

## Accuracy by exclusion type

| exclusion | n | combined | rules only |
| --- | --- | --- | --- |
{by_ex}

## Limits

{chr(10).join('- ' + x for x in report['limits'])}
"""


def add_real_dev(report: dict, model, path: Path | str | None = None) -> dict:
    """Attach the real-dev section and its headline numbers to a test-split report."""
    rd = real_dev_report(model, path)
    report["real_dev"] = rd
    if "skipped" in rd:
        report["summary"]["real_dev"] = {"skipped": rd["skipped"]}
    else:
        report["summary"]["real_dev"] = {
            "items": rd["items"], **{name: m["summary"] for name, m in rd["systems"].items()},
            "calibration": {k: {"ece": rd["calibration"][k]["ece"], "brier": rd["calibration"][k]["brier"]}
                            for k in ("model", "answer")} if "calibration" in rd else None}
    return report


def write_reports(report: dict, directory: Path | None = None) -> Path:
    directory = directory or REPORT_DIR
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "metrics.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    md = _md(report) + (real_dev_md(report["real_dev"]) if "real_dev" in report else "")
    (directory / "metrics.md").write_text(md, encoding="utf-8")
    _plot_calibration(report, directory / "calibration.png")
    if "calibration" in report.get("real_dev", {}):
        plot_reliability(report["real_dev"], directory / "calibration_real_dev.png")
    return directory


def evaluate_shipped(report_dir: Path | None = None, real_dev: Path | str | None = None) -> dict:
    from model.learned import load_default

    from .corpus import load_corpus
    from .split import split

    model = load_default(required=True)
    records, _ = load_corpus()
    train_idx, test_idx, _ = split(records)
    report = evaluate_bundle(model, [records[i] for i in test_idx], pool_size=len(train_idx))
    add_real_dev(report, model, real_dev)
    write_reports(report, report_dir)
    return report
