"""Combine the rules' answer with the learned model's probability into one verdict.

Rules speak for the law: a surviving exclusion or a strong enumeration / threshold hit
stands, unless the model leans far enough the other way (thresholds chosen out of fold and
carried in the model card), in which case the matter goes to the review band for a person.
Where the rules are weak or silent, the model decides, with a review band around its
threshold chosen on validation data.

One legal fact the title alone often cannot give is settled here from the level (and the unit
it implies): whether a "…办法/规定/细则" is a 规章 draft (government legislation, outside the
regulation) or a 规范性文件 (in scope nationally). Only provincial governments and those of
cities with districts issue 规章 (立法法 2023 第93条); a county, a town or a department issues
normative documents. See `issuance()`.

Confidence: for major / not_major, how sure the verdict is (where the model decides, the
calibrated probability that it is right); for review, how even the evidence is (1 when rules and model together sit at a coin toss, lower when one side nearly settles
it), so a review answer says how uncertain it is instead of 0."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .learned import Prediction
from .rules import RuleResult
from .vocab import CATEGORY_ZH, EXCLUSION_ZH

# Priors used when no learned model is present: how often the rules' kinds of answer were
# right is unknown without a model, so these only order the answers; they are not calibrated.
RULE_PRIOR = {("major", "strong"): 0.9, ("not_major", "strong"): 0.08, ("review", "weak"): 0.5,
              ("review", "hold"): 0.5, ("not_major", "none"): 0.25}
OVERRULE = 0.92  # model confidence needed to send a clear rule answer to review
# (major_below, exclusion_above): a clear enumeration/threshold hit goes to review when P(major)
# is at or below the first; a clear exclusion when it is at or above the second. A trained model
# carries its own pair, chosen on out-of-fold predictions; this is the fallback.
DEFAULT_DISAGREEMENT = (round(1 - OVERRULE, 2), OVERRULE)
RULE_CONFIDENCE = 0.8  # what a clear rule hit alone is worth; the model's agreement adds to it
# Where no rule speaks, the model's probability means something only if it knows the text's
# words. With none or one known word (a greeting, "测试", a bare "规划") it sits near its base
# rate, which is above the low major threshold: such a text would read as major on no evidence.
# Every real_dev item has at least two known words; see docs/ARCHITECTURE.md.
MIN_KNOWN_WORDS = 2

# Which governments may issue 规章 (立法法 2023 第93条: provinces, autonomous regions,
# municipalities, cities with districts, autonomous prefectures). Levels in this project:
# "city" is a city with districts; "department" is a department of a local government.
RULE_MAKING_POWER = {"province": True, "city": True, "county": False, "town": False, "department": False}
LEVEL_ZH = {"province": "省级政府", "city": "设区的市政府", "county": "县级政府", "town": "乡镇政府(街道)",
            "department": "政府部门"}
# A title that names a rule-type document (…办法, …规定(草案), 制定《…细则》) with nothing
# saying which kind it is; only the title is read, not the description.
_RULE_TYPE = re.compile(r"(办法|规定|细则)》?(\((草案|试行|暂行|修订|修订草案|征求意见稿|送审稿)\))?》?(的)?(制定|修订|修改)?$")
# Words that settle the kind from the title itself: legislation words, or the wrappers of
# a normative document (a 规章 is promulgated by a 政府令, never "印发" with a 通知).
_CLEAR = re.compile(r"(规章|政府令|立法|地方性法规|条例|规范性文件|印发|实施意见|实施方案)")


@dataclass
class Issuance:
    """Whether an ambiguous rule-type title is a 规章 or a 规范性文件, and why."""
    kind: str  # normative | possible_rule | undetermined
    text: str


def issuance(text: str, level: str, level_known: bool) -> Issuance | None:
    """None when the title is not an ambiguous …办法/规定/细则. Otherwise which facts decide,
    settled by the level where it is known."""
    title = text.split("。", 1)[0].strip()
    if not _RULE_TYPE.search(title) or _CLEAR.search(title):
        return None
    head = "标题可能是规章草案 (政府立法, 不适用重大行政决策程序), 也可能是规范性文件 (属于决策范围)"
    if not level_known:
        return Issuance("undetermined", f"{head}; 决定因素是制定机关: 由省级或设区的市政府以政府令发布的是规章, "
                                        "由县级、乡镇政府或政府部门制定的是规范性文件。请补充层级或承办单位。")
    if RULE_MAKING_POWER.get(level, False):
        return Issuance("possible_rule", f"{head}; {LEVEL_ZH[level]}有规章制定权: 列入年度规章制定工作计划、"
                                         "经常务会议或全体会议决定后以政府令公布的是规章 (规章制定程序条例第12条、立法法第95条、第96条), "
                                         "以通知印发的规范性文件属于决策范围, 请核实拟采用的形式。")
    return Issuance("normative", f"{head}; {LEVEL_ZH.get(level, level)}没有规章制定权 (立法法第93条), "
                                 "所以是规范性文件: 不属于被排除的政府立法, 按全国标准属于决策范围, 影响面大的应履行决策程序。")


def _short(label: str) -> str:
    """A label without its gloss ("兜底 (其他重大事项)" → "兜底"), to sit inside parentheses."""
    return label.split(" (")[0]


def _agreeing(rule_conf: float, model_agreement: float) -> float:
    """Confidence of a rule answer: the rule's own weight averaged with how far the model
    agrees (0 when it leans the other way), so a mild disagreement lowers it, never to zero."""
    return round((rule_conf + max(0.0, model_agreement)) / 2, 3)


def _evenness(q: float) -> float:
    """Confidence of a review verdict: 1 at an even estimate q = 0.5, falling towards 0 and 1;
    kept above 0 so that a review answer never reads as "no confidence at all"."""
    return round(max(0.01, 1 - abs(2 * q - 1)), 3)


@dataclass
class Combined:
    verdict: str
    probability: float
    confidence: float
    note: str
    why_review: str | None = None  # for a review verdict: what is uncertain, with the numbers
    issuance: Issuance | None = None
    category: str | None = None  # where the combination, not a rule, names the category
    exclusion_fell: bool = False  # a legislation exclusion that the issuer's level rules out
    major_at: float | None = None  # where the model alone decided: the P at which it says major


def _legislation_falls(rules: RuleResult, iss: Issuance | None) -> bool:
    """A legislation exclusion read from an ambiguous …办法(草案) title does not hold for a
    body that cannot make 规章."""
    return (iss is not None and iss.kind == "normative" and rules.exclusion is not None
            and rules.exclusion.detail.get("type") == "legislation" and not _CLEAR.search(rules.exclusion.evidence))


def _open_rule(iss: Issuance | None) -> bool:
    """A province or a city with districts may issue the titled 办法/规定 as a 规章 (excluded)
    or as a normative document (in scope); the title cannot say which, so a policy enumeration
    read from it does not settle the matter. Nor does the model: out of fold on the training
    pool's real documents of this kind (model tfidf-8840711d7e), 24 of the 31 it put at or above
    the major threshold were 规章 drafts (not major), with P from 0.23 to 0.80. So it may clear such
    a title (P below the band: not major) but never calls it major; the rest goes to a person with
    the fact that decides."""
    return iss is not None and iss.kind == "possible_rule"


def decided_by(rules: RuleResult, text: str = "", level_known: bool = True) -> str:
    """Which threshold can change this matter's verdict once a model is present: "enumeration"
    (a clear major hit; only major_below), "exclusion" (a surviving exclusion; only
    exclusion_above), "hold" (a local choice the profile does not settle; always review, no
    threshold moves it) or "model" (rules weak or silent; only the review band). Threshold
    selection scores each kind apart with this, so it follows `combine` exactly."""
    if rules.strength == "hold":
        return "hold"
    iss = issuance(text, rules.level, level_known) if text else None
    normative = iss is not None and iss.kind == "normative" and (rules.exclusion is None or _legislation_falls(rules, iss))
    if rules.verdict == "major" and rules.strength == "strong" and not _open_rule(iss):
        return "enumeration"
    if rules.verdict == "not_major" and rules.strength == "strong" and not normative:
        return "exclusion"
    return "model"


def combine(rules: RuleResult, pred: Prediction | None, band: tuple[float, float],
            disagreement: tuple[float, float] | None = None, *, text: str = "",
            level_known: bool = True) -> Combined:
    """`text` (the normalised title and description) and `level_known` (the level was given or
    read from the unit, not a profile default) let the level settle 规章 versus 规范性文件."""
    iss = issuance(text, rules.level, level_known) if text else None
    normative = iss is not None and iss.kind == "normative" and (rules.exclusion is None or _legislation_falls(rules, iss))
    c = _combine(rules, pred, band, disagreement, normative, _open_rule(iss))
    c.issuance = iss
    c.exclusion_fell = _legislation_falls(rules, iss)
    if c.note == "normative_document" or (normative and c.verdict == "major" and rules.category is None):
        c.category = "public_policy"  # a normative document sets public policy (GUIDELINES.md)
    return c


def _combine(rules: RuleResult, pred: Prediction | None, band: tuple[float, float],
             disagreement: tuple[float, float] | None, normative: bool, open_rule: bool = False) -> Combined:
    lo, hi = band
    major_below, exclusion_above = disagreement or DEFAULT_DISAGREEMENT
    if rules.strength == "hold":
        # The model learned the corpus's reading for this profile; the choice is the local rule's.
        p = pred.probability if pred is not None else RULE_PRIOR[("review", "hold")]
        hit = rules.exclusion
        return Combined("review", p, _evenness(0.5), "local_rule",
                        (hit.detail.get("hold_why") if hit else None) or "是否属于重大行政决策取决于本地规定, 请按本地目录规定判断")
    strong_major = rules.verdict == "major" and rules.strength == "strong" and not open_rule
    if pred is None:
        if open_rule and rules.verdict == "major":
            return Combined("review", 0.5, _evenness(0.5), "possible_rule",
                            "标题可能是规章草案, 也可能是规范性文件; 无学习模型: 请核实是否列入立法计划、以政府令发布")
        if normative and not strong_major:
            return Combined("review", 0.5, _evenness(0.5), "normative_document",
                            "发文机关无规章制定权, 是规范性文件; 是否重大取决于影响面, 无学习模型, 请人工判断")
        p = RULE_PRIOR[(rules.verdict, rules.strength)]
        if rules.verdict == "review":
            return Combined("review", p, _evenness(p), "rules_only", "只命中兜底信号, 无学习模型, 请人工判断")
        return Combined(rules.verdict, p, round(abs(p - 0.5) * 2, 3), "rules_only")
    p = pred.probability
    if rules.verdict == "not_major" and rules.strength == "strong" and not normative:
        if p >= exclusion_above:
            q = (RULE_PRIOR[("not_major", "strong")] + p) / 2
            # Not major by an exclusion, or by a standard (or screening line) the figure is below.
            below = rules.below_standard[0].detail.get("standard") if rules.below_standard else None
            ex = rules.exclusion
            said = (f"排除事项 ({_short(EXCLUSION_ZH.get(ex.detail.get('type'), '排除'))}, {ex.rule_id})" if ex
                    else f"不属于重大 (数值低于标准或筛查线, {below})" if below else "不属于重大")
            return Combined("review", p, _evenness(q), "model_disagrees_with_exclusion",
                            f"规则与模型不一致: 规则认定为{said}, 模型判断为重大的概率 {p:.2f} ≥ {exclusion_above:.2f}")
        return Combined("not_major", min(p, 0.5), _agreeing(RULE_CONFIDENCE, (0.5 - p) * 2), "exclusion")
    if strong_major:
        if p <= major_below:
            q = (RULE_PRIOR[("major", "strong")] + p) / 2
            # The hit that made the answer major (a strong listing, else a published figure), named
            # for a reader (the listed head, or a figure) with the id to look the rule up by.
            hit = ([h for h in rules.enumerations if h.detail.get("strength") == "strong"]
                   or [h for h in rules.thresholds if not h.detail.get("project_default")]
                   or rules.enumerations or rules.thresholds)
            rid = (f"{_short(CATEGORY_ZH.get(hit[0].detail.get('category'), '数值标准'))}, {hit[0].rule_id}" if hit
                   else "列举")
            return Combined("review", p, _evenness(q), "model_disagrees_with_enumeration",
                            f"规则与模型不一致: 规则认定为重大 ({rid}), 模型判断为重大的概率仅 {p:.2f} ≤ {major_below:.2f}")
        return Combined("major", max(p, 0.5), _agreeing(RULE_CONFIDENCE, (p - 0.5) * 2), "enumeration_or_threshold")
    # Rules weak or silent: the model decides, with its review band; a settled normative
    # document is in scope, so the model may lift it to major but not dismiss it alone.
    known = pred.known_words
    too_little = known is not None and known < MIN_KNOWN_WORDS
    if rules.strength == "none" and not normative and not open_rule and too_little:
        return Combined("review", p, _evenness(0.5), "too_little_text",
                        f"没有命中任何规则, 且文本中只有 {known} 个词是学习模型认识的, 模型概率 {p:.2f} 接近其基础比例, "
                        "不能作为判断依据; 请补充事项的完整名称、主要内容、投资金额或影响范围后再筛查")
    if p >= hi and not open_rule:
        verdict = "major"
    elif p < lo and not normative:
        verdict = "not_major"
    else:
        verdict = "review"
    if verdict != "review":
        # How likely the verdict is right by the calibrated P(major). A major verdict may stand on a
        # low P (the band sits low because a missed major costs more than a false alarm); its
        # confidence then says so instead of reading as certain.
        return Combined(verdict, p, round(p if verdict == "major" else 1 - p, 3),
                        "possible_rule" if open_rule else "model", major_at=hi)
    if normative and p < lo:
        return Combined("review", p, _evenness((0.5 + p) / 2), "normative_document",
                        f"发文机关无规章制定权, 是规范性文件 (属于决策范围); 模型判断为重大的概率 {p:.2f}, "
                        "是否重大取决于影响面, 请人工判断")
    if open_rule:
        where = (f"落在复核区间 [{lo:.2f}, {hi:.2f}) 内" if p < hi
                 else f"达到重大阈值 {hi:.2f}, 但模型不能区分规章草案与规范性文件")
        return Combined("review", p, _evenness(p), "possible_rule",
                        f"标题可能是规章草案, 也可能是规范性文件; 模型判断为重大的概率 {p:.2f} {where}: "
                        "请核实是否列入立法计划、以政府令发布 (规章不适用本程序), 以规范性文件印发的属于决策范围")
    return Combined("review", p, _evenness(p), "model",
                    f"模型判断为重大的概率 {p:.2f} 落在复核区间 [{lo:.2f}, {hi:.2f}) 内, 规则{'只命中兜底信号' if rules.enumerations else '没有明确结论'}")
