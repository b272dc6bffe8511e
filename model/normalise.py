"""Text normalisation: the first step of the pipeline.

Everything downstream (rules, extraction, the learned model) sees the same canonical
text, so a matter written in Traditional characters, with full-width digits or pasted
from a web page with markup gets the same answer as its clean Simplified twin.
"""
from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache

import opencc

_TAG = re.compile(r"<[^>]{0,200}>")
_SPACE = re.compile(r"\s+")
# Spaces between two Han characters are layout noise (PDF copy, table cells), not meaning.
_HAN_GAP = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")
_CONTROL = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u200b-\u200f\ufeff]")

# NFKC folds full-width ASCII but also turns Chinese punctuation into ASCII, which we keep
# for 《》、。 so spans stay readable; only these characters are folded by hand.
_PUNCT = str.maketrans({"，": ",", "：": ":", "；": ";", "（": "(", "）": ")", "—": "-", "–": "-",
                        "～": "-", "~": "-", "－": "-", "“": '"', "”": '"', "‘": "'", "’": "'"})


@lru_cache(maxsize=1)
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    return _converter().convert(text)


def _fold_width(text: str) -> str:
    out = []
    for ch in text:
        code = ord(ch)
        if 0xFF01 <= code <= 0xFF5E:  # full-width ASCII block
            out.append(chr(code - 0xFEE0))
        elif code == 0x3000:  # ideographic space
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def normalise(text: str | None) -> str:
    """Return canonical Simplified text with half-width ASCII, one space runs and no markup."""
    if not text:
        return ""
    text = html.unescape(text)
    text = _TAG.sub(" ", text)
    text = _CONTROL.sub("", text)
    text = unicodedata.normalize("NFC", text)
    text = _fold_width(text).translate(_PUNCT)
    text = to_simplified(text)
    text = _SPACE.sub(" ", text).strip()
    text = _HAN_GAP.sub("", text)
    return text
