"""How rules and the model combine into a verdict and a confidence."""
from model.combine import combine
from model.learned import Prediction
from model.rules import RuleResult


def _rules(verdict, strength):
    return RuleResult(verdict, None, [], [], [], {}, None, None, "county", strength)


def test_clear_rule_answer_stands_against_mild_model_doubt_with_lower_confidence():
    agree = combine(_rules("major", "strong"), Prediction(0.95), (0.3, 0.7))
    doubt = combine(_rules("major", "strong"), Prediction(0.3), (0.3, 0.7))
    assert agree.verdict == doubt.verdict == "major"
    assert agree.confidence > doubt.confidence > 0


def test_confident_model_sends_a_rule_answer_to_review():
    assert combine(_rules("major", "strong"), Prediction(0.02), (0.3, 0.7)).verdict == "review"
    assert combine(_rules("not_major", "strong"), Prediction(0.97), (0.3, 0.7)).verdict == "review"


def test_model_decides_where_rules_are_silent_with_its_review_band():
    silent = _rules("not_major", "none")
    assert combine(silent, Prediction(0.8), (0.3, 0.7)).verdict == "major"
    assert combine(silent, Prediction(0.5), (0.3, 0.7)).verdict == "review"
    assert combine(silent, Prediction(0.1), (0.3, 0.7)).verdict == "not_major"


def test_without_a_model_the_rules_answer_alone():
    c = combine(_rules("review", "weak"), None, (0.3, 0.7))
    assert c.verdict == "review" and c.note == "rules_only"


def test_a_models_own_disagreement_thresholds_decide_when_a_rule_answer_goes_to_review():
    enumerated, excluded = _rules("major", "strong"), _rules("not_major", "strong")
    # Fallback pair (0.08, 0.92): a model at 0.3 only lowers the confidence of a rule hit …
    assert combine(enumerated, Prediction(0.3), (0.3, 0.7)).verdict == "major"
    # … while a model trained to doubt rule hits below 0.35 sends the same matter to a person.
    assert combine(enumerated, Prediction(0.3), (0.3, 0.7), (0.35, 0.8)).verdict == "review"
    assert combine(excluded, Prediction(0.85), (0.3, 0.7)).verdict == "not_major"
    assert combine(excluded, Prediction(0.85), (0.3, 0.7), (0.35, 0.8)).verdict == "review"
