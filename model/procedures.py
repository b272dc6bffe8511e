"""Procedures: which statutory steps a matter needs, why, on what basis, and by when.

Which steps apply is data (the `procedures` of the profile's rulebook); this module only
evaluates those entries against the verdict, category and attributes, then schedules the
steps backwards from the planned decision date (forwards for what follows the decision).

A step is `required` (the law says 应当), `recommended` (the law says 可以 and the facts
point to it), `conditional` (the law says 可以 only if something happens later) or
`not_required`. Only `required` sets the contract's boolean `required`."""
from __future__ import annotations

import datetime as dt

from .contract import Deadline, Procedure
from .rulebook import Exclusion, ProcedureRule, ResolvedProfile
from .vocab import ATTRIBUTE_ZH, CATEGORY_ZH
from .workdays import (
    add_months,
    add_workdays,
    calendar_notes,
    is_workday,
    on_or_after_workday,
    on_or_before_workday,
    previous_workday,
)

NPC_STEP = "人大报告"
ESTIMATED_WARNING = ("期限所用的节假日为推算 (estimated), 官方放假安排公布后以其为准 / "
                     "deadlines use an estimated holiday calendar")


def _with(why: str, note: str) -> str:
    """`note` inside the sentence it qualifies, before its closing 。 ("…论证。 (依据…)" read as a
    stray aside after the full stop)."""
    return f"{why[:-1]}{note}。" if why.endswith("。") else f"{why}{note}"


def _evaluate(rule: ProcedureRule, text: str, category: str | None, attributes: frozenset[str],
              profile: ResolvedProfile, chars: frozenset[str] | None = None) -> tuple[str, str, str]:
    """(status, why, basis) of one step for a matter in scope; `chars`: the text's characters.
    A step that does not read the text is decided once per (category, attributes)."""
    if rule._text_free:
        key = (category, attributes)
        decided = rule._decided.get(key)
        if decided is None:
            decided = rule._decided[key] = _decide(rule, text, category, attributes, profile, chars)
        return decided
    return _decide(rule, text, category, attributes, profile, chars)


def _decide(rule: ProcedureRule, text: str, category: str | None, attributes: frozenset[str],
            profile: ResolvedProfile, chars: frozenset[str] | None) -> tuple[str, str, str]:
    if rule._unless.any(text, chars):  # one joined search, not one per pattern
        return "not_required", rule.why_not, rule.basis
    for case in rule.cases:
        m = case.matches(text, category, attributes, chars)
        if not m:
            continue
        why = _with(case.why, f" (文中“{m.group(0)}”)") if m is not True else case.why
        if case.price_catalogue:
            return _price_catalogue(case, text, why, profile)
        return case.status, why, case.basis
    if rule.always:
        return "required", rule.why, rule.basis
    if set(rule.attributes) & attributes:
        hit = sorted(set(rule.attributes) & attributes)
        # Labels, not codes: the OA plugin shows this sentence as it is.
        return "required", _with(rule.why, f" (依据属性: {'; '.join(ATTRIBUTE_ZH.get(a, a) for a in hit)})"), rule.basis
    if category and category in rule.categories:
        return "required", _with(rule.why, f" (依据类别: {CATEGORY_ZH.get(category, category)})"), rule.basis
    m = rule._re.first(text, chars)
    if m:
        return "required", _with(rule.why, f" (文中“{m.group(0)}”)"), rule.basis
    return rule.otherwise, rule.why_not, rule.basis


def _price_catalogue(case, text: str, why: str, profile: ResolvedProfile) -> tuple[str, str, str]:
    """A government price hearing is due for items of the province's 定价听证目录 (听证办法第3条)."""
    import re

    s = profile.settings
    if not s.price_hearing_catalogue:
        return case.status, _with(why, "; 是否听证以本省定价听证目录为准 (本标准未载入该目录)"), case.basis
    src = s.price_hearing_catalogue_source or "本省定价听证目录"
    for item in s.price_hearing_catalogue:
        m = re.search(item, text)
        if m:
            return case.status, _with(why, f"; “{m.group(0)}”列入{src}"), case.basis
    return ("not_required", f"事项未列入{src}, 政府制定价格不强制听证 (可公开征求意见); 如目录调整以新目录为准",
            case.basis)


