"""Procedures: which statutory steps a matter needs, why, on what basis, and by when.

Which steps apply is data (the `procedures` of the profile's rulebook); this module only
evaluates those entries against the verdict, category and attributes, then schedules the
required ones backwards from the planned decision date."""
from __future__ import annotations

import datetime as dt

from .contract import PROCEDURE_NAMES, Deadline, Procedure
from .rulebook import ProcedureRule, ResolvedProfile
from .workdays import add_months, add_workdays, previous_workday


def _required(rule: ProcedureRule, text: str, category: str | None, attributes: set[str]) -> tuple[bool, str]:
    if any(rx.search(text) for rx in rule._unless):
        return False, rule.why_not
    if rule.always:
        return True, rule.why
    if set(rule.attributes) & attributes:
        hit = sorted(set(rule.attributes) & attributes)
        return True, f"{rule.why} (依据属性: {', '.join(hit)})"
    if category and category in rule.categories:
        return True, f"{rule.why} (依据类别: {category})"
    for rx in rule._re:
        m = rx.search(text)
        if m:
            return True, f"{rule.why} (文中“{m.group(0)}”)"
    return False, rule.why_not


def _schedule(planned: dt.date, profile: ResolvedProfile) -> tuple[dict[str, Deadline], list[str]]:
    s = profile.settings
    warnings: list[str] = []
    legality_start, known = add_workdays(planned, -s.legality_review_working_days)
    day_before_legality = legality_start - dt.timedelta(days=1)
    comment_start = day_before_legality - dt.timedelta(days=s.comment_period_days - 1)
    first_finish = comment_start - dt.timedelta(days=1)
    publication_by, k2 = add_workdays(planned, s.publication_working_days)
    before_decision, k3 = previous_workday(planned)
    from .workdays import is_workday

    if not is_workday(planned)[0]:
        warnings.append(f"计划决策日期 {planned.isoformat()} 不是工作日 / the planned date is not a working day")
    if not (known and k2 and k3):
        warnings.append("计划日期超出法定节假日日历的年份, 工作日按周一至周五估算 / "
                        "holiday calendar unknown for that year: working days estimated as Mon-Fri")
    d = {
        "decision": Deadline(latest_finish=planned, rule="常务会议或全体会议在计划日期讨论决定"),
        "legality": Deadline(latest_start=legality_start, latest_finish=before_decision,
                             rule=f"合法性审查不少于{s.legality_review_working_days}个工作日, 最迟于该日送审"),
        "comment_period": Deadline(latest_start=comment_start, latest_finish=day_before_legality,
                                   rule=f"征求意见期一般不少于{s.comment_period_days}日, 须在送合法性审查前结束"),
        "hearing": Deadline(latest_start=day_before_legality - dt.timedelta(days=s.hearing_notice_days),
                            latest_finish=day_before_legality,
                            rule=f"听证公告至少提前{s.hearing_notice_days}日, 听证须在送合法性审查前完成"),
        "before_legality": Deadline(latest_finish=day_before_legality, rule="须在送合法性审查前完成, 材料随送审"),
        "first": Deadline(latest_finish=first_finish, rule="先行审查: 须在公开征求意见前完成"),
        "before_decision": Deadline(latest_finish=before_decision, rule="须在集体讨论决定前完成"),
        "after_decision": Deadline(earliest=planned, latest_finish=publication_by,
                                   rule="集体讨论后、决策出台(公布)前向同级党委请示报告"),
        "publication": Deadline(earliest=planned, latest_finish=publication_by,
                                rule=f"作出决定后{s.publication_working_days}个工作日内公开"),
        "archive": Deadline(earliest=planned, rule="决策全过程材料随办随归, 决定后及时归档"),
        "post_evaluation": Deadline(earliest=add_months(planned, s.post_evaluation_months),
                                    rule=f"实施满{s.post_evaluation_months}个月后组织评估"),
    }
    return d, warnings


def procedures_for(verdict: str, text: str, category: str | None, attributes: set[str],
                   profile: ResolvedProfile, planned: dt.date | None) -> tuple[list[Procedure], list[str]]:
    """Every fixed procedure name once, in DESIGN.md's order. For a matter that is not major,
    nothing is required and each entry says so, so callers can switch on names alike."""
    by_name = {r.name: r for r in profile.procedures}
    schedule, warnings = _schedule(planned, profile) if planned else ({}, [])
    out: list[Procedure] = []
    for name in PROCEDURE_NAMES:
        rule = by_name.get(name)
        if rule is None:
            continue
        if verdict == "not_major":
            out.append(Procedure(name=name, required=False, basis=rule.basis,
                                 why="不属于重大行政决策, 不适用重大行政决策程序 (按其本身的程序办理)"))
            continue
        required, why = _required(rule, text, category, attributes)
        if verdict == "review" and required:
            why = f"如确认为重大行政决策: {why}"
        deadline = schedule.get(rule.timing) if (required and rule.timing) else None
        if name == "风险评估" and required and profile.settings.risk_report_filed_with_zhengfawei:
            why += "; 评估报告报同级党委政法委备案"
        out.append(Procedure(name=name, required=required, basis=rule.basis, why=why, deadline=deadline))
    return out, warnings
