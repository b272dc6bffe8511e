"""Working-day arithmetic on the Chinese public-holiday calendar.

Where a year's schedule comes from, in order:
1. an operator's data file `<holidays dir>/<year>.yaml` (the State Council's notice for that
   year, dropped in without a release; dir = $DECISION_SCREEN_HOLIDAYS, else
   $DECISION_SCREEN_VAR/holidays, else var/holidays);
2. the chinese-calendar package, for the years it ships;
3. an estimate from the holiday rule itself (全国年节及纪念日放假办法) with the lunar dates from
   lunar-python. An estimate cannot know the year's exchanged working weekends, so it treats
   every weekend as a day off and also the usual bridge days: deadlines computed on it never
   fall on a day that may turn out to be a holiday. Every answer built on it says so.
"""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import chinese_calendar
import yaml

ORIGIN_FILE, ORIGIN_LIBRARY, ORIGIN_ESTIMATE = "official_file", "library", "estimated"


@dataclass(frozen=True)
class YearCalendar:
    year: int
    origin: str  # official_file | library | estimated
    off: frozenset = field(default_factory=frozenset)  # weekdays that are days off
    work: frozenset = field(default_factory=frozenset)  # weekend days that are working days
    note: str = ""
    # A library year's days off and working weekends read out of chinese-calendar once (its own
    # check costs a scan of its whole table per call, most of file mode's deadline arithmetic).
    tabulated: bool = False

    @property
    def known(self) -> bool:
        return self.origin != ORIGIN_ESTIMATE

    def is_workday(self, day: dt.date) -> bool:
        if self.origin == ORIGIN_LIBRARY and not self.tabulated:
            return chinese_calendar.is_workday(day)
        if day in self.work:
            return True
        return day.weekday() < 5 and day not in self.off


def holidays_dir() -> Path:
    if os.environ.get("DECISION_SCREEN_HOLIDAYS"):
        return Path(os.environ["DECISION_SCREEN_HOLIDAYS"])
    return Path(os.environ.get("DECISION_SCREEN_VAR", "var")) / "holidays"


# --- the statutory rule ------------------------------------------------------------------------

def _lunar(year: int, month: int, day: int) -> dt.date:
    from lunar_python import Lunar

    s = Lunar.fromYmd(year, month, day).getSolar()
    return dt.date(s.getYear(), s.getMonth(), s.getDay())


def _qingming(year: int) -> dt.date:
    from lunar_python import Lunar

    s = Lunar.fromYmd(year, 3, 1).getJieQiTable()["清明"]
    return dt.date(s.getYear(), s.getMonth(), s.getDay())


def statutory_holidays(year: int) -> dict[str, list[dt.date]]:
    """The days the 放假办法 itself grants (before any weekend exchange). Since 2025-01-01
    (国务院令第795号): 元旦 1 day, 春节 4 (除夕 to 初三), 清明 1, 劳动节 2, 端午 1, 中秋 1,
    国庆 3. The 2014 text (令第644号) had 春节 3 days from 初一 and 劳动节 1 day; 2008's
    (令第513号) had 春节 初一–初三 too; before 2008 (令第270号) 春节, 劳动节 and 国庆 had 3 days
    each and there were no 清明/端午/中秋 holidays."""
    new_year = _lunar(year, 1, 1)
    eve = new_year - dt.timedelta(days=1)
    d = dt.date
    if year >= 2025:
        spring = [eve + dt.timedelta(days=i) for i in range(4)]
        labour = [d(year, 5, 1), d(year, 5, 2)]
    elif year >= 2014:
        spring = [new_year + dt.timedelta(days=i) for i in range(3)]
        labour = [d(year, 5, 1)]
    elif year >= 2008:
        spring = [eve, new_year, new_year + dt.timedelta(days=1)]
        labour = [d(year, 5, 1)]
    else:
        spring = [new_year + dt.timedelta(days=i) for i in range(3)]
        labour = [d(year, 5, 1), d(year, 5, 2), d(year, 5, 3)]
    out = {"元旦": [d(year, 1, 1)], "春节": spring, "劳动节": labour,
           "国庆节": [d(year, 10, 1), d(year, 10, 2), d(year, 10, 3)]}
    if year >= 2008:
        out["清明节"] = [_qingming(year)]
        out["端午节"] = [_lunar(year, 5, 5)]
        out["中秋节"] = [_lunar(year, 8, 15)]
    return out