def _schedule(planned: dt.date, profile: ResolvedProfile, level: str | None) -> tuple[dict[str, Deadline], list[str]]:
    """Each timing's deadline (the contract's `Deadline`), and the warnings."""
    s = profile.settings
    warnings: list[str] = []
    legality_start, k1 = add_workdays(planned, -s.legality_review_working_days)
    # Calendar-day steps end the working day before legality review starts, never on a day off.
    day_before_legality, k2 = previous_workday(legality_start)
    comment_start, k3 = on_or_before_workday(day_before_legality - dt.timedelta(days=s.comment_period_days - 1))
    hearing_notice, k4 = on_or_before_workday(day_before_legality - dt.timedelta(days=s.hearing_notice_days))
    publication_by, k5 = add_workdays(planned, s.publication_working_days)
    before_decision, k6 = add_workdays(planned, -1)
    after, k7 = on_or_after_workday(planned)
    post_eval, k8 = on_or_after_workday(add_months(planned, s.post_evaluation_months))
    # The evaluation date lies a year on, often in a year not yet published: flagged on its own.
    estimated = not all((k1, k2, k3, k4, k5, k6, k7))

    if not is_workday(planned)[0]:
        warnings.append(f"计划决策日期 {planned.isoformat()} 不是工作日 / the planned date is not a working day")
    if estimated:
        warnings.extend(calendar_notes([comment_start, hearing_notice, planned, publication_by]))
        warnings.append(ESTIMATED_WARNING)
    body = _collective_body(profile, level)

    def dl(**kw) -> dict:
        return {"estimated": estimated, **kw}

    d = {
        "decision": dl(latest_finish=planned, rule=f"{body}在计划日期讨论决定"),
        "legality": dl(latest_start=legality_start, latest_finish=before_decision,
                       rule=f"合法性审查不少于{s.legality_review_working_days}个工作日, 最迟于该日送审"),
        "comment_period": dl(latest_start=comment_start, latest_finish=day_before_legality,
                             rule=f"征求意见期一般不少于{s.comment_period_days}日, 须在送合法性审查前结束"),
        "hearing": dl(latest_start=hearing_notice, latest_finish=day_before_legality,
                      rule=f"听证公告至少提前{s.hearing_notice_days}日, 听证须在送合法性审查前完成"),
        "before_legality": dl(latest_finish=day_before_legality, rule="须在送合法性审查前完成, 材料随送审"),
        "legality_stage": dl(latest_finish=day_before_legality,
                             rule="在合法性审查环节先行完成, 审查意见随合法性审查材料报送"),
        "before_decision": dl(latest_finish=before_decision, rule="须在集体讨论决定前完成"),
        "after_decision": dl(earliest=after, latest_finish=publication_by,
                             rule="集体讨论后、决策出台(公布)前向同级党委请示报告"),
        "npc_after_decision": dl(earliest=after, rule="政府集体讨论通过草案后, 提请本级人大或其常委会审查批准(审议); "
                                                      "经批准后方可公布施行"),
        "publication": dl(earliest=after, latest_finish=publication_by,
                          rule=f"作出决定后{s.publication_working_days}个工作日内公开"),
        "archive": dl(earliest=after, rule="决策全过程材料随办随归, 决定后及时归档"),
        "post_evaluation": {"earliest": post_eval, "estimated": not k8,
                            "rule": f"实施满{s.post_evaluation_months}个月后可组织评估"},
    }
    return {k: Deadline(**v) for k, v in d.items()}, warnings


# Procedure entries already built, by (name, status, basis, why, deadline): most matters share
# them (a dozen steps, a handful of reasons each), and an `Answer` given model instances skips
# validating them again — about 90 µs a matter with plain fields against 12 µs with instances.
# A dated entry's key holds the id of its Deadline, which the entry itself keeps alive, so an id
# is never reused while its entry exists. Bounded: cleared when full.
_ENTRIES: dict[tuple, Procedure] = {}
_ENTRIES_MAX = 20_000


