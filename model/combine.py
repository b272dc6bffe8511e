"""Combine the rules' answer with the learned model's probability into one verdict.

Rules speak for the law: a surviving exclusion or a strong enumeration / threshold hit
stands, unless the model leans far enough the other way (thresholds chosen out of fold and
carried in the model card), in which case the matter goes to the review band for a person.
Where the rules are weak or silent, the model decides, with a review band around its
threshold chosen on validation data."""
from __future__ import annotations

from dataclasses import dataclass

from .learned import Prediction
from .rules import RuleResult

# Priors used when no learned model is present: how often the rules' kinds of answer were
# right is unknown without a model, so these only order the answers; they are not calibrated.
RULE_PRIOR = {("major", "strong"): 0.9, ("not_major", "strong"): 0.08, ("review", "weak"): 0.5,
              ("not_major", "none"): 0.25}
OVERRULE = 0.92  # model confidence needed to send a clear rule answer to review
# (major_below, exclusion_above): a clear enumeration/threshold hit goes to review when P(major)
# is at or below the first; a clear exclusion when it is at or above the second. A trained model
# carries its own pair, chosen on out-of-fold predictions; this is the fallback.
DEFAULT_DISAGREEMENT = (round(1 - OVERRULE, 2), OVERRULE)
RULE_CONFIDENCE = 0.8  # what a clear rule hit alone is worth; the model's agreement adds to it


def _agreeing(rule_conf: float, model_agreement: float) -> float:
    """Confidence of a rule answer: the rule's own weight averaged with how far the model
    agrees (0 when it leans the other way), so a mild disagreement lowers it, never to zero."""
    return round((rule_conf + max(0.0, model_agreement)) / 2, 3)


@dataclass
class Combined:
    verdict: str
    probability: float
    confidence: float
    note: str


def combine(rules: RuleResult, pred: Prediction | None, band: tuple[float, float],
            disagreement: tuple[float, float] | None = None) -> Combined:
    lo, hi = band
    major_below, exclusion_above = disagreement or DEFAULT_DISAGREEMENT
    if pred is None:
        p = RULE_PRIOR[(rules.verdict, rules.strength)]
        return Combined(rules.verdict, p, round(abs(p - 0.5) * 2, 3), "rules_only")
    p = pred.probability
    if rules.verdict == "not_major" and rules.strength == "strong":
        if p >= exclusion_above:
            return Combined("review", p, 0.0, "model_disagrees_with_exclusion")
        return Combined("not_major", min(p, 0.5), _agreeing(RULE_CONFIDENCE, (0.5 - p) * 2), "exclusion")
    if rules.verdict == "major":
        if p <= major_below:
            return Combined("review", p, 0.0, "model_disagrees_with_enumeration")
        return Combined("major", max(p, 0.5), _agreeing(RULE_CONFIDENCE, (p - 0.5) * 2), "enumeration_or_threshold")
    # Rules weak or silent: the model decides, with its review band.
    if p >= hi:
        verdict = "major"
    elif p < lo:
        verdict = "not_major"
    else:
        verdict = "review"
    width = max(hi - lo, 1e-6)
    conf = 0.0 if verdict == "review" else round(min(1.0, abs(p - (lo + hi) / 2) / width), 3)
    return Combined(verdict, p, conf, "model")
