"""Near-duplicate matters: two rows (often from two departments) that name the same matter in
different words, e.g. "城区居民生活用水价格调整方案" and "关于调整城区居民生活用水价格的实施方案".

Built on the one duplicate key (model.vocab.duplicate_key): the key's core is what is left after
the words that say what is done with a matter rather than which matter it is (关于, 调整, 实施,
方案, 办法 …). Two cores that are equal, or one inside the other, or nearly equal by rapidfuzz's
edit ratio (a single differing character such as 水/气 or 市/县 names another matter, so the bar
is high and the numbers in both must agree), are near-duplicates. Candidates come from an index
of character trigrams, so a file of 50,000 rows is not compared pair by pair.

Exact duplicates (equal keys) are DuplicateFinder's; this finder reports the others, with both
planned dates so a conflict shows."""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from rapidfuzz import fuzz

from .vocab import duplicate_key

# Words about the handling of a matter, not its identity (longest first).
_HANDLING = re.compile("|".join(sorted([
    "关于", "实施方案", "工作方案", "方案", "实施意见", "意见", "实施办法", "管理办法", "办法", "实施细则", "细则",
    "规定", "调整", "修订", "修改", "制定", "编制", "印发", "出台", "实施", "开展", "推进", "进一步", "加强",
    "的", "草案", "送审稿", "征求意见稿", "试行", "暂行"], key=len, reverse=True)))
_DIGITS = re.compile(r"\d+")
MIN_CORE = 4  # shorter cores ("规划", "方案") say too little to match on
RATIO = 95.0  # rapidfuzz ratio (0-100) of two cores that differ by a character or two
MAX_POSTING = 100  # a trigram shared by more cores than this is too common to find candidates by
MAX_CANDIDATES = 30  # cores compared per row, those sharing most trigrams first
MAX_MEMBERS = 20  # rows remembered per core (the 21st copy of a matter adds nothing to show)


def core(title: str | None) -> str:
    """A title's duplicate key without the handling words."""
    return _HANDLING.sub("", duplicate_key(title))


def _grams(s: str) -> set[str]:
    return {s[i:i + 3] for i in range(len(s) - 2)} if len(s) >= 3 else {s}


def similarity(a: str, b: str) -> float:
    """0-100 for two cores: 100 when equal, 96 when one holds the other, else the edit ratio;
    0 when their numbers differ (another year, another road)."""
    if not a or not b or min(len(a), len(b)) < MIN_CORE:
        return 0.0
    if a == b:
        return 100.0
    if _DIGITS.findall(a) != _DIGITS.findall(b):
        short, long_ = sorted((a, b), key=len)
        # "县供水专项规划" vs "县供水专项规划2025-2035年": the years only added, not changed.
        if not (_DIGITS.findall(short) == [] and short in long_):
            return 0.0
    short, long_ = sorted((a, b), key=len)
    if len(short) >= 6 and short in long_:
        return 96.0
    return float(fuzz.ratio(a, b))


@dataclass
class NearMatch:
    row: int  # the earlier row
    score: float
    title: str | None
    unit: str | None
    planned: str | None  # the earlier row's planned date or period as written


class NearDuplicateFinder:
    """Feed rows in order; `see` returns the earlier rows that name nearly the same matter
    (exact duplicates excluded: DuplicateFinder flags those). Rows are grouped by core, and
    candidates are the cores sharing at least half the trigrams of the shorter one, so each
    row costs a few dictionary look-ups, not a pass over the file. Past `max_cores` distinct
    cores new ones are still compared but no longer indexed: memory stays bounded."""

    def __init__(self, threshold: float = RATIO, max_cores: int = 200_000) -> None:
        self.threshold = threshold
        self.max_cores = max_cores
        self._core_ids: dict[str, int] = {}
        self._cores: list[tuple[str, int]] = []  # (core, number of its trigrams)
        self._members: list[list[tuple[int, str, str | None, str | None, str | None]]] = []
        self._postings: dict[str, list[int]] = defaultdict(list)

    def _matches(self, cid: int, key: str, score: float) -> list[NearMatch]:
        return [NearMatch(r, score, t, u, p) for r, k, t, u, p in self._members[cid] if k != key]

    def see(self, row: int, title: str | None, unit: str | None = None, planned: str | None = None) -> list[NearMatch]:
        key = duplicate_key(title)
        c = core(title)
        if len(c) < MIN_CORE:
            return []
        grams = _grams(c)
        out: list[NearMatch] = []
        same = self._core_ids.get(c)
        if same is not None:
            out.extend(self._matches(same, key, 100.0))
        shared: Counter = Counter()
        for g in grams:
            shared.update(self._postings.get(g, ()))
        # The cores sharing most trigrams only: a row costs at most MAX_CANDIDATES comparisons.
        for cid, n in shared.most_common(MAX_CANDIDATES):
            if cid == same:
                continue
            c2, n2 = self._cores[cid]
            if n * 2 < min(len(grams), n2):
                continue
            score = similarity(c, c2)
            if score >= self.threshold:
                out.extend(self._matches(cid, key, score))
        member = (row, key, title, unit, planned)
        if same is not None:
            if len(self._members[same]) < MAX_MEMBERS:
                self._members[same].append(member)
        elif len(self._cores) < self.max_cores:
            cid = len(self._cores)
            self._core_ids[c] = cid
            self._cores.append((c, len(grams)))
            self._members.append([member])
            for g in grams:
                posting = self._postings[g]
                if len(posting) < MAX_POSTING:
                    posting.append(cid)
        out.sort(key=lambda m: (-m.score, m.row))
        return out


def as_dict(m: NearMatch, unit: str | None, planned: str | None) -> dict:
    """A match as the API, the JSON Lines output and the exports show it, seen from a row with
    `unit` and `planned`: whether the unit differs and the planned dates conflict."""
    return {"row": m.row, "title": m.title, "unit": m.unit, "planned": m.planned, "score": round(m.score, 1),
            "other_unit": (unit or "") != (m.unit or ""), "date_conflict": bool(planned and m.planned
                                                                                and planned != m.planned)}


def describe(matches: list[dict] | None) -> str:
    """近似重复 as a spreadsheet cell: the other rows, their units, and a planned date that conflicts."""
    parts = []
    for m in matches or []:
        s = f"与第{m['row']}行近似"
        if m.get("unit"):
            s += f" ({m['unit']})"
        if m.get("date_conflict"):
            s += f", 计划时间不一致: {m.get('planned') or ''}"
        parts.append(s)
    return "; ".join(parts)


def find_near_duplicates(rows) -> dict[int, list[dict]]:
    """For (row, title, unit, planned) tuples in order: each row's near-duplicates among all
    the others (both directions), with whether the planned dates conflict."""
    finder = NearDuplicateFinder()
    info = {}
    out: dict[int, list[dict]] = defaultdict(list)
    for row, title, unit, planned in rows:
        info[row] = (title, unit, planned)
        for m in finder.see(row, title, unit, planned):
            out[row].append(as_dict(m, unit, planned))
            earlier_unit, earlier_planned = info[m.row][1], info[m.row][2]
            out[m.row].append(as_dict(NearMatch(row, m.score, title, unit, planned), earlier_unit, earlier_planned))
    return dict(out)
