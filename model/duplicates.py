"""Duplicate proposals in one batch: the same matter submitted twice, perhaps by two units or
with different punctuation, years or full-width digits, is flagged against its first row."""
from __future__ import annotations

import re

from .normalise import normalise

_NOISE = re.compile(r"[\s\"'“”‘’《》〈〉()\[\]【】\-—,.;:、。!?！？]|^关于|的通知$|的请示$|\(送审稿\)|\(草案\)|\(征求意见稿\)")


def title_key(title: str) -> str:
    t = normalise(title or "")
    t = re.sub(r"\((送审稿|草案|征求意见稿|试行)\)", "", t)
    t = re.sub(r"(的通知|的请示|的报告)$", "", t)
    t = re.sub(r"^关于", "", t)
    return _NOISE.sub("", t)


class DuplicateFinder:
    """Feed titles in row order; `see` returns the row number of the first identical matter."""

    def __init__(self) -> None:
        self._first: dict[str, int] = {}

    def see(self, row: int, title: str | None) -> int | None:
        key = title_key(title or "")
        if not key:
            return None
        first = self._first.setdefault(key, row)
        return None if first == row else first
