"""Choose the review band and the rule-disagreement thresholds of the combined system together,
on out-of-fold predictions of the training pool plus the real validation data (real_dev), never
on the test split.

The rule, kept simple so that a reader can check it: among all (lo, hi, major_below,
exclusion_above) on a 0.02 grid that keep recall of major (major or review) ≥ 0.97 out of fold
and send at most MAX_REVIEW_RATE of each set to a person, take the one with the lowest cost —
wrong automatic verdicts, a missed major counting MISS_WEIGHT times (recall matters most), plus
REVIEW_COST per review (a person's look costs less than a wrong answer they act on), per item
and averaged over the two sets so that real_dev's 165 items are not drowned by the pool — ties
going to fewer reviews.
real_dev's own recall target (0.95, issue 10) is reported, not imposed: imposed where the model
cannot reach it, it drove the band to "flag nearly everything" (recall 0.93 at precision 0.58
on the first try), which helps no one.

real_dev only chooses these four numbers; it never fits a weight. Each threshold acts on one
kind of matter (model.combine.decided_by), so the scores of the kinds add up and the full grid
is searched exactly, without re-running the combiner for every combination."""
from __future__ import annotations

import numpy as np

from model.combine import combine, decided_by
from model.learned import Prediction

OOF_RECALL_TARGET = 0.97
DEV_RECALL_TARGET = 0.95  # reported beside the choice, not imposed (see above)
MISS_WEIGHT = 3.0
REVIEW_COST = 0.5  # a review costs half a wrong automatic verdict
MAX_REVIEW_RATE = 0.10  # the review budget of issue 10, per set
GRID = np.round(np.arange(0.02, 0.99, 0.02), 2)  # review band ends
LOW = GRID[GRID <= 0.5]  # major_below: the model must lean against a major hit
HIGH = GRID[GRID >= 0.5]  # exclusion_above: the model must lean against an exclusion


def _verdicts(items, rules, probs, idx, band, dis) -> np.ndarray:
    return np.array([combine(rules[i], Prediction(float(probs[i])), band, dis, text=items[i].text).verdict
                     for i in idx])


class _Set:
    """One evaluation set. Each threshold acts on one kind of matter, and the review band's
    ends act apart (an item is major iff P ≥ hi, whatever lo; not major iff P < lo and no fact
    keeps it in review, whatever hi ≤ 1), so the combiner runs once per item and grid value
    and every combination is counted exactly by adding."""

    def __init__(self, items, probs):
        from .evaluate import _rules_for

        probs = np.asarray(probs, dtype=float)
        self.y = y = np.array([1 if r.label == "major" else 0 for r in items])
        rules = [_rules_for(r)[0] for r in items]
        kind = np.array([decided_by(ru, r.text) for ru, r in zip(rules, items)])
        self.n, self.n_major = len(items), max(int(y.sum()), 1)
        m = np.flatnonzero(kind == "model")
        ym = y[m]
        mj = np.array([_verdicts(items, rules, probs, m, (0.0, float(hi)), None) == "major" for hi in GRID]).reshape(len(GRID), len(m))
        nm = np.array([_verdicts(items, rules, probs, m, (float(lo), 1.01), None) == "not_major" for lo in GRID]).reshape(len(GRID), len(m))
        # [lo, hi] counts of (caught, correct, reviews, flagged, automatic major, right automatic
        # major) among the model-decided items
        zero = 0 * GRID
        caught = ((ym == 1) & ~nm).sum(1)[:, None] + zero[None, :]
        correct = ((ym == 0) & nm).sum(1)[:, None] + ((ym == 1) & mj).sum(1)[None, :]
        review = len(m) - nm.sum(1)[:, None] - mj.sum(1)[None, :]
        flagged = (~nm).sum(1)[:, None] + zero[None, :]
        auto = zero[:, None] + mj.sum(1)[None, :]
        tp = zero[:, None] + ((ym == 1) & mj).sum(1)[None, :]
        self.band = np.stack([caught, correct, review, flagged, auto, tp], -1).astype(float)
        self.valid = GRID[:, None] <= GRID[None, :]
        self.enum = self._single(items, rules, probs, np.flatnonzero(kind == "enumeration"),
                                 [((0.5, 0.5), (float(mb), 0.99)) for mb in LOW])
        self.excl = self._single(items, rules, probs, np.flatnonzero(kind == "exclusion"),
                                 [((0.5, 0.5), (0.01, float(ex))) for ex in HIGH])
        # Held matters (a local choice the profile does not settle) are reviewed whatever the
        # thresholds: a constant term.
        held = self.y[kind == "hold"]
        self.hold = np.array([held.sum(), 0, len(held), len(held), 0, 0], dtype=float)

    def _single(self, items, rules, probs, idx, settings) -> np.ndarray:
        y = self.y[idx]
        out = []
        for band, dis in settings:
            v = _verdicts(items, rules, probs, idx, band, dis)
            out.append([((y == 1) & (v != "not_major")).sum(),
                        ((y == 1) & (v == "major")).sum() + ((y == 0) & (v == "not_major")).sum(), (v == "review").sum(),
                        (v != "not_major").sum(), (v == "major").sum(), ((y == 1) & (v == "major")).sum()])
        return np.array(out, dtype=float).reshape(len(settings), 6)

    def rates(self) -> dict[str, np.ndarray]:
        """Each rate over [lo, hi, major_below, exclusion_above]."""
        t = (self.band[:, :, None, None, :] + self.enum[None, None, :, None, :] + self.excl[None, None, None, :, :]
             + self.hold)
        return {"recall_major_or_review": t[..., 0] / self.n_major, "accuracy": t[..., 1] / self.n,
                "review_rate": t[..., 2] / self.n,
                "precision_major_or_review": t[..., 0] / np.maximum(t[..., 3], 1),
                "recall_strict": t[..., 5] / self.n_major, "precision_strict": t[..., 5] / np.maximum(t[..., 4], 1)}


