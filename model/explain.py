"""Explanation: turn the rules' hits, the model's terms and the numbers into reasons.

Each reason is a dictionary of the contract's `Reason` fields: the `Answer` validates them with
everything else in one go, which costs less than building each model on its own."""
from __future__ import annotations

from .combine import Combined
from .learned import Prediction
from .rules import RuleResult
from .vocab import CATEGORY_ZH, EXCLUSION_ZH, LEVEL_ZH, MEASURE_ZH


def reasons_for(rules: RuleResult, combined: Combined, pred: Prediction | None) -> list[dict]:
    out: list[dict] = []
    if rules.exclusion and combined.exclusion_fell:
        h = rules.exclusion
        out.append({"kind": "exclusion_overridden", "rule_id": h.rule_id, "evidence": h.evidence,
                    "span": list(h.span or []) or None, "basis": h.basis, "source": h.source,
                    "text": f"“{h.evidence}”看似政府立法, 但制定机关没有规章制定权, 不适用这一排除"})
    elif rules.exclusion:
        h = rules.exclusion
        out.append({"kind": "exclusion", "rule_id": h.rule_id, "evidence": h.evidence, "span": list(h.span or []) or None,
                    "basis": h.basis, "source": h.source, "text": (f"取决于本地规定: {h.why}" if h.detail.get("hold") else f"排除: {h.why}")})
    for h in rules.overridden:
        text = (f"说明中的“{h.evidence}”看似{EXCLUSION_ZH.get(h.detail['type'], '排除事项')}, 但标题所列事项属于列举, "
                "它只是该事项的一部分, 不据此排除" if h.detail.get("description_only")
                else f"“{h.evidence.rstrip('。')}”看似{EXCLUSION_ZH.get(h.detail['type'], '排除事项')}, "
                     "但列举规则覆盖了这一排除, 不据此排除")
        out.append({"kind": "exclusion_overridden", "rule_id": h.rule_id, "evidence": h.evidence,
                    "span": list(h.span or []) or None, "basis": h.basis, "source": h.source, "text": text})
    # A listing the exclusion above has set aside is still reported (a reader sees both sides), but
    # not as if it were a reason for the answer.
    set_aside = (rules.exclusion is not None and not combined.exclusion_fell
                 and not rules.exclusion.detail.get("hold") and combined.verdict == "not_major")
    for h in rules.enumerations:
        strength = "列举" if h.detail["strength"] == "strong" else "兜底信号 (需人工判断)"
        if set_aside:
            strength = f"命中{strength.split(' ')[0]}, 但因上列排除而不适用"
        out.append({"kind": "enumeration", "rule_id": h.rule_id, "evidence": h.evidence, "span": list(h.span or []) or None,
                    "basis": h.basis, "source": h.source,
                    "text": f"{strength}: {CATEGORY_ZH[h.detail['category']]} — {h.why}"})
    for h in rules.thresholds:
        d = h.detail
        default = d.get("project_default")
        line = f"{LEVEL_ZH[d['level']]}{'筛查线' if default else '标准'} {d['min']:g}"
        note = " — 项目默认值, 不是公布的标准, 仅提示人工复核" if default else ""
        head = "数值 (因上列排除而不适用)" if set_aside else "数值"
        out.append({"kind": "threshold", "rule_id": h.rule_id, "evidence": h.evidence, "basis": h.basis, "source": h.source,
                    "text": f"{head}: {MEASURE_ZH[d['measure']]} {d['value']:g} ≥ {line}{note} ({h.why})"})
    # One standard setting aside (or holding) several hits is one reason, naming every hit.
    for hits in _by_standard(getattr(rules, "below_standard", [])):
        h, d = hits[0], hits[0].detail
        spans = list(dict.fromkeys(x.evidence for x in hits))
        kept = [e for e in spans if not any(e != o and e in o for o in spans)]  # drop one inside another
        quoted = "、".join(f"“{e}”" for e in kept)
        ids = ", ".join(dict.fromkeys(x.rule_id for x in hits))
        if d.get("screening_line"):
            # The project's own screening line, not a published standard: say which it is.
            text = (f"按{LEVEL_ZH.get(d.get('line_level', ''), '本级')}筛查线 (项目默认值, 不是公布的标准): "
                    f"{MEASURE_ZH[d['measure']]} {d['value']:g} 低于 {d['min']:g}, {quoted}只是一般建设工程信号, "
                    f"按条例第3条第1款第4项不属于“重大”公共建设项目 ({ids})")
        else:
            text = (f"本地标准优先: {MEASURE_ZH[d['measure']]} {d['value']:g} 低于 "
                    f"{d['min']:g}, {quoted}按该标准不属于重大 ({ids})")
        out.append({"kind": "below_standard", "rule_id": d["standard"], "evidence": kept[0], "basis": d["standard_basis"],
                    "source": h.source, "text": text})
    for hits in _by_standard(getattr(rules, "pending_standard", [])):
        h, d = hits[0], hits[0].detail
        ids = ", ".join(dict.fromkeys(x.rule_id for x in hits))
        out.append({"kind": "standard_pending", "rule_id": d["standard"], "evidence": h.evidence, "basis": d["standard_basis"],
                    "source": h.source, "text": f"本地标准以{MEASURE_ZH[d['measure']]} {d['min']:g} 为线, 文中未见该数值, "
                                                f"请补充后判断 ({ids})"})
    if not rules.enumerations and not rules.exclusion and not rules.thresholds \
            and not getattr(rules, "below_standard", []):
        out.append({"kind": "no_rule", "text": "没有命中任何列举、排除或数值规则"})
    if pred is None:
        out.append({"kind": "model", "text": "未使用学习模型: 仅依据规则作出判断 / no learned model was used"})
    else:
        terms = ", ".join(f"{t}" for t, _ in pred.terms[:6]) or "无"
        out.append({"kind": "model", "text": f"学习模型判断为重大的概率 {pred.probability:.2f}; 影响最大的词语: {terms}"})
    if combined.note == "model" and combined.verdict == "major" and combined.major_at is not None \
            and combined.probability < 0.5:
        # A major answer on a low P reads as a contradiction unless it says why the line sits low.
        out.append({"kind": "model", "text": f"没有规则作出结论, 由学习模型决定: 概率 {combined.probability:.2f} 达到重大阈值 "
                                              f"{combined.major_at:.2f}。阈值为少漏报重大决策而定得较低 (选法见模型卡), "
                                              "所以这是“列入目录前须核实”的提示, 不是确定结论: 请核对事项的投资规模、影响范围和"
                                              "本地目录标准"})
    if combined.issuance is not None:
        # Which facts decide 规章 versus 规范性文件, and whether the level settled it.
        out.append({"kind": "issuance", "text": combined.issuance.text})
    if combined.note == "possible_rule" and combined.verdict != "review":
        # Only a not-major answer gets here (combine never calls such a title major): the model
        # cleared it; say what would change that beside any listing read from the title's form.
        out.append({"kind": "issuance", "text": f"上列列举只凭标题的文件形式, 不能单独定性; 学习模型判断为重大的概率仅 "
                                                f"{combined.probability:.2f}; 如拟以规范性文件印发且影响面大, 则属于决策范围, 应改判"})
    if combined.verdict == "review":
        kind = ("disagreement" if combined.note.startswith("model_disagrees")
                else "too_little_text" if combined.note == "too_little_text" else "review_band")
        why = (combined.why_review or "证据不足以自动判断").rstrip("。")
        out.append({"kind": kind, "text": f"{why}; 列入人工复核 (复核置信度 {combined.confidence:.2f})"})
    return out


def _by_standard(hits: list) -> list[list]:
    """Hits grouped by the standard that set them aside, in first-seen order."""
    groups: dict[str, list] = {}
    for h in hits:
        groups.setdefault(h.detail["standard"], []).append(h)
    return list(groups.values())