def _estimate(year: int) -> YearCalendar:
    """Statutory days plus the blocks the yearly notices have formed from them (春节 除夕 to
    初七, 劳动节 1–5 May, 国庆 1–7 October, to the 8th when 中秋 adjoins) and the usual
    weekend/bridge day next to a one-day holiday."""
    stat = statutory_holidays(year)
    off: set[dt.date] = {x for days in stat.values() for x in days}
    eve = stat["春节"][0] if year >= 2025 else _lunar(year, 1, 1) - dt.timedelta(days=1)
    off |= {eve + dt.timedelta(days=i) for i in range(8)}
    off |= {dt.date(year, 5, i) for i in range(1, 6)}
    off |= {dt.date(year, 10, i) for i in range(1, 8)}
    mid = stat.get("中秋节", [None])[0]
    if mid and dt.date(year, 9, 29) <= mid <= dt.date(year, 10, 8):
        off |= {mid, dt.date(year, 10, 8)}
    for name in ("元旦", "清明节", "端午节", "中秋节"):
        for h in stat.get(name, []):
            wd = h.weekday()
            if wd in (5, 6):  # on a weekend: the following Monday is given instead
                off.add(h + dt.timedelta(days=7 - wd))
            elif wd == 1:  # Tuesday: Monday bridged
                off.add(h - dt.timedelta(days=1))
            elif wd == 3:  # Thursday: Friday bridged
                off.add(h + dt.timedelta(days=1))
    note = (f"{year}年未见官方放假安排: 按《全国年节及纪念日放假办法》推算法定节假日 (农历节日由农历换算), "
            f"调休上班日未知, 周末一律按休息日计 / {year} holiday schedule estimated from the holiday rule")
    return YearCalendar(year, ORIGIN_ESTIMATE, frozenset(x for x in off if x.year == year), frozenset(), note)


# --- an operator's file ------------------------------------------------------------------------

def _dates(items, path: Path, key: str) -> set[dt.date]:
    out: set[dt.date] = set()
    for item in items or []:
        text = item.isoformat() if isinstance(item, dt.date) else str(item)
        first, _, last = text.partition("..")
        try:
            a = dt.date.fromisoformat(first.strip())
            b = dt.date.fromisoformat(last.strip()) if last else a
        except ValueError:
            raise ValueError(f"{path.name}: {key}: {text!r} is not YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD") from None
        if b < a:
            raise ValueError(f"{path.name}: {key}: range {text!r} ends before it starts")
        while a <= b:
            out.add(a)
            a += dt.timedelta(days=1)
    return out


def load_holiday_file(path: Path, year: int) -> YearCalendar:
    """A year's official schedule: `holidays` (dates or ranges off) and `workdays` (weekend
    days worked in exchange), with the notice it copies in `source`."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError(f"{path.name}: must be a mapping with holidays/workdays")
    if int(raw.get("year", year)) != year:
        raise ValueError(f"{path.name}: year {raw.get('year')} does not match the file name")
    off = _dates(raw.get("holidays"), path, "holidays")
    work = _dates(raw.get("workdays"), path, "workdays")
    stray = sorted(x for x in off | work if x.year != year)
    if stray:
        raise ValueError(f"{path.name}: {stray[0]} lies outside {year}")
    if off & work:
        raise ValueError(f"{path.name}: {min(off & work)} is listed as both holiday and working day")
    src = str(raw.get("source") or "未注明来源")
    return YearCalendar(year, ORIGIN_FILE, frozenset(off), frozenset(work), f"{year}年放假安排取自 {path.name}: {src}")


@lru_cache(maxsize=256)
def _year_calendar(year: int, path: str, mtime_ns: int) -> YearCalendar:
    if mtime_ns >= 0:
        try:
            return load_holiday_file(Path(path), year)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            est = _estimate(year)
            return YearCalendar(year, ORIGIN_ESTIMATE, est.off, est.work,
                                f"放假安排文件 {Path(path).name} 无法使用 ({exc}); " + est.note)
    try:
        chinese_calendar.is_workday(dt.date(year, 6, 1))
    except NotImplementedError:
        return _estimate(year)
    note = f"{year}年放假安排取自 chinese-calendar"
    try:
        off, work = _library_year(year)
    except NotImplementedError:  # a year the package covers only in part: ask it day by day
        return YearCalendar(year, ORIGIN_LIBRARY, note=note)
    return YearCalendar(year, ORIGIN_LIBRARY, off, work, note, tabulated=True)


def _library_year(year: int) -> tuple[frozenset, frozenset]:
    """chinese-calendar's answer for every day of `year`, as (weekdays off, weekend working days)."""
    off, work = set(), set()
    day = dt.date(year, 1, 1)
    while day.year == year:
        weekday, working = day.weekday() < 5, chinese_calendar.is_workday(day)
        if weekday and not working:
            off.add(day)
        elif working and not weekday:
            work.add(day)
        day += dt.timedelta(days=1)
    return frozenset(off), frozenset(work)


