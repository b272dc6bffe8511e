"""Compiled rule patterns: a rule's list of regular expressions, compiled once at load, plus one
alternation of them all, so that the common case — none of them matches — costs one search
instead of one per pattern. Which pattern matched first (list order), and its span, stay as they
were: the alternation only answers "does any match".

Most rules miss most matters, and even one search costs far more than a few set operations. So
each pattern also knows, where it allows, the sets of characters every match of it meets
(`(招标|采购)[^。]{0,8}公告` needs 招 or 采, and 公, and 告): given the characters of the text
(`chars`, computed once per matter by the caller), a pattern that misses one of its sets is
not searched. A family of rules (PatternIndex) works this out for all its patterns at once, in
one pass over the text's characters. This is only a filter: whatever passes it is searched as
before, so the answers do not change."""
from __future__ import annotations

import functools
import re

try:  # the parser behind re.compile (a private module, so anything unexpected disables the filter)
    from re import _constants as _sre
    from re import _parser as _sre_parse
except ImportError:  # pragma: no cover
    import sre_constants as _sre  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]

# Group references would point at other groups once the patterns are joined into one.
_GROUP_REFERENCE = re.compile(r"\\[1-9]|\(\?P=|\(\?\(")
_REPEATS = {_sre.MAX_REPEAT, _sre.MIN_REPEAT, getattr(_sre, "POSSESSIVE_REPEAT", _sre.MAX_REPEAT)}
_ATOMIC_GROUP = getattr(_sre, "ATOMIC_GROUP", object())
_WIDEST_RANGE = 256  # a class wider than this ([\u4e00-\u9fff]) filters nothing worth the set


def _joined(patterns: list[str]) -> re.Pattern | None:
    if len(patterns) < 2 or any(_GROUP_REFERENCE.search(p) for p in patterns):
        return None
    try:  # inline global flags or repeated group names cannot be joined: keep the list
        return re.compile("|".join(f"(?:{p})" for p in patterns))
    except re.error:
        return None


def _required(items) -> list[frozenset[str]]:
    """Sets of characters a match of this sequence must each meet (contain one character of):
    every part of a sequence consumes its own match, so every part's set is needed."""
    out: list[frozenset[str]] = []
    for op, av in items:
        if op is _sre.LITERAL:
            out.append(frozenset(chr(av)))
        elif op is _sre.IN:
            chars: set[str] = set()
            for o, a in av:
                if o is _sre.LITERAL:
                    chars.add(chr(a))
                elif o is _sre.RANGE and a[1] - a[0] < _WIDEST_RANGE:
                    chars.update(map(chr, range(a[0], a[1] + 1)))
                else:  # a negated class, \d, \w, a wide range: any character may do
                    break
            else:
                out.append(frozenset(chars))
        elif op is _sre.SUBPATTERN:
            if not av[1] & re.IGNORECASE:  # av: group, added flags, removed flags, body
                out.extend(_required(av[-1]))
        elif op in _REPEATS:
            if av[0] >= 1:  # av: min, max, body; a part that may be absent needs nothing
                out.extend(_required(av[2]))
        elif op is _ATOMIC_GROUP:
            out.extend(_required(av))
        elif op is _sre.BRANCH:
            # One of the alternatives matches: the union of each one's most selective set.
            union: set[str] = set()
            for branch in av[1]:
                sets = _required(branch)
                if not sets:
                    break
                union |= min(sets, key=len)
            else:
                out.append(frozenset(union))
        # ., anchors, lookarounds (they consume nothing), group references, [^x]: nothing needed
    return out


def needed_chars(pattern: str) -> tuple[frozenset[str], ...] | None:
    """Sets of characters every match of `pattern` meets, smallest first; None when there are
    none (or the pattern ignores case, or the parser is not the one this was written for)."""
    try:
        parsed = _sre_parse.parse(pattern)
        if parsed.state.flags & re.IGNORECASE:
            return None
        return tuple(sorted(set(_required(parsed)), key=len)) or None
    except Exception:  # noqa: BLE001  (a private parser: no filter rather than a wrong one)
        return None


