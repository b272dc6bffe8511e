"""Near-duplicate matters: two rows (often from two departments) that name the same matter in
different words, e.g. "城区居民生活用水价格调整方案" and "关于调整城区居民生活用水价格的实施方案".

Built on the one duplicate key (model.vocab.duplicate_key): the key's core is what is left after
the words that say what is done with a matter rather than which matter it is (关于, 调整, 实施,
方案, 办法 …). Two cores that are equal, or one inside the other, or nearly equal by rapidfuzz's
edit ratio (a single differing character such as 水/气 or 市/县 names another matter, so the bar
is high and the numbers in both must agree), are near-duplicates. Candidates come from an index
of the cores' first and last characters, so a file of a million rows is not compared pair by pair.

Exact duplicates (equal keys) are DuplicateFinder's; this finder reports the others, with both
planned dates so a conflict shows."""
from __future__ import annotations

import re
import sys
from collections import defaultdict
from dataclasses import dataclass

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from .vocab import duplicate_key

# Words about the handling of a matter, not its identity (longest first).
_HANDLING = re.compile("|".join(sorted([
    "关于", "实施方案", "工作方案", "方案", "实施意见", "意见", "实施办法", "管理办法", "办法", "实施细则", "细则",
    "规定", "调整", "修订", "修改", "制定", "编制", "印发", "出台", "实施", "开展", "推进", "进一步", "加强",
    "的", "草案", "送审稿", "征求意见稿", "试行", "暂行"], key=len, reverse=True)))
_DIGITS = re.compile(r"\d+")
_PLACE = set("省市区县州盟旗镇乡村街")  # the last character of a place name
MIN_CORE = 4  # shorter cores ("规划", "方案") say too little to match on
RATIO = 85.0  # rapidfuzz ratio (0-100) at least, for cores that differ by characters added or left out
ANCHOR = 4  # characters at either end of a core that candidates must share
MAX_CANDIDATES = 10  # cores remembered per anchor (the latest): at most 20 comparisons a row
MAX_MEMBERS = 20  # rows remembered per core (the 21st copy of a matter adds nothing to show)


def core(title: str | None) -> str:
    """A title's duplicate key without the handling words."""
    return core_of_key(duplicate_key(title))


def core_of_key(key: str) -> str:
    return _HANDLING.sub("", key)


def _near_place(s: str, p: int) -> bool:
    return any(ch in _PLACE for ch in s[max(0, p - 2):p + 3])


def similarity(a: str, b: str, digits_a: str | None = None, digits_b: str | None = None) -> float:
    """0-100 for two cores: 100 when equal; 96 when one starts or ends the other (the issuer or
    the years added); else the edit ratio when the longer only adds a few characters, away
    from a place name (用水价格 / 生活用水价格). A changed character (水/气, 城东/城西) or an
    addition beside 区/县/镇… (新区/高新区) names another matter: 0, and so do numbers that
    differ (another year, another road). `digits_a`/`digits_b`: the numbers of each as `numbers`
    gives them, when the caller has them already (the finder keeps them with its cores)."""
    if not a or not b or min(len(a), len(b)) < MIN_CORE:
        return 0.0
    if a == b:
        return 100.0
    da = numbers(a) if digits_a is None else digits_a
    db = numbers(b) if digits_b is None else digits_b
    short, long_, digits = (a, b, da) if len(a) <= len(b) else (b, a, db)
    # Numbers first: every non-zero score below needs them to agree, and lists of matters that
    # differ only by a number (第3项, 2027年, 一号路) are common.
    if da != db and not (not digits and short in long_):
        return 0.0
    contained = len(short) >= 6 and (
        (long_.startswith(short) and not _near_place(long_, len(short)))
        or (long_.endswith(short) and not _near_place(long_, len(long_) - len(short))))
    ratio = 0.0 if contained else float(fuzz.ratio(short, long_, score_cutoff=RATIO))
    if not contained and not ratio:
        return 0.0
    if contained:
        return 96.0
    # Only characters added (never some added and others taken away: that is another wording of
    # another thing, 投资补助/直接投资), and none beside a place name.
    if any(op.tag != "insert" or _near_place(long_, op.dest_pos) for op in Levenshtein.editops(short, long_)):
        return 0.0
    return ratio


