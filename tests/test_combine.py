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


def test_with_no_rule_and_too_few_known_words_the_models_base_rate_does_not_decide():
    silent = _rules("not_major", "none")
    for p in (0.9, 0.25, 0.05):  # whichever way the base rate or one word leans
        c = combine(silent, Prediction(p, known_words=1), (0.12, 0.22))
        assert (c.verdict, c.note) == ("review", "too_little_text")
        assert "1 个词" in c.why_review and f"{p:.2f}" in c.why_review
    assert combine(silent, Prediction(0.9, known_words=2), (0.12, 0.22)).verdict == "major"
    assert combine(silent, Prediction(0.05, known_words=2), (0.12, 0.22)).verdict == "not_major"
    # a model that cannot count its known words (a transformer alone) keeps its band
    assert combine(silent, Prediction(0.9), (0.12, 0.22)).verdict == "major"


def test_a_rule_hit_decides_even_when_the_model_knows_no_word_of_the_text():
    assert combine(_rules("major", "strong"), Prediction(0.3, known_words=0), (0.12, 0.22)).verdict == "major"
    excluded = combine(_rules("not_major", "strong"), Prediction(0.3, known_words=0), (0.12, 0.22))
    assert excluded.verdict == "not_major"
    weak = combine(_rules("review", "weak"), Prediction(0.9, known_words=0), (0.12, 0.22))
    assert weak.verdict == "major" and weak.note == "model"


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


def test_a_review_answer_carries_the_models_probability_a_nonzero_confidence_and_why():
    enumerated, excluded, silent = _rules("major", "strong"), _rules("not_major", "strong"), _rules("not_major", "none")
    cases = [combine(enumerated, Prediction(0.02), (0.3, 0.7)), combine(excluded, Prediction(0.97), (0.3, 0.7)),
             combine(silent, Prediction(0.45), (0.3, 0.7)), combine(_rules("review", "weak"), None, (0.3, 0.7))]
    for c in cases:
        assert c.verdict == "review" and c.confidence > 0 and c.why_review
    assert cases[0].probability == 0.02 and "0.02" in cases[0].why_review and "不一致" in cases[0].why_review
    assert "0.45" in cases[2].why_review
    # the closer the evidence is to even, the more a person's look is warranted
    assert combine(silent, Prediction(0.5), (0.3, 0.7)).confidence > combine(silent, Prediction(0.32), (0.3, 0.7)).confidence


def _screen(title, **kw):
    from model.screener import Screener

    return Screener().screen({"title": title, **kw})


def test_a_county_cannot_make_rules_so_its_draft_measures_are_a_normative_document():
    county = _screen("某某区物业服务收费管理办法(草案)", level="county")
    assert county.verdict != "not_major" and county.exclusion is None
    assert any(r.kind == "issuance" and "没有规章制定权" in r.text for r in county.reasons)
    assert any(r.kind == "exclusion_overridden" for r in county.reasons)


def test_a_city_draft_measure_may_be_a_rule_and_the_answer_names_the_deciding_fact():
    city = _screen("某某市物业服务收费管理办法(草案)", level="city")
    assert city.exclusion is not None and city.exclusion["type"] == "legislation"
    assert any(r.kind == "issuance" and "政府令" in r.text for r in city.reasons)


def test_without_level_or_unit_the_answer_asks_for_them_instead_of_guessing():
    a = _screen("某某区物业服务收费管理办法(草案)")
    assert any(r.kind == "issuance" and "请补充层级或承办单位" in r.text for r in a.reasons)
    # a unit that is a department settles it as a department's normative document
    b = _screen("某某行业经营许可管理办法", unit="区市场监督管理局")
    assert b.level == "department" and b.verdict != "not_major"
    assert any(r.kind == "issuance" and "政府部门没有规章制定权" in r.text for r in b.reasons)


def test_titles_that_say_what_they_are_are_not_treated_as_ambiguous():
    from model.combine import issuance

    assert issuance("关于印发某某县物业管理办法的通知", "county", True) is None
    assert issuance("某某市物业管理条例(草案)", "city", True) is None
    assert issuance("某某县城区道路改造工程", "county", True) is None
    assert issuance("制定《某某县物业管理办法》", "county", True).kind == "normative"


def test_where_the_model_decides_confidence_is_the_chance_the_verdict_is_right():
    silent = _rules("not_major", "none")
    low_major = combine(silent, Prediction(0.15), (0.12, 0.12))  # a low band: misses cost more
    assert low_major.verdict == "major" and low_major.confidence == 0.15
    sure_not = combine(silent, Prediction(0.02), (0.12, 0.12))
    assert sure_not.verdict == "not_major" and sure_not.confidence == 0.98


def test_a_major_answer_on_a_low_probability_says_why_the_line_is_low_and_what_to_check():
    from model.explain import reasons_for

    silent = _rules("not_major", "none")
    low = combine(silent, Prediction(0.15), (0.12, 0.12))
    said = [r["text"] for r in reasons_for(silent, low, Prediction(0.15))]
    assert any("0.15" in t and "0.12" in t and "核实" in t for t in said)
    # a confident model answer, or a rule's answer, needs no such note
    for rules, p in ((silent, 0.8), (_rules("major", "strong"), 0.3)):
        c = combine(rules, Prediction(p), (0.12, 0.12))
        assert c.verdict == "major"
        assert not any("阈值为少漏报" in r["text"] for r in reasons_for(rules, c, Prediction(p)))


def test_an_ambiguous_city_measure_is_cleared_by_a_low_probability_but_never_called_major():
    from dataclasses import replace

    title = "某某市残疾人权益保障办法"
    city = replace(_rules("major", "strong"), level="city")
    # the same strong policy hit that would stand for a county is only evidence for a city,
    # which may issue the measure as a 规章 (excluded) or a normative document
    assert combine(city, Prediction(0.05), (0.3, 0.7), text=title).verdict == "not_major"
    middle = combine(city, Prediction(0.5), (0.3, 0.7), text=title)
    assert middle.verdict == "review" and "政府令" in middle.why_review
    # however high the model's probability: it cannot tell a 规章 draft from a normative document
    high = combine(city, Prediction(0.9), (0.3, 0.7), text=title)
    assert high.verdict == "review" and "0.90" in high.why_review and "不能区分" in high.why_review
    silent_city = replace(_rules("not_major", "none"), level="city")
    assert combine(silent_city, Prediction(0.9), (0.3, 0.7), text=title).verdict == "review"
    county = replace(_rules("major", "strong"), level="county")
    assert combine(county, Prediction(0.05), (0.3, 0.7), text=title).verdict == "review"
    assert combine(county, Prediction(0.9), (0.3, 0.7), text=title).verdict == "major"
    # without a model the rules' policy hit does not settle it either
    no_model = combine(city, None, (0.3, 0.7), text=title)
    assert no_model.verdict == "review" and "政府令" in no_model.why_review
    assert combine(county, None, (0.3, 0.7), text=title).verdict == "major"


def test_a_model_doubting_a_below_standard_answer_is_told_apart_from_an_exclusion():
    from model.rules import Hit

    hit = Hit("national.en.construction", "enumeration", "改造工程", (0, 4), "b", "w", "s",
              {"category": "construction", "strength": "weak", "standard": "national.th.county_amount"})
    below = RuleResult("not_major", None, [], [], [], {}, None, None, "county", "strong",
                       below_standard=[hit])
    c = combine(below, Prediction(0.97, known_words=5), (0.12, 0.22), (0.08, 0.88))
    assert c.verdict == "review" and "数值低于标准或筛查线, national.th.county_amount" in c.why_review
    assert "排除事项" not in c.why_review
