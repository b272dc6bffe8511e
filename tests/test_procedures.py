"""Procedures: each branch of the procedure rules, their basis, and dated deadlines."""
import datetime as dt

import pytest

from model.contract import PROCEDURE_NAMES
from model.screener import Screener
from model.workdays import add_workdays, catalogue_calendar, is_workday


@pytest.fixture(scope="module")
def s():
    return Screener(model=None)


def procs(answer):
    return {p.name: p for p in answer.procedures}


def test_every_fixed_name_is_answered_once_in_order(s):
    a = s.screen({"title": "关于调整城区居民生活用水价格的实施方案"})
    assert [p.name for p in a.procedures] == list(PROCEDURE_NAMES)
    assert all(p.basis for p in a.procedures)


def test_always_required_steps_for_every_major_matter(s):
    p = procs(s.screen({"title": "县城乡供水专项规划(2025-2035年)"}))
    for name in ("公众参与", "合法性审查", "集体讨论决定", "党委请示报告", "决策公布", "档案归档"):
        assert p[name].required, name


def test_not_major_requires_nothing_and_says_why(s):
    a = s.screen({"title": "关于召开全市安全生产工作会议的通知"})
    assert a.verdict == "not_major"
    assert not any(p.required for p in a.procedures)
    assert all("不属于重大行政决策" in p.why for p in a.procedures)


def test_public_utility_price_needs_a_hearing_with_the_price_law_basis(s):
    p = procs(s.screen({"title": "关于调整城区管道燃气销售价格的方案"}))
    assert p["听证"].required and "价格法" in p["听证"].basis
    p2 = procs(s.screen({"title": "县城乡供水专项规划(2025-2035年)"}))
    assert not p2["听证"].required


def test_market_entities_trigger_fair_competition_review(s):
    p = procs(s.screen({"title": "关于支持中小企业发展的若干措施"}))
    assert p["公平竞争审查"].required and "公平竞争审查条例" in p["公平竞争审查"].basis
    p2 = procs(s.screen({"title": "关于完善社区居家养老服务的实施意见"}))
    assert not p2["公平竞争审查"].required


def test_stability_risk_triggers_risk_assessment_and_zhejiang_files_it_with_the_zhengfawei(s):
    title = "城中村改造房屋征收补偿安置方案"
    nat = procs(s.screen({"title": title}))
    zj = procs(s.screen({"title": title, "profile": "zhejiang"}))
    assert nat["风险评估"].required and "政法委" not in nat["风险评估"].why
    assert zj["风险评估"].required and "政法委" in zj["风险评估"].why
    calm = procs(s.screen({"title": "关于完善社区居家养老服务的实施意见"}))
    assert not calm["风险评估"].required


def test_technical_matters_need_expert_argumentation(s):
    assert procs(s.screen({"title": "市轨道交通二期工程建设"}))["专家论证"].required


def test_peoples_congress_for_development_plans_and_budgets_only(s):
    assert procs(s.screen({"title": "市国民经济和社会发展第十五个五年规划纲要"}))["人大报告"].required
    assert not procs(s.screen({"title": "市区电动自行车停放管理办法"}))["人大报告"].required
    assert procs(s.screen({"title": "2026年市级财政预算草案", "profile": "jiangsu_city"}))["人大报告"].required


def test_confidential_matters_skip_public_participation_and_publication(s):
    p = procs(s.screen({"title": "涉密的市级重点项目建设计划"}))
    assert not p["公众参与"].required and not p["决策公布"].required
    assert p["合法性审查"].required


def test_post_evaluation_is_never_required_because_the_regulation_says_may(s):
    trial = procs(s.screen({"title": "市区长期护理保险制度试点方案"}))["决策后评估"]
    assert not trial.required and trial.status == "recommended" and "可以" in trial.basis
    other = procs(s.screen({"title": "关于调整城区管道燃气销售价格的方案"}))["决策后评估"]
    assert not other.required and other.status == "conditional" and "可以" in other.why


def test_review_band_states_procedures_conditionally(s):
    a = s.screen({"title": "市突发公共事件总体应急预案(修订)"})
    assert a.verdict == "review"
    assert procs(a)["合法性审查"].why.startswith("如确认为重大行政决策")


def test_deadlines_count_back_from_the_planned_date(s):
    planned = dt.date(2026, 12, 18)  # a Friday
    p = procs(s.screen({"title": "关于调整城区管道燃气销售价格的方案", "planned_date": planned.isoformat()}))
    legality = p["合法性审查"].deadline.latest_start
    assert legality == add_workdays(planned, -7)[0]
    comment = p["公众参与"].deadline
    assert (comment.latest_finish - comment.latest_start).days + 1 >= 30
    assert comment.latest_finish < legality
    assert p["听证"].deadline.latest_finish < legality
    assert p["风险评估"].deadline.latest_finish < legality
    assert p["集体讨论决定"].deadline.latest_finish == planned
    pub = p["决策公布"].deadline
    assert pub.earliest == planned and pub.latest_finish == add_workdays(planned, 20)[0]
    assert p["专家论证"].deadline is None  # not required here, so not scheduled


