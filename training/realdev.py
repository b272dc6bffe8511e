"""Validation on real matters the project never trains on (`../shared/eval/real_dev.jsonl`).

The grouped test split is made of the corpus's own kind of titles; real_dev holds published
catalogue items and real non-major documents, the closer picture of what offices submit. It
may be used to choose thresholds and to study errors, never to fit weights, and its items never
enter corpora/. Four systems are scored side by side: rules only, model only (P ≥ 0.5), rules +
model (the shipped answer) and a clerk's keyword checklist (training/keywords.py)."""
from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict

from model.normalise import normalise

from .keywords import keyword_verdict

ROOT = Path(__file__).resolve().parent.parent
REAL_DEV_ENV = "DECISION_SCREEN_REAL_DEV"
DEFAULT_REAL_DEV = ROOT.parent / "shared" / "eval" / "real_dev.jsonl"
LEVELS = ("province", "city", "county", "town", "department")


class DevItem(BaseModel):
    """One real_dev line (fields of ../shared/eval/README.md); extra fields are ignored."""
    model_config = ConfigDict(extra="ignore")
    id: str
    title: str
    label: str
    source_type: str
    issuer: str | None = None
    unit: str | None = None
    level: str
    year: int | None = None
    procedures: list[str] = []
    hard: bool = False
    category_hint: str | None = None
    source_url: str | None = None
    description: str | None = None
    profile: str = "national"

    @property
    def text(self) -> str:
        return normalise(self.title + ("。" + self.description if self.description else ""))

    @property
    def klass(self) -> str:
        """The item's class for the per-class table: the dataset's own hint, or for majors
        without one, where they came from."""
        return self.category_hint or f"major ({self.source_type})"


def real_dev_path(path: Path | str | None = None) -> Path:
    """The file asked for, else $DECISION_SCREEN_REAL_DEV, else ../shared/eval/real_dev.jsonl
    beside the repository."""
    return Path(path or os.environ.get(REAL_DEV_ENV) or DEFAULT_REAL_DEV)


def load_real_dev(path: Path | str | None = None) -> list[DevItem] | None:
    """The items, or None when the file is absent (the report then says it was skipped)."""
    p = real_dev_path(path)
    if not p.exists():
        return None
    with p.open(encoding="utf-8") as fh:
        return [DevItem.model_validate(json.loads(line)) for line in fh if line.strip()]


def labels(items) -> np.ndarray:
    return np.array([1 if r.label == "major" else 0 for r in items])


def matters(items: list[DevItem]) -> list[dict]:
    return [{"id": r.id, "title": r.title, "description": r.description, "unit": r.unit, "level": r.level,
             "profile": r.profile} for r in items]


def summary(y: np.ndarray, verdicts: list[str], hard: np.ndarray) -> dict:
    """The headline numbers: recall strict (review counted as missed) and major-or-review,
    precision of both, review rate, accuracy (review counted wrong) and hard-case accuracy."""
    v = np.array(verdicts)
    n_major = max(int(y.sum()), 1)

    def prec(mask):
        return round(float((mask & (y == 1)).sum() / mask.sum()), 4) if mask.any() else None

    correct = ((v == "major") & (y == 1)) | ((v == "not_major") & (y == 0))
    has_major = bool(y.sum())
    return {
        "n": int(len(v)), "major": int(y.sum()),
        "recall_strict": round(float(((v == "major") & (y == 1)).sum() / n_major), 4) if has_major else None,
        "recall_major_or_review": round(float(((v != "not_major") & (y == 1)).sum() / n_major), 4) if has_major else None,
        "precision_strict": prec(v == "major"),
        "precision_major_or_review": prec(v != "not_major"),
        "review_rate": round(float((v == "review").mean()), 4) if len(v) else None,
        "accuracy": round(float(correct.mean()), 4) if len(v) else None,
        "hard_case_accuracy": round(float(correct[hard].mean()), 4) if hard.any() else None,
        "hard_cases": int(hard.sum()),
    }


def _by(keys: list[str], y: np.ndarray, verdicts: list[str], hard: np.ndarray) -> dict:
    idx: dict[str, list[int]] = defaultdict(list)
    for i, k in enumerate(keys):
        idx[k].append(i)
    out = {}
    for k in sorted(idx):
        ii = np.array(idx[k])
        v = [verdicts[i] for i in ii]
        s = summary(y[ii], v, hard[ii])
        s["flagged_share"] = round(float(np.mean([x != "not_major" for x in v])), 4)
        out[k] = s
    return out


