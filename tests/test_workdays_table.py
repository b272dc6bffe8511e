"""A chinese-calendar year read out once gives the package's own answer for every day."""
import datetime as dt

import chinese_calendar

from model.workdays import ORIGIN_LIBRARY, _year_calendar


def test_tabulated_library_years_answer_as_the_package_does(tmp_path):
    years = [y for y in range(2004, 2040) if _year_calendar(y, str(tmp_path / f"{y}.yaml"), -1).origin == ORIGIN_LIBRARY]
    assert years
    for year in years:
        cal = _year_calendar(year, str(tmp_path / f"{year}.yaml"), -1)
        assert cal.tabulated
        day = dt.date(year, 1, 1)
        while day.year == year:
            assert cal.is_workday(day) == chinese_calendar.is_workday(day), day
            day += dt.timedelta(days=1)
