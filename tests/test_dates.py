"""Planned dates as offices write them (model.dates), table-driven, and the contract's use of them."""
import datetime as dt

import pytest

from model.contract import MatterIn, parse_matter
from model.dates import catalogue_year_of, read_planned, tolerant_row
from model.errors import ScreenInputError
from model.workdays import is_workday

D = dt.date


@pytest.mark.parametrize("text, day", [
    ("2027/4/15", D(2027, 4, 15)), ("2027.4.15", D(2027, 4, 15)), ("2027-04-15", D(2027, 4, 15)),
    ("2027年4月15日", D(2027, 4, 15)), ("2027 年 4 月 15 日", D(2027, 4, 15)), ("20270415", D(2027, 4, 15)),
    ("２０２７／４／１５", D(2027, 4, 15)), ("2027年4月15日前", D(2027, 4, 15)), (D(2027, 4, 15), D(2027, 4, 15)),
    (dt.datetime(2027, 4, 15), D(2027, 4, 15)), ("4月15日", D(2027, 4, 15)),
    (46492, D(2027, 4, 15)),  # a date cell read as Excel's day number
])
def test_a_day_in_any_office_spelling_is_that_day(text, day):
    p = read_planned(text, 2027)
    assert (p.kind, p.date, p.period) == ("date", day, None)


@pytest.mark.parametrize("text, period, start, end", [
    ("2027年6月", "2027年6月", D(2027, 6, 1), D(2027, 6, 30)),
    ("2027-6", "2027年6月", D(2027, 6, 1), D(2027, 6, 30)),
    ("6月", "2027年6月", D(2027, 6, 1), D(2027, 6, 30)),
    ("2027年6月底前", "2027年6月底", D(2027, 6, 21), D(2027, 6, 30)),
    ("2027年第二季度", "2027年第二季度", D(2027, 4, 1), D(2027, 6, 30)),
    ("二季度", "2027年第二季度", D(2027, 4, 1), D(2027, 6, 30)),
    ("第4季度", "2027年第四季度", D(2027, 10, 1), D(2027, 12, 31)),
    ("上半年", "2027年上半年", D(2027, 1, 1), D(2027, 6, 30)),
    ("2028年下半年", "2028年下半年", D(2028, 7, 1), D(2028, 12, 31)),
    ("年内", "2027年内", D(2027, 1, 1), D(2027, 12, 31)),
    ("2027年", "2027年内", D(2027, 1, 1), D(2027, 12, 31)),
    ("年底", "2027年底", D(2027, 12, 1), D(2027, 12, 31)),
    ("三季度末", "2027年第三季度", D(2027, 7, 1), D(2027, 9, 30)),
    ("2027年底前", "2027年底", D(2027, 12, 1), D(2027, 12, 31)),
])
def test_a_period_is_kept_and_planned_from_its_last_working_day(text, period, start, end):
    p = read_planned(text, 2027)
    assert (p.kind, p.period, p.start, p.end) == ("period", period, start, end)
    assert p.date <= end and is_workday(p.date)[0]
    assert all(not is_workday(end - dt.timedelta(days=i))[0] for i in range((end - p.date).days))


def test_the_last_working_day_of_a_period_ending_on_a_weekend_is_the_friday_before():
    # 2027-10-31 is a Sunday.
    assert read_planned("2027年10月", 2027).date == D(2027, 10, 29)


@pytest.mark.parametrize("text", ["待定", "未定", "空", "暂定", "-", "", "  ", None, "待定。"])
def test_not_decided_yet_reads_as_undecided(text):
    p = read_planned(text, 2027)
    assert p.kind == "undecided" and p.date is None and p.label == "未定"


@pytest.mark.parametrize("text", ["明年春天", "2026-02-30", "2027年13月", "第五季度", "ASAP", "9999-01-01"])
def test_what_cannot_be_read_is_unreadable_and_kept_as_written(text):
    p = read_planned(text, 2027)
    assert p.kind == "unreadable" and p.raw == text and p.date is None


def test_a_row_keeps_a_period_and_sets_an_unreadable_value_aside():
    assert tolerant_row({"title": "x", "planned_date": "二季度"}, 2027) == {
        "title": "x", "planned_date": "2027-06-30", "planned_period": "2027年第二季度"}
    assert tolerant_row({"title": "x", "planned_date": "明年\n春天"}, 2027) == {
        "title": "x", "planned_date_text": "明年 春天"}
    assert tolerant_row({"title": "x", "planned_date": "待定"}, 2027) == {"title": "x", "planned_period": "未定"}
    assert tolerant_row({"title": "x"}, 2027) == {"title": "x"}


def test_the_catalogue_year_is_the_year_most_dates_name():
    rows = [{"planned_date": "2027/4/1"}, {"planned_date": "二季度"}, {"planned_date": "2027年6月"},
            {"planned_date": "2026-12-01"}, {}]
    assert catalogue_year_of(rows) == 2027
    assert catalogue_year_of([{"planned_date": "下半年"}], fallback=2030) == 2030


def test_the_contract_reads_office_dates_and_quotes_a_bad_one():
    m = MatterIn.model_validate({"title": "规划", "planned_date": "2027年第三季度"})
    assert (m.planned_date, m.planned_period) == (D(2027, 9, 30), "2027年第三季度")
    assert MatterIn.model_validate({"title": "规划", "planned_date": "2027/4/15"}).planned_date == D(2027, 4, 15)
    m = MatterIn.model_validate({"title": "规划", "planned_date": "待定"})
    assert (m.planned_date, m.planned_period) == (None, "未定")
    with pytest.raises(ScreenInputError) as exc:
        parse_matter({"title": "规划", "planned_date": "明年春天"}, 3)
    assert exc.value.code == "bad_date" and "明年春天" in exc.value.zh and exc.value.row == 3


def test_the_answer_says_how_a_period_or_an_unreadable_date_was_used():
    from model.screener import Screener

    s = Screener(model=None)
    a = s.screen({"title": "关于调整城区居民生活用水价格的实施方案", "planned_date": "2027年第二季度"})
    assert any("2027年第二季度" in w and "2027-06-30" in w for w in a.warnings)
    b = s.screen({"title": "关于调整城区居民生活用水价格的实施方案", "planned_date_text": "明年春天"})
    assert any("明年春天" in w for w in b.warnings)
    assert all(p.deadline is None for p in b.procedures)