def calibration(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict:
    """Reliability bins, expected calibration error (equal-width bins) and Brier score."""
    edges = np.linspace(0, 1, bins + 1)
    rows, ece = [], 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (p >= lo) & (p < hi if hi < 1 else p <= hi)
        if m.any():
            rows.append({"bin": [round(float(lo), 2), round(float(hi), 2)], "n": int(m.sum()),
                         "mean_p": round(float(p[m].mean()), 4), "observed": round(float(y[m].mean()), 4)})
            ece += m.mean() * abs(p[m].mean() - y[m].mean())
    brier = float(((p - y) ** 2).mean()) if len(p) else float("nan")
    return {"bins": rows, "ece": round(float(ece), 4), "brier": round(brier, 4), "n": int(len(p))}


def calibration_by_level(levels: list[str], y: np.ndarray, p: np.ndarray) -> dict:
    out = {}
    for lv in sorted(set(levels)):
        m = np.array([x == lv for x in levels])
        c = calibration(y[m], p[m])
        out[lv] = {"n": c["n"], "major": int(y[m].sum()), "mean_p": round(float(p[m].mean()), 4),
                   "observed": round(float(y[m].mean()), 4), "ece": c["ece"], "brier": c["brier"]}
    return out


def model_probabilities(model, items) -> np.ndarray:
    from .inputs import probabilities

    return probabilities(model, items)


def score_systems(items: list[DevItem], verdicts: dict[str, list[str]]) -> dict:
    y, hard = labels(items), np.array([r.hard for r in items])
    out = {}
    for name, v in verdicts.items():
        out[name] = {"summary": summary(y, v, hard),
                     "by_level": _by([r.level for r in items], y, v, hard),
                     "by_class": _by([r.klass for r in items], y, v, hard)}
    return out


def evaluate_real_dev(model, items: list[DevItem], source: str = "") -> dict:
    """Score rules only, model only, rules + model (the Screener's own answers) and the keyword
    checklist on real_dev items; calibration of the model's P(major) overall and per level."""
    from model.screener import Screener

    ms = matters(items)
    rules = [a.verdict for a in Screener(model=None).screen_many(ms)]
    systems = {"rules_only": rules, "keyword": [keyword_verdict(r.title) for r in items]}
    report: dict = {"file": source, "items": len(items), "major": int(labels(items).sum()),
                    "hard": int(sum(r.hard for r in items))}
    if model is not None:
        answers = Screener(model=model).screen_many(ms)
        probs = model_probabilities(model, items)
        systems = {"rules_only": rules, "model_only": ["major" if p >= 0.5 else "not_major" for p in probs],
                   "combined": [a.verdict for a in answers], "keyword": systems["keyword"]}
        y = labels(items)
        answer_p = np.array([a.probability for a in answers])
        report["model_version"] = getattr(model, "version", None)
        card = getattr(model, "card", None) or getattr(model, "spec", None) or {}
        report["thresholds_chosen_on"] = (card.get("band_selection") or {}).get("chosen_on")
        report["calibration"] = {"model": calibration(y, probs), "answer": calibration(y, answer_p),
                                 "model_by_level": calibration_by_level([r.level for r in items], y, probs)}
        report["review_answers"] = {
            "n": sum(a.verdict == "review" for a in answers),
            "zero_confidence": sum(a.verdict == "review" and not a.confidence for a in answers)}
        order = np.argsort(-np.abs(probs - y))[:15]
        report["worst"] = [{"id": items[i].id, "label": items[i].label, "level": items[i].level,
                            "class": items[i].klass, "probability": round(float(probs[i]), 4),
                            "verdict": answers[i].verdict} for i in order]
    report["systems"] = score_systems(items, systems)
    return report


def real_dev_report(model, path: Path | str | None = None) -> dict:
    """The real-dev section of the evaluation report; {"skipped": why} when the file is absent."""
    p = real_dev_path(path)
    items = load_real_dev(p)
    if items is None:
        return {"skipped": f"real_dev file not found: {p} (set {REAL_DEV_ENV} or pass --real-dev); "
                           "real-data validation was not run"}
    return evaluate_real_dev(model, items, source=str(p))


def _f(x) -> str:
    return "–" if x is None else f"{x:.3f}"


def real_dev_md(rd: dict) -> str:
    if "skipped" in rd:
        return f"\n## Real validation data (real_dev)\n\nSkipped: {rd['skipped']}\n"
    head = ("| system | recall (strict) | recall (major or review) | precision (strict) | "
            "precision (major or review) | review rate | accuracy | hard-case accuracy |\n"
            "| --- | --- | --- | --- | --- | --- | --- | --- |")
    rows = []
    for name, m in rd["systems"].items():
        s = m["summary"]
        rows.append(f"| {name} | {_f(s['recall_strict'])} | {_f(s['recall_major_or_review'])} | "
                    f"{_f(s['precision_strict'])} | {_f(s['precision_major_or_review'])} | {_f(s['review_rate'])} | "
                    f"{_f(s['accuracy'])} | {_f(s['hard_case_accuracy'])} |")
    names = list(rd["systems"])
    lv_rows = []
    for lv in sorted(rd["systems"][names[0]]["by_level"]):
        first = rd["systems"][names[0]]["by_level"][lv]
        cells = " | ".join(f"{_f(rd['systems'][n]['by_level'][lv]['recall_major_or_review'])}"
                           f" / {_f(rd['systems'][n]['by_level'][lv]['accuracy'])}" for n in names)
        lv_rows.append(f"| {lv} | {first['n']} | {first['major']} | {cells} |")
    cl_rows = []
    for k in sorted(rd["systems"][names[0]]["by_class"]):
        first = rd["systems"][names[0]]["by_class"][k]
        cells = " | ".join(_f(rd["systems"][n]["by_class"][k]["flagged_share"]) for n in names)
        cl_rows.append(f"| {k} | {first['n']} | {cells} |")
    cal = ""
    if "calibration" in rd:
        c = rd["calibration"]
        per = "\n".join(f"| {lv} | {v['n']} | {v['mean_p']:.3f} | {v['observed']:.3f} | {v['ece']:.3f} | {v['brier']:.3f} |"
                        for lv, v in c["model_by_level"].items())
        cal = f"""
Calibration of the model's P(major) on real_dev: ECE {c['model']['ece']:.3f}, Brier {c['model']['brier']:.3f}
(the answer's probability after combining with the rules: ECE {c['answer']['ece']:.3f}, Brier {c['answer']['brier']:.3f}).
Review answers: {rd['review_answers']['n']}, of which {rd['review_answers']['zero_confidence']} with confidence 0.

| level | n | mean P(major) | observed share major | ECE | Brier |
| --- | --- | --- | --- | --- | --- |
{per}
"""
    chosen = ""
    if "real_dev" in (rd.get("thresholds_chosen_on") or ""):
        chosen = ("\nThe review band and the rule-disagreement thresholds were chosen on out-of-fold predictions plus these "
                  "items (never a weight), so the rules + model row is not an independent estimate here; the test split is.")
    return f"""
## Real validation data (real_dev)

{rd['items']} real matters from `{Path(rd['file']).name}` ({rd['major']} major, {rd['hard']} marked hard), never
trained on. Model {rd.get('model_version', 'none')}. "strict" counts review as not major; "major or review"
counts it as caught for a person; accuracy and hard-case accuracy count review as wrong. The keyword row is
the clerk's checklist of training/keywords.py (no review verdict, nothing learned).{chosen}

{head}
{chr(10).join(rows)}
{cal}
### By level: recall (major or review) / accuracy

| level | n | major | {' | '.join(names)} |
| --- | --- | --- | {' | '.join('---' for _ in names)} |
{chr(10).join(lv_rows)}

### By class: share flagged (major or review) — should be high for majors, low for the rest

| class | n | {' | '.join(names)} |
| --- | --- | {' | '.join('---' for _ in names)} |
{chr(10).join(cl_rows)}
"""


def reliability_plot(cal: dict, title: str, path: Path) -> None:
    """A reliability diagram of calibration()'s bins, each point labelled with its count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bins = cal["bins"]
    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=110)
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=1, label="perfect")
    ax.plot([b["mean_p"] for b in bins], [b["observed"] for b in bins], "o-", label="model")
    for b in bins:
        ax.annotate(str(b["n"]), (b["mean_p"], b["observed"]), fontsize=7, textcoords="offset points", xytext=(3, -9))
    ax.set_xlabel("predicted P(major)")
    ax.set_ylabel("observed share major")
    ax.set_title(f"{title} (ECE {cal['ece']:.3f})")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_reliability(rd: dict, path: Path) -> None:
    reliability_plot(rd["calibration"]["model"], "Calibration on real_dev", path)
