"""Planned dates as offices write them: a day, a period, or "not decided yet".

A catalogue's 计划完成时间 column holds 2027/4/15, 2027.4.15, 2027年4月15日, 2027年6月,
2027年第二季度, 二季度, 下半年, 年内, 年底, 待定 … This module reads each into a `PlannedDate`:
a day; a period (kept as the period, with the day the deadline planner counts back from being
the period's last working day); "未定"; or unreadable (the value is kept and quoted, so the row
is still screened and the compiler can fix it). A period written without a year (二季度, 下半年)
belongs to the catalogue year.

Used by the contract (model.contract.MatterIn), the spreadsheet uploads and the CLI alike."""
from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from .workdays import on_or_before_workday

SHANGHAI = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
UNDECIDED = "未定"
MIN_YEAR, MAX_YEAR = 1900, 2200

# What offices write for "no date yet".
_UNDECIDED_WORDS = {"待定", "未定", "暂定", "不定", "未确定", "待确定", "暂未确定", "另定", "视情况", "视情况而定",
                    "空", "无", "-", "—", "/", "\\", "--", "——", "暂无"}
_NUM_ZH = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}
_FULL = str.maketrans("０１２３４５６７８９／．－　（）", "0123456789/.- ()")

_YMD = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_YM = re.compile(r"(?:(\d{4})\s*[-/.年])?\s*(\d{1,2})\s*月份?(上旬|中旬|下旬|初|中|底|末)?")
_YM_NUM = re.compile(r"(\d{4})\s*[-/.]\s*(\d{1,2})")
_QUARTER = re.compile(r"(?:(\d{4})\s*年(?:度)?)?\s*第?\s*([一二三四1-4])\s*季度?(?:末|底)?")
_HALF = re.compile(r"(?:(\d{4})\s*年(?:度)?)?\s*(上|下)半年(?:末|底)?")
_MD = re.compile(r"(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]")
EXCEL_EPOCH = dt.date(1899, 12, 30)  # day 0 of Excel's date serials (1900 system)
_YEAR_END = re.compile(r"(?:(\d{4})\s*年(?:度)?)?\s*(年底|年末|年终|底|末)")
_YEAR_IN = re.compile(r"(?:(\d{4})\s*年(?:度)?)?\s*(年内|全年|年度内|本年度|年度|内)")
_YEAR = re.compile(r"(\d{4})\s*年(?:度)?")
# Words around a date that do not change it: 前 (by), 左右 (about), 完成, 以前 …
_TRAILER = re.compile(r"(之前|以前|前后|左右|前|完成|出台|实施|开始|启动|期间|为止|止)+$")


@dataclass(frozen=True)
class PlannedDate:
    kind: str  # date | period | undecided | unreadable
    raw: str  # the value as written
    date: dt.date | None = None  # the day the planner counts back from (a period's last working day)
    period: str | None = None  # a period as the catalogue writes it: 2027年第二季度, 2027年6月, …
    start: dt.date | None = None
    end: dt.date | None = None

    @property
    def label(self) -> str:
        """How the catalogue shows it: the day (2027年4月15日), the period, 未定, or the raw text."""
        if self.kind == "date" and self.date is not None:
            return f"{self.date.year}年{self.date.month}月{self.date.day}日"
        if self.kind == "period":
            return self.period or self.raw
        if self.kind == "undecided":
            return UNDECIDED
        return self.raw


def local_today() -> dt.date:
    """Today in China (Asia/Shanghai, UTC+8 all year)."""
    return dt.datetime.now(SHANGHAI).date()


def default_year() -> int:
    return local_today().year


def _ok_year(y: int) -> bool:
    return MIN_YEAR <= y <= MAX_YEAR


def _period(raw: str, label: str, start: dt.date, end: dt.date) -> PlannedDate:
    last, _ = on_or_before_workday(end)
    return PlannedDate("period", raw, last, label, start, end)


def _day(raw: str, y: int, m: int, d: int) -> PlannedDate | None:
    if not _ok_year(y):
        return None
    try:
        day = dt.date(y, m, d)
    except ValueError:
        return None
    return PlannedDate("date", raw, day, None, day, day)


def _month(raw: str, y: int, m: int, part: str | None) -> PlannedDate | None:
    if not _ok_year(y) or not 1 <= m <= 12:
        return None
    last = calendar.monthrange(y, m)[1]
    spans = {"上旬": (1, 10), "初": (1, 10), "中旬": (11, 20), "中": (11, 20), "下旬": (21, last),
             "底": (21, last), "末": (21, last)}
    a, b = spans.get(part or "", (1, last))
    return _period(raw, f"{y}年{m}月{part or ''}", dt.date(y, m, a), dt.date(y, m, b))