def test_zhejiang_fair_competition_review_sits_in_the_legality_review_stage(s):
    p = procs(s.screen({"title": "关于支持中小企业发展的若干措施", "profile": "zhejiang",
                        "planned_date": "2026-12-18"}))
    fc = p["公平竞争审查"]
    assert "合法性审查" in fc.deadline.rule and "任务18" in fc.basis
    # not before public comment: it finishes when comment does, before legality review starts
    assert fc.deadline.latest_finish == p["公众参与"].deadline.latest_finish
    assert fc.deadline.latest_finish < p["合法性审查"].deadline.latest_start


def test_zhejiang_third_party_evaluation_is_chosen_not_required(s):
    for title in ("市区长期护理保险制度试点方案", "县城乡供水专项规划(2025-2035年)", "关于支持中小企业发展的若干措施"):
        pe = procs(s.screen({"title": title, "profile": "zhejiang"}))["决策后评估"]
        assert not pe.required and pe.status in ("recommended", "conditional"), title
        assert "1-3" in pe.basis


def test_national_day_is_not_a_working_day():
    assert is_workday(dt.date(2025, 10, 1)) == (False, True)
    # 2025-09-28 was a Sunday worked in exchange for the National Day holiday
    assert is_workday(dt.date(2025, 9, 28)) == (True, True)
    # seven working days before 2025-10-10: 10-09, then the 10-01..08 holiday is skipped,
    # 09-30, 09-29, the worked Sunday 09-28, then 09-26, 09-25, 09-24
    assert add_workdays(dt.date(2025, 10, 10), -7)[0] == dt.date(2025, 9, 24)


def test_years_outside_the_holiday_library_are_estimated_and_say_so(s, tmp_path, monkeypatch):
    monkeypatch.setenv("DECISION_SCREEN_HOLIDAYS", str(tmp_path))  # no operator file
    a = s.screen({"title": "关于调整城区管道燃气销售价格的方案", "planned_date": "2031-06-18"})
    assert any("estimated" in w for w in a.warnings)
    assert all(p.deadline.estimated for p in a.procedures if p.deadline)
    b = s.screen({"title": "关于调整城区管道燃气销售价格的方案", "planned_date": "2026-06-18"})
    assert not any(p.deadline.estimated for p in b.procedures if p.deadline)


def test_planned_date_on_a_weekend_is_flagged(s):
    a = s.screen({"title": "关于调整城区管道燃气销售价格的方案", "planned_date": "2026-12-20"})
    assert any("not a working day" in w for w in a.warnings)


def _catalogue(profile, year, published=None):
    from model.rulebook import RulebookSet

    st = RulebookSet().get(profile).settings
    return catalogue_calendar(year, published, st.catalogue_publish_by, st.catalogue_filing_working_days,
                              st.catalogue_collect_quarter, st.catalogue_basis)


def test_catalogue_dates_come_from_the_zhejiang_profile():
    c = _catalogue("zhejiang", 2026)
    assert c["collect_from"] == "2025-10-01" and c["collect_to"] == "2025-12-31"
    assert c["publish_by"] == "2026-03-31"
    assert c["file_by"] == add_workdays(dt.date(2026, 3, 31), 15)[0].isoformat()
    assert "衢州" in c["source"]
    late = _catalogue("zhejiang", 2026, dt.date(2026, 4, 10))
    assert late["published_late"] is True


def test_national_profile_fixes_no_catalogue_dates():
    c = _catalogue("national", 2026)
    assert "publish_by" not in c and "file_by" not in c and "collect_from" not in c
    assert "未规定" in c["source"]


# --- statute-true procedures ----------------------------------------------------------------

def test_hearing_only_where_the_price_law_or_the_regulation_calls_for_it(s):
    gas = procs(s.screen({"title": "关于调整城区管道燃气销售价格的方案"}))["听证"]
    assert gas.required and gas.status == "required" and "价格法" in gas.basis and "定价听证目录" in gas.why
    wage = s.screen({"title": "关于调整全省最低工资标准的通知", "level": "province"})
    assert wage.verdict == "major" and not procs(wage)["听证"].required
    land = s.screen({"title": "城区基准地价更新成果公布", "level": "city"})
    assert land.verdict == "major" and not procs(land)["听证"].required
    linked = procs(s.screen({"title": "启动天然气上下游价格联动调整"}))["听证"]
    assert linked.status == "not_required" and "不再" in linked.why
    mechanism = procs(s.screen({"title": "建立城市供水价格动态调整机制"}))["听证"]
    assert mechanism.status == "conditional" and not mechanism.required and "公开征求意见" in mechanism.why
    split = procs(s.screen({"title": "城区停车收费管理办法, 各方意见分歧较大"}))["听证"]
    assert split.status in ("recommended", "required")


