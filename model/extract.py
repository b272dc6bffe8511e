"""Extraction: numbers, periods, levels and unit names read from normalised text.

Every value keeps the span it was read from, so the explanation can show the user which
words produced which number. Chinese numerals go through cn2an; only the surrounding
grammar (units, multipliers, ranges) is handled here.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

# Household size used to turn 户 into people: 2.62 persons per family household,
# 7th national census (国家统计局, 2021). Stated in reasons whenever it is used.
PERSONS_PER_HOUSEHOLD = 2.62
MU_PER_HECTARE = 15.0
MU_PER_SQM = 1 / 666.6667
MU_PER_SQKM = 1500.0

_CN_DIGITS = "零〇一二两三四五六七八九十百千"
_NUM = rf"(?:\d+(?:,\d{{3}})*(?:\.\d+)?|[{_CN_DIGITS}点]+)"
# A number that may be followed by a magnitude (万/亿/千) in its own right: 1.2亿, 五千万.
_QTY = rf"(?P<num>{_NUM})\s*(?P<mag>亿|万|千)?"
_RANGE_SEP = r"\s*(?:-|至|到|~)\s*"

_MONEY_CUE = re.compile(r"(投资|资金|预算|经费|补助|补贴|奖补|金额|造价|总额|估算|概算|安排|费用|价值|出资|拨付|筹集|融资|债券|超过|约|近|逾|达)")

_AMOUNT = re.compile(
    rf"(?:(?P<lo>{_NUM})\s*(?P<lomag>亿|万|千)?{_RANGE_SEP})?{_QTY}\s*(?P<unit>元|块钱)?"
)
_PEOPLE = re.compile(rf"{_QTY}\s*(?P<unit>人次|余人|多人|人口|名|人|户|家庭)")
_AREA = re.compile(rf"{_QTY}\s*(?P<unit>平方公里|平方千米|平方米|㎡|公顷|亩|km2|km²)")
_LENGTH = re.compile(rf"{_QTY}\s*(?P<unit>公里|千米|km)(?!2|²)")
_YEAR_RANGE = re.compile(r"(?P<a>(?:19|20)\d{2})\s*年?\s*(?:-|至|到|~)\s*(?P<b>(?:19|20)\d{2})\s*年")
_YEAR = re.compile(r"(?<!\d)(?P<y>(?:19|20)\d{2})\s*年(?!\d)")
_N_YEARS = re.compile(rf"(?P<num>{_NUM})\s*(?:年|周年)(?P<kind>行动|计划|规划|攻坚|提升|专项|期|内|以上)?")
_FIVE_YEAR = re.compile(r"[\"“]?(?P<n>十[一二三四五六七八九]五|[一二三四五六七八九]五)[\"”]?\s*(?:时期|期间|规划)?")
# 十X五 plans: from the 3rd plan (1966) on, the Nth plan starts in 1956 + 5 * (N - 1)
# (1963-65 was an adjustment period between the 2nd and 3rd plans).
_FIVE_YEAR_N = {"十一五": 11, "十二五": 12, "十三五": 13, "十四五": 14, "十五五": 15, "十六五": 16}

_LEVEL_WORDS = [
    ("province", re.compile(r"(省|自治区|直辖市|全省|省级|省政府)")),
    ("city", re.compile(r"(市人民政府|全市|市级|市政府|地级市|自治州|州人民政府|盟)")),
    ("county", re.compile(r"(县人民政府|区人民政府|全县|全区|县级|县政府|区政府|旗|县级市)")),
    ("town", re.compile(r"(镇人民政府|乡人民政府|街道办事处|全镇|全乡|镇政府|乡政府|街道)")),
    ("department", re.compile(r"(局|委员会|办公室|厅)$")),
]
_UNIT = re.compile(
    r"[\u4e00-\u9fff]{2,14}?(?:人民政府|管理委员会|管委会|街道办事处|委员会|办公室|局|厅|委|中心|公司)(?![\u4e00-\u9fff]{0,1}(?:规划|计划|方案|工程|项目))"
)


@dataclass
class Quantity:
    kind: str  # amount_wan | people | households | area_mu | length_km | duration_years
    value: float
    text: str
    start: int
    end: int
    note: str = ""


@dataclass
class Extraction:
    quantities: list[Quantity] = field(default_factory=list)
    period: tuple[int, int] | None = None
    levels: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def best(self, kind: str) -> Quantity | None:
        """The largest value of a kind: a matter is as big as its biggest stated figure."""
        if not self.quantities:  # most titles state no figure: skip the list and max per kind
            return None
        found = [q for q in self.quantities if q.kind == kind]
        return max(found, key=lambda q: q.value) if found else None

    def numbers(self) -> dict:
        out: dict = {}
        for kind in ("amount_wan", "people", "households", "area_mu", "length_km", "duration_years"):
            q = self.best(kind)
            if q is not None:
                out[kind] = round(q.value, 4)
        if self.period:
            out["period"] = list(self.period)
        return out

    def as_dict(self) -> dict:
        return {"quantities": [asdict(q) for q in self.quantities], "period": self.period,
                "levels": self.levels, "units": self.units, "warnings": self.warnings}


def parse_number(token: str) -> float | None:
    """Arabic or Chinese numeral to float; None for anything malformed (no guessing)."""
    token = token.replace(",", "").strip()
    if not token:
        return None
    if re.fullmatch(r"\d+(?:\.\d+)?", token):
        return float(token)
    if re.search(r"\d", token):
        return None
    if token.count("点") > 1 or token.startswith("点") or token.endswith("点"):
        return None
    token = token.replace("两", "二").replace("〇", "零")
    value = _plain_numerals().get(token)
    if value is not None:
        return value
    # Decimals and rarer forms: cn2an, imported on the first such numeral (its import compiles
    # large patterns, 0.1-0.3 s; most processes never need it).
    import cn2an

    try:
        value = cn2an.cn2an(token, "strict")
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return float(value)


_DIGITS = "零一二三四五六七八九"


@lru_cache(maxsize=1)
def _plain_numerals() -> dict[str, float]:
    """Every whole number below 10,000 as cn2an's strict mode reads it, written the usual way
    (一千零一十, 九百零五) plus the short 十 forms (十, 十五): the numerals of matters ("五千"万元,
    "三百"户) read by a lookup instead of cn2an. tests/test_extract.py checks each entry against
    cn2an, and that every other string of these characters is left to cn2an."""
    table = {"零": 0.0}
    for n in range(1, 10_000):
        parts, gap = [], False
        for unit, place in (("千", 1000), ("百", 100), ("十", 10), ("", 1)):
            d = n // place % 10
            if d == 0:
                gap = bool(parts)  # a zero after a written digit: one 零 before the next one
                continue
            if gap:
                parts.append("零")
                gap = False
            parts.append(_DIGITS[d] + unit)
        text = "".join(parts)
        table[text] = float(n)
        if 10 <= n < 20:
            table[text[1:]] = float(n)  # 十, 十一 … 十九
    return table


def warm() -> None:
    """Load now what Chinese numerals need: the table of plain ones and cn2an for the rest
    (about 0.1-0.3 s; a job worker pays it before it takes work, a web process does not)."""
    _plain_numerals()
    parse_number("三点五")


def _magnitude(mag: str | None) -> float:
    return {"亿": 1e8, "万": 1e4, "千": 1e3}.get(mag or "", 1.0)


def _scaled(num: str, mag: str | None) -> float | None:
    # "五千万" reaches us as num="五千", mag="万"; "一千二百万" likewise. cn2an reads the
    # numeral, we apply the magnitude.
    value = parse_number(num)
    if value is None:
        return None
    return value * _magnitude(mag)


def _malformed_before(text: str, start: int) -> bool:
    """A figure glued to stray digits or dots ("1..2亿") is a typo we refuse to guess at."""
    return start > 0 and text[start - 1] in "0123456789.,"


def _overlaps(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(s < end and start < e for s, e in spans)


def _extract_amounts(text: str, taken: list[tuple[int, int]], out: Extraction) -> None:
    for m in _AMOUNT.finditer(text):
        num, mag, unit = m.group("num"), m.group("mag"), m.group("unit")
        if not num or (not mag and not unit):
            continue
        if _overlaps(taken, m.start(), m.end()):
            continue
        if _malformed_before(text, m.start()):
            out.warnings.append(f"无法识别的金额 / unreadable amount: {text[max(0, m.start() - 3):m.end()]}")
            continue
        # A bare 万/亿 without 元 is money only with a money cue nearby or when nothing
        # follows it (约2亿); 12万人 is people and was taken before we got here.
        if not unit:
            before = text[max(0, m.start() - 8):m.start()]
            after = text[m.end():m.end() + 1]
            if not (_MONEY_CUE.search(before) or after == "" or after in ",;。、)(元 "):
                continue
        value = _scaled(num, mag)
        if value is None:
            out.warnings.append(f"无法识别的金额 / unreadable amount: {m.group(0)}")
            continue
        if m.group("lo"):
            lo = _scaled(m.group("lo"), m.group("lomag") or mag)
            if lo is not None and lo > value:
                value = lo
        if unit == "块钱":
            unit = "元"
        wan = value / 1e4
        if wan <= 0:
            continue
        out.quantities.append(Quantity("amount_wan", wan, m.group(0), m.start(), m.end()))
        taken.append((m.start(), m.end()))


def _extract_simple(regex: re.Pattern, text: str, taken: list[tuple[int, int]], out: Extraction,
                    convert) -> None:
    for m in regex.finditer(text):
        if _overlaps(taken, m.start(), m.end()):
            continue
        if _malformed_before(text, m.start()):
            out.warnings.append(f"无法识别的数字 / unreadable number: {text[max(0, m.start() - 3):m.end()]}")
            continue
        value = _scaled(m.group("num"), m.group("mag"))
        if value is None:
            out.warnings.append(f"无法识别的数字 / unreadable number: {m.group(0)}")
            continue
        kind, converted, note = convert(value, m.group("unit"))
        if converted <= 0:
            continue
        out.quantities.append(Quantity(kind, converted, m.group(0), m.start(), m.end(), note))
        taken.append((m.start(), m.end()))


def _people(value: float, unit: str):
    if unit in ("户", "家庭"):
        return "households", value, ""
    return "people", value, ""


def _area(value: float, unit: str):
    if unit in ("平方公里", "平方千米", "km2", "km²"):
        return "area_mu", value * MU_PER_SQKM, f"{value:g}{unit} = {value * MU_PER_SQKM:g}亩"
    if unit in ("平方米", "㎡"):
        return "area_mu", value * MU_PER_SQM, f"{value:g}平方米 = {value * MU_PER_SQM:.2f}亩"
    if unit == "公顷":
        return "area_mu", value * MU_PER_HECTARE, f"{value:g}公顷 = {value * MU_PER_HECTARE:g}亩"
    return "area_mu", value, ""


def _length(value: float, unit: str):
    return "length_km", value, ""


def _extract_periods(text: str, taken: list[tuple[int, int]], out: Extraction) -> None:
    for m in _YEAR_RANGE.finditer(text):
        a, b = int(m.group("a")), int(m.group("b"))
        if b < a or b - a > 50:
            out.warnings.append(f"年份区间不合理 / implausible year range: {m.group(0)}")
            continue
        out.period = (a, b)
        out.quantities.append(Quantity("duration_years", b - a + 1, m.group(0), m.start(), m.end(),
                                       f"{a}-{b}年共{b - a + 1}年"))
        taken.append((m.start(), m.end()))
    for m in _FIVE_YEAR.finditer(text):
        n = _FIVE_YEAR_N.get(m.group("n"))
        if n is None:
            continue
        start = 1956 + 5 * (n - 1)
        if out.period is None:
            out.period = (start, start + 4)
        out.quantities.append(Quantity("duration_years", 5, m.group(0), m.start(), m.end(),
                                       f"“{m.group('n')}”时期 {start}-{start + 4}年"))
        taken.append((m.start(), m.end()))
    for m in _N_YEARS.finditer(text):
        if _overlaps(taken, m.start(), m.end()):
            continue
        num = m.group("num")
        # "2025年" is a date, not a duration: a duration is a small count of years.
        if re.fullmatch(r"(?:19|20)\d{2}", num):
            continue
        value = parse_number(num)
        if value is None or value <= 0 or value > 100:
            continue
        if not m.group("kind") and not re.search(r"(行动|计划|规划|方案|期限|为期|连续|攻坚)", text):
            continue
        out.quantities.append(Quantity("duration_years", value, m.group(0), m.start(), m.end()))
        taken.append((m.start(), m.end()))
    if out.period is None:
        years = [int(m.group("y")) for m in _YEAR.finditer(text)]
        if years:
            out.period = (min(years), max(years))


def _extract_levels_units(text: str, out: Extraction) -> None:
    for m in _UNIT.finditer(text):
        unit = m.group(0)
        # Drop leading function words that the lazy match swallowed ("关于…", "由…").
        unit = re.sub(r"^(关于|由|经|对|在|将|为|与|和|及|会同|联合|牵头)", "", unit)
        if len(unit) >= 3 and unit not in out.units:
            out.units.append(unit)
    for level, regex in _LEVEL_WORDS:
        if level == "department":
            if any(regex.search(u) and not re.search(r"(人民政府|街道办事处)$", u) for u in out.units):
                out.levels.append(level)
        elif regex.search(text):
            out.levels.append(level)


def extract(text: str) -> Extraction:
    """Read every figure the text states. Order matters: people, area and length claim their
    spans before amounts, so that 12万人 never reads as 12万元."""
    out = Extraction()
    taken: list[tuple[int, int]] = []
    _extract_periods(text, taken, out)
    _extract_simple(_AREA, text, taken, out, _area)
    _extract_simple(_LENGTH, text, taken, out, _length)
    _extract_simple(_PEOPLE, text, taken, out, _people)
    _extract_amounts(text, taken, out)
    _extract_levels_units(text, out)
    out.quantities.sort(key=lambda q: q.start)
    return out


# --- tokens (jieba with the domain dictionary) -------------------------------------------

DOMAIN_DICT = Path(__file__).resolve().parent.parent / "corpora" / "jieba_domain.txt"
_PACKAGED_DICT = Path(__file__).resolve().parent / "data" / "jieba_domain.txt"


@lru_cache(maxsize=1)
def _tokenizer():
    """A jieba tokenizer with the domain dictionary, loaded by jieba itself: what the segmenter
    falls back on, and what the tests compare its words with."""
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    tk = jieba.Tokenizer()
    tk.initialize()
    path = _domain_dict()
    if path is not None:
        tk.load_userdict(str(path))
    return tk


def _domain_dict() -> Path | None:
    path = DOMAIN_DICT if DOMAIN_DICT.exists() else _PACKAGED_DICT
    return path if path.exists() else None


@lru_cache(maxsize=1)
def _segmenter():
    from .jieba_dict import load
    from .segment import Segmenter

    # jieba's dictionary by first character (model/jieba_dict.py); the whole tokenizer only
    # where that cannot be done exactly.
    return Segmenter(load(_domain_dict()) or _tokenizer())


def tokens(text: str) -> list[str]:
    """Words of the text, domain terms kept whole (重大行政决策, 公平竞争审查, 征收补偿 …):
    jieba's words, by model.segment's faster walk of jieba's dictionary."""
    return [w for w in _segmenter().lcut(text) if w.strip()]
