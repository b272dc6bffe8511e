"""The holiday calendar: library years, years estimated from the holiday rule, and an
operator's official schedule dropped in as a data file."""
import datetime as dt

import chinese_calendar
import pytest

from model.screener import Screener
from model.workdays import add_workdays, is_workday, statutory_holidays, year_calendar


@pytest.fixture(autouse=True)
def _no_operator_files(tmp_path, monkeypatch):
    monkeypatch.setenv("DECISION_SCREEN_HOLIDAYS", str(tmp_path / "holidays"))
    return tmp_path / "holidays"


def test_2027_new_year_and_qingming_are_days_off_and_marked_estimated():
    assert year_calendar(2027).origin == "estimated"
    assert is_workday(dt.date(2027, 1, 1)) == (False, False)
    assert is_workday(dt.date(2027, 4, 5)) == (False, False)  # 清明 (solar term) 2027
    assert is_workday(dt.date(2027, 1, 4)) == (True, False)


def test_current_rule_gives_four_spring_festival_days_from_new_years_eve_and_two_labour_days():
    h = statutory_holidays(2027)
    # 除夕 2027 is 5 February (正月初一 6 February)
    assert h["春节"] == [dt.date(2027, 2, 5) + dt.timedelta(days=i) for i in range(4)]
    assert h["劳动节"] == [dt.date(2027, 5, 1), dt.date(2027, 5, 2)]
    assert h["端午节"] == [dt.date(2027, 6, 9)] and h["中秋节"] == [dt.date(2027, 9, 15)]
    assert len(h["国庆节"]) == 3
    assert sum(len(v) for v in h.values()) == 13


@pytest.mark.parametrize("year", [2025, 2026])
def test_estimate_never_calls_an_official_day_off_a_working_day(year):
    from model.workdays import _estimate

    est = _estimate(year)
    day = dt.date(year, 1, 1)
    while day.year == year:
        if not chinese_calendar.is_workday(day):
            assert not est.is_workday(day), day
        day += dt.timedelta(days=1)


def test_an_operator_file_replaces_the_estimate_without_a_release(_no_operator_files):
    d = _no_operator_files
    d.mkdir()
    assert year_calendar(2027).origin == "estimated"
    (d / "2027.yaml").write_text(
        "year: 2027\nsource: 国务院办公厅关于2027年部分节假日安排的通知 (示例数据)\n"
        "holidays: [2027-01-01, '2027-02-05..2027-02-12', 2027-06-09]\nworkdays: [2027-02-20]\n",
        encoding="utf-8")
    cal = year_calendar(2027)
    assert cal.origin == "official_file" and cal.known
    assert is_workday(dt.date(2027, 2, 20)) == (True, True)  # a Saturday worked in exchange
    assert is_workday(dt.date(2027, 2, 8)) == (False, True)
    assert is_workday(dt.date(2027, 4, 5)) == (True, True)  # the file decides, not the estimate


def test_a_broken_operator_file_falls_back_to_the_estimate_and_says_why(_no_operator_files):
    d = _no_operator_files
    d.mkdir()
    (d / "2027.yaml").write_text("holidays: [2027-13-01]\n", encoding="utf-8")
    cal = year_calendar(2027)
    assert cal.origin == "estimated" and "2027.yaml" in cal.note


@pytest.mark.parametrize("year", [2026, 2027])
def test_no_deadline_falls_on_a_non_working_day_over_a_whole_year(year):
    s = Screener(model=None)
    day = dt.date(year, 1, 1)
    title = "关于调整城区管道燃气销售价格的方案"  # comment, hearing, risk, legality, publication …
    while day.year == year:
        if is_workday(day)[0]:
            a = s.screen({"title": title, "planned_date": day.isoformat()})
            for p in a.procedures:
                if p.deadline is None:
                    continue
                for d in (p.deadline.latest_start, p.deadline.latest_finish, p.deadline.earliest):
                    if d is not None:
                        assert is_workday(d)[0], (day, p.name, d)
        day += dt.timedelta(days=1)


def test_working_days_skip_the_estimated_spring_festival():
    # 2027-02-04 (Thu) plus one working day: 5–12 Feb are off in the estimate, 13–14 a weekend
    assert add_workdays(dt.date(2027, 2, 4), 1) == (dt.date(2027, 2, 15), False)