def read_planned(value, year: int | None = None) -> PlannedDate:
    """Read a planned-date cell. `year`: the catalogue year for periods written without one
    (default: this year in China). Never raises: what cannot be read is `unreadable`."""
    if value is None:
        return PlannedDate("undecided", "")
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return PlannedDate("date", value.isoformat(), value, None, value, value)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 20000 <= value <= 110000 \
            and float(value).is_integer():
        # A date cell read as its number (a column formatted as 常规/General): Excel's day serial.
        day = EXCEL_EPOCH + dt.timedelta(days=int(value))
        return PlannedDate("date", str(value), day, None, day, day)
    raw = str(value).strip()
    text = raw.translate(_FULL).replace(" ", "").replace("（", "(").replace("）", ")")
    text = re.sub(r"\(.*?\)$", "", text)  # a trailing remark in brackets
    if not text or text in _UNDECIDED_WORDS or re.fullmatch(r"(待定|未定|暂定|不确定|待确定)[。.]?", text):
        return PlannedDate("undecided", raw)
    text = _TRAILER.sub("", text) or text
    y0 = year or default_year()

    for rx in (_YMD, _COMPACT):
        m = rx.fullmatch(text)
        if m:
            return _day(raw, int(m[1]), int(m[2]), int(m[3])) or PlannedDate("unreadable", raw)
    m = _MD.fullmatch(text)
    if m:
        return _day(raw, y0, int(m[1]), int(m[2])) or PlannedDate("unreadable", raw)
    m = _YM.fullmatch(text)
    if m:
        return _month(raw, int(m[1]) if m[1] else y0, int(m[2]), m[3]) or PlannedDate("unreadable", raw)
    m = _YM_NUM.fullmatch(text)
    if m:
        return _month(raw, int(m[1]), int(m[2]), None) or PlannedDate("unreadable", raw)
    m = _QUARTER.fullmatch(text)
    if m:
        y, q = (int(m[1]) if m[1] else y0), _NUM_ZH[m[2]]
        if _ok_year(y):
            first = 3 * (q - 1) + 1
            end = dt.date(y, first + 2, calendar.monthrange(y, first + 2)[1])
            return _period(raw, f"{y}年第{'一二三四'[q - 1]}季度", dt.date(y, first, 1), end)
    m = _HALF.fullmatch(text)
    if m:
        y = int(m[1]) if m[1] else y0
        if _ok_year(y):
            first = m[2] == "上"
            return _period(raw, f"{y}年{m[2]}半年", dt.date(y, 1 if first else 7, 1),
                           dt.date(y, 6, 30) if first else dt.date(y, 12, 31))
    m = _YEAR_END.fullmatch(text)
    if m and (m[1] or m[2] not in ("底", "末")):
        y = int(m[1]) if m[1] else y0
        if _ok_year(y):
            return _period(raw, f"{y}年底", dt.date(y, 12, 1), dt.date(y, 12, 31))
    m = _YEAR_IN.fullmatch(text)
    if m and (m[1] or m[2] != "内"):
        y = int(m[1]) if m[1] else y0
        if _ok_year(y):
            return _period(raw, f"{y}年内", dt.date(y, 1, 1), dt.date(y, 12, 31))
    m = _YEAR.fullmatch(text)
    if m and _ok_year(int(m[1])):
        y = int(m[1])
        return _period(raw, f"{y}年内", dt.date(y, 1, 1), dt.date(y, 12, 31))
    return PlannedDate("unreadable", raw)


def explicit_year(value) -> int | None:
    """The four-digit year a cell names itself, if any (to guess a file's catalogue year)."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.year
    m = re.search(r"(?<!\d)(\d{4})(?!\d)", str(value or "").translate(_FULL))
    return int(m[1]) if m and _ok_year(int(m[1])) else None


def catalogue_year_of(rows: list[dict], fallback: int | None = None) -> int:
    """The year most planned dates of a file name themselves (periods such as 二季度 belong to
    it), else `fallback`, else this year."""
    from collections import Counter

    years = Counter(y for r in rows if (y := explicit_year(r.get("planned_date"))) is not None)
    if years:
        return years.most_common(1)[0][0]
    return fallback or default_year()


def tolerant_row(rec: dict, year: int | None = None) -> dict:
    """A spreadsheet row with its planned date read: a day as YYYY-MM-DD; a period as its last
    working day plus `planned_period`; 未定 as no date; an unreadable value moved to
    `planned_date_text` so the row is screened anyway, with a warning quoting it."""
    if "planned_date" not in rec:
        return rec
    out = dict(rec)
    pd = read_planned(out.pop("planned_date"), year)
    if pd.kind == "date":
        out["planned_date"] = pd.date.isoformat()
    elif pd.kind == "period":
        out["planned_date"] = pd.date.isoformat()
        out["planned_period"] = pd.period
    elif pd.kind == "undecided":
        if pd.raw:
            out["planned_period"] = UNDECIDED
    else:
        out["planned_date_text"] = " ".join(pd.raw.split())[:200]
    return out