class PatternSet(list):
    """The compiled patterns (a list, in the rule's order) with `first` and `any`. Both take the
    text's characters as `chars` (a set): then only the patterns whose needed sets the text
    meets are searched, one by one in list order (the joined alternation would try them all)."""

    def __init__(self, patterns: list[str]):
        super().__init__(re.compile(p) for p in patterns)
        self._sources = tuple(patterns)
        # Per pattern, the sets its matches meet (None: that pattern cannot be filtered); the
        # characters of which a text needs one for any pattern to match (None: no such set).
        self.needs: list[tuple[frozenset[str], ...] | None] = [needed_chars(p) for p in patterns]
        self.keys: frozenset[str] | None = (frozenset().union(*(n[0] for n in self.needs))
                                             if None not in self.needs else None)
        self._index = PatternIndex([self], [self])

    @functools.cached_property
    def _any(self) -> re.Pattern | None:
        # Compiled on first use: the screener passes the text's characters and never needs it,
        # and joining and compiling every rule's patterns was a tenth of a second at start-up.
        return _joined(list(self._sources))

    def _search(self, text: str, chars: frozenset[str]) -> re.Match | None:
        if self.keys is not None and self.keys.isdisjoint(chars):  # the common case, at once
            return None
        found = self._index.first_matches(text, chars)
        return found[0][1] if found else None

    def any(self, text: str, chars: frozenset[str] | None = None) -> bool:
        if chars is not None:
            return self._search(text, chars) is not None
        if self._any is not None:
            return self._any.search(text) is not None
        return any(rx.search(text) for rx in self)

    def first(self, text: str, chars: frozenset[str] | None = None) -> re.Match | None:
        """The match of the first pattern in list order that matches, or None."""
        if chars is not None:
            return self._search(text, chars)
        if self._any is not None and self._any.search(text) is None:
            return None
        for rx in self:
            m = rx.search(text)
            if m:
                return m
        return None


class PatternIndex:
    """The rules of a family (exclusions, enumerations …) whose patterns match a text, with the
    match of each one's first matching pattern in list order (what `PatternSet.first` gives),
    found in one pass. Which patterns meet all their needed sets is worked out for the whole
    family at once, with integers as bit sets: each needed set of each pattern has a bit, a
    pattern's bits lie side by side with one spare bit above them, and a text sets the bits of
    the sets its characters meet. Adding 1 at the lowest bit of every pattern carries into a
    pattern's spare bit exactly when all its bits are set. Only those patterns are searched,
    rule by rule and in order, until one of the rule's matches; a rule's other conditions
    (requires_any, unless) are still the rule's to check."""

    def __init__(self, rules: list, patterns: list[PatternSet]):
        self.rules = list(rules)
        self._by_char: dict[str, int] = {}  # character -> the bits of the sets it meets
        self._lowest = self._spare = 0
        self._pattern: dict[int, tuple[int, re.Pattern]] = {}  # spare bit -> (rule, pattern)
        bit = 0
        for r, ps in enumerate(patterns):
            for rx, needs in zip(ps, ps.needs):
                self._lowest |= 1 << bit
                for need in needs or ():  # a pattern without needed sets: spare bit only
                    for ch in need:
                        self._by_char[ch] = self._by_char.get(ch, 0) | 1 << bit
                    bit += 1
                self._spare |= 1 << bit
                self._pattern[bit] = (r, rx)
                bit += 1
        self._sets = ((1 << bit) - 1) & ~self._spare
        self._chars = frozenset(self._by_char)

    def first_matches(self, text: str, chars: frozenset[str]) -> list[tuple[object, re.Match]]:
        met = 0
        for ch in self._chars.intersection(chars):
            met |= self._by_char[ch]
        passed = ((met & self._sets) + self._lowest) & self._spare
        out = []
        matched = -1  # the rule whose pattern matched last: its later patterns need no search
        while passed:
            low = passed & -passed
            passed ^= low
            r, rx = self._pattern[low.bit_length() - 1]
            if r != matched:
                m = rx.search(text)
                if m:
                    out.append((self.rules[r], m))
                    matched = r
        return out
