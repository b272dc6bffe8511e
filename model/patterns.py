"""Compiled rule patterns: a rule's list of regular expressions, compiled once at load, plus one
alternation of them all, so that the common case — none of them matches — costs one search
instead of one per pattern. Which pattern matched first (list order), and its span, stay as they
were: the alternation only answers "does any match".

Most rules miss most matters, and even one search costs far more than a few set operations. So
each pattern also knows, where it allows, the sets of characters every match of it meets
(`(招标|采购)[^。]{0,8}公告` needs 招 or 采, and 公, and 告): given the characters of the text
(`chars`, computed once per matter by the caller), a set whose patterns each miss one of their
sets is skipped without searching. This is only a filter: whatever passes it is searched as
before, so the answers do not change."""
from __future__ import annotations

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


def _meets(needs: tuple[frozenset[str], ...] | None, chars: frozenset[str]) -> bool:
    """Whether a text of these characters meets every one of a pattern's needed sets."""
    if needs is not None:
        for need in needs:
            if need.isdisjoint(chars):
                return False
    return True


class CharIndex:
    """Items filed under characters, so that the items a text may concern are found with one
    set intersection and a few bit operations instead of one check per item."""

    def __init__(self, keys: list[frozenset[str] | None]):
        """keys[i]: the characters item i is filed under (None: it is always a candidate)."""
        self._always = 0  # bit i: item i
        self._by_char: dict[str, int] = {}
        for i, key in enumerate(keys):
            if key is None:
                self._always |= 1 << i
                continue
            for ch in key:
                self._by_char[ch] = self._by_char.get(ch, 0) | 1 << i
        self._chars = frozenset(self._by_char)

    def candidates(self, chars: frozenset[str]) -> list[int]:
        """The items filed under any of these characters, or always, in ascending order."""
        mask = self._always
        for ch in self._chars.intersection(chars):
            mask |= self._by_char[ch]
        out = []
        while mask:
            low = mask & -mask
            out.append(low.bit_length() - 1)
            mask ^= low
        return out


class PatternSet(list):
    """The compiled patterns (a list, in the rule's order) with `first` and `any`. Both take the
    text's characters as `chars` (a set): then only the patterns whose needed sets the text
    meets are searched, one by one in list order (the joined alternation would try them all)."""

    def __init__(self, patterns: list[str]):
        super().__init__(re.compile(p) for p in patterns)
        self._any = _joined(list(patterns))
        # Per pattern, the sets its matches meet (None: that pattern cannot be filtered), and
        # the patterns filed under the characters of their smallest set.
        self.needs: list[tuple[frozenset[str], ...] | None] = [needed_chars(p) for p in patterns]
        self.keys: frozenset[str] | None = (frozenset().union(*(n[0] for n in self.needs))
                                             if None not in self.needs else None)
        self._index = CharIndex([n[0] if n is not None else None for n in self.needs])

    def _search(self, text: str, chars: frozenset[str]) -> re.Match | None:
        if self.keys is not None and self.keys.isdisjoint(chars):  # the common case, at once
            return None
        needs = self.needs
        for i in self._index.candidates(chars):
            if _meets(needs[i], chars):
                m = self[i].search(text)
                if m:
                    return m
        return None

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
    found in one pass: every pattern of the family is filed under the characters of its
    smallest needed set, so a text reaches only the patterns filed under its own characters;
    those that meet all their sets are searched, rule by rule and in order, until one matches.
    A rule's other conditions (requires_any, unless) are still the rule's to check."""

    def __init__(self, rules: list, patterns: list[PatternSet]):
        self.rules = list(rules)
        self._rule: list[int] = []  # per pattern of the family: its rule, its needs, compiled
        self._needs: list[tuple[frozenset[str], ...] | None] = []
        self._compiled: list[re.Pattern] = []
        for r, ps in enumerate(patterns):
            self._rule.extend([r] * len(ps))
            self._needs.extend(ps.needs)
            self._compiled.extend(ps)
        self._index = CharIndex([n[0] if n is not None else None for n in self._needs])

    def first_matches(self, text: str, chars: frozenset[str]) -> list[tuple[object, re.Match]]:
        out = []
        matched = -1  # the rule whose pattern matched last: its later patterns need no search
        for i in self._index.candidates(chars):
            r = self._rule[i]
            if r != matched and _meets(self._needs[i], chars):
                m = self._compiled[i].search(text)
                if m:
                    out.append((self.rules[r], m))
                    matched = r
        return out