def test_a_profiles_price_hearing_catalogue_decides(tmp_path):
    import shutil

    from model.rulebook import RULEBOOK_DIR, RulebookSet

    d = tmp_path / "rb"
    shutil.copytree(RULEBOOK_DIR, d)
    p = d / "xiamen.yaml"
    p.write_text(p.read_text(encoding="utf-8").replace(
        "settings:\n", "settings:\n  price_hearing_catalogue: ['管道燃气']\n"
                      "  price_hearing_catalogue_source: 测试用定价听证目录\n", 1), encoding="utf-8")
    scr = Screener(rulebooks=RulebookSet(d), model=None)
    listed = procs(scr.screen({"title": "关于调整城区管道燃气销售价格的方案", "profile": "xiamen"}))["听证"]
    assert listed.required and "测试用定价听证目录" in listed.why
    unlisted = procs(scr.screen({"title": "关于调整城区居民生活用水价格的方案", "profile": "xiamen"}))["听证"]
    assert not unlisted.required and "未列入" in unlisted.why


def test_peoples_congress_steps_come_after_the_governments_decision(s):
    planned = "2026-12-18"
    plan = procs(s.screen({"title": "市国民经济和社会发展第十五个五年规划纲要", "planned_date": planned}))["人大报告"]
    assert plan.required and plan.deadline.earliest >= dt.date(2026, 12, 18)
    assert plan.deadline.latest_finish is None and "通过" in plan.why
    budget = procs(s.screen({"title": "2026年市级财政预算草案", "profile": "jiangsu_city", "planned_date": planned}))
    assert budget["人大报告"].required and budget["人大报告"].deadline.earliest >= dt.date(2026, 12, 18)
    master = procs(s.screen({"title": "县国土空间总体规划(2021-2035年)"}))["人大报告"]
    assert master.required and "城乡规划法" in master.basis


def test_budget_route_not_major_with_peoples_congress_and_publication_required(s):
    a = s.screen({"title": "2026年县级预算调整方案", "planned_date": "2026-12-18"})
    assert a.verdict == "not_major"
    p = procs(a)
    assert p["人大报告"].required and p["决策公布"].required and "预算法" in p["人大报告"].basis
    assert not p["合法性审查"].required and not p["听证"].required
    assert p["人大报告"].deadline.earliest >= dt.date(2026, 12, 18)


def test_collective_body_is_named_for_the_deciding_level(s):
    def body(level):
        return procs(s.screen({"title": "县城乡供水专项规划(2025-2035年)", "level": level}))["集体讨论决定"].why

    assert "常务会议" in body("county")
    assert "党政联席会议" in body("town") and "常务会议或者全体会议" not in body("town")
    assert "局(委)务会议" in body("department") and "常务会议或者全体会议" not in body("department")


def test_zhejiang_livelihood_items_are_decided_by_the_deputies_vote(s):
    p = procs(s.screen({"title": "2026年县级民生实事项目", "profile": "zhejiang"}))
    assert p["人大报告"].required and "票决" in p["人大报告"].why
    assert "候选项目" in p["集体讨论决定"].why
    nat = procs(s.screen({"title": "2026年县级民生实事项目"}))
    assert not nat["人大报告"].required


def test_steps_decided_once_per_category_and_attributes_do_not_read_the_text():
    """model.procedures remembers a step's answer per (category, attributes) when none of its
    conditions reads the text: such a step must answer the same whatever the text says."""
    from model.procedures import _decide
    from model.rulebook import default_rulebooks
    from model.vocab import ATTRIBUTES

    rb = default_rulebooks()
    texts = ["关于调整城区居民生活用水价格的实施方案", "涉密事项的决定", "国土空间总体规划(2021-2035年)", "征收土地补偿安置方案"]
    checked = 0
    for name in rb.names():
        prof = rb.get(name)
        for rule in prof.procedures:
            if not rule._text_free:
                continue
            for category in (None, "price", "plan", "construction"):
                for attrs in (frozenset(), frozenset(ATTRIBUTES), frozenset({"stability_risk"})):
                    answers = {_decide(rule, t, category, attrs, prof, frozenset(t)) for t in texts}
                    assert len(answers) == 1, (name, rule.id)
                    checked += 1
    assert checked > 50


def test_a_batch_counts_a_shared_planned_date_once_and_answers_as_one_by_one(s):
    rows = [{"title": t, "planned_date": "2027-04-15", "profile": p}
            for t in ("某市国土空间总体规划", "某县居民生活用水价格调整方案", "关于召开全县安全生产工作会议的通知")
            for p in ("national", "zhejiang")]
    batch = [a.model_dump_json() for a in s.screen_many(rows)]
    single = [s.screen(r).model_dump_json() for r in rows]
    assert batch == single


def test_a_note_goes_inside_the_sentence_it_qualifies():
    from model.procedures import _with

    assert _with("应当组织专家论证。", " (依据属性: 专业性、技术性较强)") == "应当组织专家论证 (依据属性: 专业性、技术性较强)。"
    assert _with("按目录办理", "; 另见本省目录") == "按目录办理; 另见本省目录"
    assert _with("", " (文中“x”)") == " (文中“x”)"
