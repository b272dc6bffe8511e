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


@lru_cache(maxsize=1)
def _convertible() -> tuple[frozenset[str], re.Pattern | None] | None:
    """What t2s could change: the characters its dictionaries map, and the phrases of its
    dictionaries that contain none of those characters. A text holding neither comes back
    unchanged, so it need not go through OpenCC's (slow, pure-Python) segmentation. None if the
    dictionaries cannot be read (another opencc release): then every text is converted."""
    conv = _converter()
    try:
        conv.convert("")  # loads the dictionaries
        dicts = [entry[2] for group in conv._dict_chain_data for entry in group]
        chars = frozenset(k for d in dicts for k in d if len(k) == 1)
        phrases = sorted(k for d in dicts for k in d if len(k) > 1 and chars.isdisjoint(k))
    except (AttributeError, IndexError, TypeError):
        return None
    if not chars:
        return None
    return chars, (re.compile("|".join(map(re.escape, phrases))) if phrases else None)


def to_simplified(text: str) -> str:
    check = _convertible()
    if check is not None and check[0].isdisjoint(text) and (check[1] is None or not check[1].search(text)):
        return text
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