def choose_thresholds(pool, oof_probs, dev=None, dev_probs=None) -> tuple[tuple[float, float], tuple[float, float], dict]:
    """(review band, (major_below, exclusion_above), report) by the rule of this module's
    docstring; with no real_dev, on out-of-fold predictions alone."""
    sets = [("out_of_fold", _Set(pool, oof_probs), OOF_RECALL_TARGET)]
    if dev:
        sets.append(("real_dev", _Set(dev, dev_probs), DEV_RECALL_TARGET))
    rates = [(name, s.rates(), target) for name, s, target in sets]
    # accuracy counts a review as wrong: take it back out and charge REVIEW_COST instead
    cost = sum((1 - r["accuracy"]) - (1 - REVIEW_COST) * r["review_rate"]
               + (MISS_WEIGHT - 1) * (1 - r["recall_major_or_review"]) * s.n_major / s.n
               for (_, r, _), (_, s, _) in zip(rates, sets)) / len(sets)
    review = sum(r["review_rate"] for _, r, _ in rates) / len(rates)
    within_budget = np.logical_and.reduce([r["review_rate"] <= MAX_REVIEW_RATE for _, r, _ in rates])
    oof_ok = (rates[0][1]["recall_major_or_review"] >= OOF_RECALL_TARGET) & within_budget
    valid = sets[0][1].valid[:, :, None, None] & np.ones_like(oof_ok, dtype=bool)
    allowed = valid & oof_ok
    if not allowed.any():  # the pool cannot reach its recall target: take its best recall
        allowed = valid & (rates[0][1]["recall_major_or_review"] == rates[0][1]["recall_major_or_review"][valid].max())
    key = np.where(allowed, np.round(cost, 6) * 1e3 + review, np.inf)
    lo, hi, m, e = np.unravel_index(int(np.argmin(key)), key.shape)
    band, dis = (float(GRID[lo]), float(GRID[hi])), (float(LOW[m]), float(HIGH[e]))
    met = {name: bool(r["recall_major_or_review"][lo, hi, m, e] >= target) for name, r, target in rates}
    report = {
        "review_band": list(band), "major_below": dis[0], "exclusion_above": dis[1],
        "rule": f"lowest cost — wrong automatic verdicts (a missed major counting {MISS_WEIGHT:g}×) + {REVIEW_COST:g} per "
                f"review, per item, mean over the sets — subject to recall (major or review) ≥ {OOF_RECALL_TARGET} out "
                f"of fold and at most {MAX_REVIEW_RATE:.0%} of each set in review; ties to fewer reviews",
        "recall_targets_met": met,
        "chosen_on": "out-of-fold (training pool) + real_dev" if dev else "out-of-fold, training pool",
        "real_dev_use": ("real_dev chose these thresholds only; it never fitted a weight" if dev
                         else "real_dev absent: chosen out of fold only"),
    }
    for name, r, target in rates:
        report[name] = {k: round(float(v[lo, hi, m, e]), 4) for k, v in r.items()} | {"recall_target": target}
    return band, dis, report
