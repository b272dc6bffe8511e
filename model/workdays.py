"""Working-day arithmetic on the Chinese public-holiday calendar (chinese-calendar).

The package covers the years the State Council has published; outside them we fall back to
Monday–Friday and say so, rather than pretending to know a holiday schedule."""
from __future__ import annotations

import datetime as dt

import chinese_calendar


def is_workday(day: dt.date) -> tuple[bool, bool]:
    """(is a working day, whether the official calendar knew the year)."""
    try:
        return chinese_calendar.is_workday(day), True
    except NotImplementedError:
        return day.weekday() < 5, False


def add_workdays(day: dt.date, n: int) -> tuple[dt.date, bool]:
    """The date n working days after (n > 0) or before (n < 0) `day`, not counting `day`."""
    step = 1 if n >= 0 else -1
    remaining = abs(n)
    known = True
    cur = day
    while remaining:
        cur += dt.timedelta(days=step)
        work, k = is_workday(cur)
        known = known and k
        if work:
            remaining -= 1
    return cur, known


def previous_workday(day: dt.date) -> tuple[dt.date, bool]:
    return add_workdays(day, -1)


def add_months(day: dt.date, months: int) -> dt.date:
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, d)
        except ValueError:
            continue
    raise ValueError(day)


def catalogue_calendar(year: int, published: dt.date | None = None, publish_by: str = "03-31",
                       filing_working_days: int = 15) -> dict:
    """Key dates of the catalogue cycle for catalogue year `year` (Zhejiang practice, seed 000):
    proposals collected in Q4 of the year before, publication by 31 March after Party
    consent, filing within 15 working days of publication."""
    month, day = (int(x) for x in publish_by.split("-"))
    deadline = dt.date(year, month, day)
    pub = published or deadline
    filing, known = add_workdays(pub, filing_working_days)
    return {
        "year": year,
        "collect_from": dt.date(year - 1, 10, 1).isoformat(),
        "collect_to": dt.date(year - 1, 12, 31).isoformat(),
        "publish_by": deadline.isoformat(),
        "published": pub.isoformat(),
        "published_late": pub > deadline,
        "file_by": filing.isoformat(),
        "holiday_calendar_known": known,
    }