def year_calendar(year: int) -> YearCalendar:
    """The calendar for one year; a file dropped in (or changed) is picked up on the next call."""
    path = _holiday_file(year, os.environ.get("DECISION_SCREEN_HOLIDAYS"), os.environ.get("DECISION_SCREEN_VAR"))
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError:
        mtime = -1
    return _year_calendar(year, path, mtime)


@lru_cache(maxsize=256)
def _holiday_file(year: int, holidays_env: str | None, var_env: str | None) -> str:
    """The path of a year's holiday file for these settings (what holidays_dir() says), made
    once: a deadline asks for it a few times per matter."""
    return str(holidays_dir() / f"{year}.yaml")


# --- arithmetic ------------------------------------------------------------------------------

def is_workday(day: dt.date) -> tuple[bool, bool]:
    """(is a working day, whether the year's schedule is official rather than estimated)."""
    cal = year_calendar(day.year)
    return cal.is_workday(day), cal.known


def add_workdays(day: dt.date, n: int) -> tuple[dt.date, bool]:
    """The date n working days after (n > 0) or before (n < 0) `day`, not counting `day`;
    the flag is False when any year crossed was estimated."""
    step = 1 if n >= 0 else -1
    remaining = abs(n)
    cals: dict[int, YearCalendar] = {}
    known = True
    cur = day
    while remaining:
        cur += dt.timedelta(days=step)
        cal = cals.get(cur.year) or cals.setdefault(cur.year, year_calendar(cur.year))
        known = known and cal.known
        if cal.is_workday(cur):
            remaining -= 1
    return cur, known


def previous_workday(day: dt.date) -> tuple[dt.date, bool]:
    """The last working day before `day`."""
    return add_workdays(day, -1)


def on_or_before_workday(day: dt.date) -> tuple[dt.date, bool]:
    """`day` if it is a working day, else the last working day before it: a deadline that
    falls on a day off moves earlier, never later."""
    work, known = is_workday(day)
    if work:
        return day, known
    d, k = add_workdays(day, -1)
    return d, known and k


def on_or_after_workday(day: dt.date) -> tuple[dt.date, bool]:
    """`day` if it is a working day, else the next one (for the earliest day a step may start)."""
    work, known = is_workday(day)
    if work:
        return day, known
    d, k = add_workdays(day, 1)
    return d, known and k


def calendar_notes(days) -> list[str]:
    """One note per estimated (or file-based) year among `days`, for an answer's warnings."""
    out = []
    for year in sorted({d.year for d in days if d is not None}):
        cal = year_calendar(year)
        if not cal.known:
            out.append(cal.note)
    return out


def add_months(day: dt.date, months: int) -> dt.date:
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, d)
        except ValueError:
            continue
    raise ValueError(day)


def catalogue_calendar(year: int, published: dt.date | None = None, publish_by: str | None = None,
                       filing_working_days: int | None = None, collect_quarter: int | None = None,
                       source: str | None = None) -> dict:
    """Key dates of the catalogue cycle for catalogue year `year`, from a profile's own
    rules. The 条例 fixes no date, so without `publish_by` there is no publication deadline
    and without `filing_working_days` no filing deadline; `source` says whose rule it is."""
    out: dict = {"year": year, "source": source or "条例未规定目录公布和备案的具体期限 (以本地规定为准)"}
    if collect_quarter:
        first_month = 3 * (collect_quarter - 1) + 1
        out["collect_from"] = dt.date(year - 1, first_month, 1).isoformat()
        out["collect_to"] = (add_months(dt.date(year - 1, first_month, 1), 3) - dt.timedelta(days=1)).isoformat()
    deadline = None
    if publish_by:
        month, day = (int(x) for x in publish_by.split("-"))
        deadline = dt.date(year, month, day)
        out["publish_by"] = deadline.isoformat()
    pub = published or deadline
    if pub is not None:
        out["published"] = pub.isoformat()
    if deadline is not None and published is not None:
        out["published_late"] = published > deadline
    known = True
    if filing_working_days and pub is not None:
        filing, known = add_workdays(pub, filing_working_days)
        out["file_by"] = filing.isoformat()
    out["holiday_calendar_known"] = known
    if not known:
        out["holiday_calendar_note"] = year_calendar(year).note
    return out