def _entry(name: str, status: str, basis: str, why: str, deadline: Deadline | None = None) -> Procedure:
    key = (name, status, basis, why, None if deadline is None else id(deadline))
    p = _ENTRIES.get(key)
    if p is None:
        if len(_ENTRIES) >= _ENTRIES_MAX:
            _ENTRIES.clear()
        p = _ENTRIES[key] = Procedure(name=name, required=status == "required", status=status, basis=basis,
                                      why=why, deadline=deadline)
    return p


def _collective_body(profile: ResolvedProfile, level: str | None) -> str:
    bodies = profile.settings.collective_body
    return bodies.get(level or "", "") or bodies.get("county", "") or "决策机关集体讨论会议"


def procedures_for(verdict: str, text: str, category: str | None, attributes: set[str],
                   profile: ResolvedProfile, planned: dt.date | None, level: str | None = None,
                   exclusion_id: str | None = None,
                   schedules: dict | None = None) -> tuple[list[Procedure], list[str]]:
    """Every fixed procedure name once, in the contract's order (model.vocab.PROCEDURE_NAMES). For a matter that is not major,
    nothing is required unless the exclusion that decided it has steps on its own statutory
    route (a budget still goes to the people's congress).

    The procedures come as the contract's `Procedure` instances, shared between matters with the
    same entry (they are frozen). `schedules`: a dictionary shared by the
    matters of one batch, so that those with the same planned date, profile and level count
    the working days once (the holiday calendar does not change within a batch)."""
    if planned is None:
        schedule, warnings = {}, []
    else:
        key = (planned, profile.profile, level)
        cached = schedules.get(key) if schedules is not None else None
        if cached is None:
            cached = _schedule(planned, profile, level)
            if schedules is not None:
                schedules[key] = cached
        schedule, warnings = cached[0], list(cached[1])
    route: Exclusion | None = None
    if verdict == "not_major" and exclusion_id:
        route = next((e for e in profile.exclusions if e.id == exclusion_id and e.route_steps), None)
    # A matter held for a local choice (a budget under a profile that does not settle it) has
    # its statutory route whatever the choice; the 条例's steps apply only if the local rule lists it.
    held = (next((e for e in profile.exclusions if e.id == exclusion_id and e.hold), None)
            if verdict == "review" and exclusion_id else None)
    chars = frozenset(text) if verdict != "not_major" else None  # model.patterns' filter
    attributes = frozenset(attributes)  # hashable: part of the key of the steps decided once
    out: list[Procedure] = []
    for rule in profile.procedures_in_order():
        name = rule.name
        if verdict == "not_major":
            if route is not None and name in route.route_steps:
                timing = "npc_after_decision" if name == NPC_STEP else "publication"
                out.append(_entry(name, "required", route.route_basis or route.basis, route.route_why or route.why,
                                  schedule.get(timing)))
                continue
            why = "不属于重大行政决策, 不适用重大行政决策程序 (按其本身的程序办理)"
            if route is not None:
                why = f"{why}; {route.route_why or ''}".rstrip("; ")
            out.append(_entry(name, "not_required", rule.basis, why))
            continue
        if held is not None and name in held.route_steps:
            timing = "npc_after_decision" if name == NPC_STEP else "publication"
            out.append(_entry(name, "required", held.route_basis or held.basis, held.route_why or held.why,
                              schedule.get(timing)))
            continue
        status, why, basis = _evaluate(rule, text, category, attributes, profile, chars)
        if name == "集体讨论决定" and status == "required":
            why = _with(why, f"; 由{_collective_body(profile, level)}讨论决定")
        if name == "风险评估" and status == "required" and profile.settings.risk_report_filed_with_zhengfawei:
            why = _with(why, "; 评估报告报同级党委政法委备案")
        if held is not None and status in ("required", "recommended"):
            status, why = "conditional", f"如本地规定将其列为重大行政决策: {why}"
        elif verdict == "review" and status in ("required", "recommended"):
            why = f"如确认为重大行政决策: {why}"
        deadline = schedule.get(rule.timing) if (status in ("required", "recommended") and rule.timing) else None
        if deadline is not None and deadline.estimated and ESTIMATED_WARNING not in warnings:
            warnings.extend(calendar_notes([deadline.earliest, deadline.latest_start, deadline.latest_finish]))
            warnings.append(ESTIMATED_WARNING)
        out.append(_entry(name, status, basis, why, deadline))
    return out, warnings
