"""Compiled rule patterns: a rule's list of regular expressions, compiled once at load, plus one
alternation of them all, so that the common case — none of them matches — costs one search
instead of one per pattern. Which pattern matched first (list order), and its span, stay as they
were: the alternation only answers "does any match"."""
from __future__ import annotations

import re

# Group references would point at other groups once the patterns are joined into one.
_GROUP_REFERENCE = re.compile(r"\\[1-9]|\(\?P=|\(\?\(")


def _joined(patterns: list[str]) -> re.Pattern | None:
    if len(patterns) < 2 or any(_GROUP_REFERENCE.search(p) for p in patterns):
        return None
    try:  # inline global flags or repeated group names cannot be joined: keep the list
        return re.compile("|".join(f"(?:{p})" for p in patterns))
    except re.error:
        return None


class PatternSet(list):
    """The compiled patterns (a list, in the rule's order) with `first` and `any`."""

    def __init__(self, patterns: list[str]):
        super().__init__(re.compile(p) for p in patterns)
        self._any = _joined(list(patterns))

    def any(self, text: str) -> bool:
        if self._any is not None:
            return self._any.search(text) is not None
        return any(rx.search(text) for rx in self)

    def first(self, text: str) -> re.Match | None:
        """The match of the first pattern in list order that matches, or None."""
        if self._any is not None and self._any.search(text) is None:
            return None
        for rx in self:
            m = rx.search(text)
            if m:
                return m
        return None