def numbers(core_: str) -> str:
    """The numbers of a core in order, as one string ("" when none): equal strings, equal numbers."""
    return ",".join(_DIGITS.findall(core_))


@dataclass
class NearMatch:
    row: int  # the earlier row
    score: float
    title: str | None
    unit: str | None
    planned: str | None  # the earlier row's planned date or period as written


class NearDuplicateFinder:
    """Feed rows in order; `see` returns the earlier rows that name nearly the same matter
    (exact duplicates excluded: DuplicateFinder flags those). Rows are grouped by core; other
    cores are candidates when they start or end with the same ANCHOR characters (a matter
    written with or without its issuer, with years added, or with a character changed keeps
    one end), the latest MAX_CANDIDATES per end. Each row costs two dictionary look-ups and
    a bounded number of comparisons, not a pass over the file. Past `max_cores` distinct cores
    new ones are still compared but no longer indexed: memory stays bounded (about 65 MB at
    100,000 distinct matters, far beyond a catalogue, so a million-row file keeps file mode's
    main process under 300 MB)."""

    def __init__(self, threshold: float = RATIO, max_cores: int = 100_000) -> None:
        self.threshold = threshold
        self.max_cores = max_cores
        self._core_ids: dict[str, int] = {}
        self._cores: list[str] = []
        self._digits: list[str] = []  # the numbers of each core (mostly the shared "")
        # Per core its rows: (row, hash of the duplicate key, title, unit, planned). The key's hash,
        # not the key: it only tells exact duplicates (DuplicateFinder's) from near ones, within
        # this process, and a million-row file keeps up to `max_cores` of these.
        self._members: list[list[tuple[int, int, str | None, str | None, str | None]]] = []
        # The latest MAX_CANDIDATES cores per end, oldest first: short lists, not deques (a deque
        # is about 600 bytes even holding one core, and most ends hold one).
        self._ends: dict[str, list[int]] = {}

    def _matches(self, cid: int, key_hash: int, score: float) -> list[NearMatch]:
        return [NearMatch(r, score, t, u, p) for r, k, t, u, p in self._members[cid] if k != key_hash]

    def see(self, row: int, title: str | None, unit: str | None = None, planned: str | None = None,
            key: str | None = None, core_: str | None = None) -> list[NearMatch]:
        """`key` and `core_` may be given when already computed (file mode computes them in its
        worker processes)."""
        key = duplicate_key(title) if key is None else key
        c = core_of_key(key) if core_ is None else core_
        if len(c) < MIN_CORE:
            return []
        out: list[NearMatch] = []
        key_hash = hash(key)
        same = self._core_ids.get(c)
        if same is not None:
            out.extend(self._matches(same, key_hash, 100.0))
        ends = ("<" + c[:ANCHOR], ">" + c[-ANCHOR:])
        seen: set[int] = set()
        digits = numbers(c)
        for end in ends:
            for cid in self._ends.get(end, ()):
                if cid == same or cid in seen:
                    continue
                seen.add(cid)
                score = similarity(c, self._cores[cid], digits, self._digits[cid])
                if score >= self.threshold:
                    out.extend(self._matches(cid, key_hash, score))
        # Units repeat (a few departments send all the rows): one string each, not one a row.
        member = (row, key_hash, title, sys.intern(unit) if type(unit) is str else unit, planned)
        if same is not None:
            if len(self._members[same]) < MAX_MEMBERS:
                self._members[same].append(member)
        elif len(self._cores) < self.max_cores:
            cid = len(self._cores)
            self._core_ids[c] = cid
            self._cores.append(c)
            self._digits.append(digits)
            self._members.append([member])
            for end in ends:
                held = self._ends.get(end)
                if held is None:
                    self._ends[end] = [cid]
                else:
                    held.append(cid)
                    if len(held) > MAX_CANDIDATES:
                        del held[0]
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
