"""What the TF-IDF model reads from a matter, without scikit-learn: the word analyser (jieba
words and adjacent pairs) and the meta tokens (level, kind of the lead unit).

Both the fitted estimators (tfidf_estimators.py, which re-exports these names so pickles that
name `model.learned.tfidf_estimators.word_ngrams` still load) and the serving path
(tfidf_fast.py, tfidf_serving.py) use them; this module imports neither scikit-learn nor scipy."""
from __future__ import annotations

import re

from ..extract import tokens


def word_ngrams(text: str) -> list[str]:
    """jieba words and adjacent word pairs (module-level so the vectoriser pickles)."""
    words = tokens(text)
    return words + [a + "_" + b for a, b in zip(words, words[1:])]


# The lead unit (承办单位) reduced to its kind: what it is, not who (names would only let the
# model memorise issuers). First match wins; the town and street forms come before 办/委.
_UNIT_KINDS = [
    (re.compile(r"街道"), "街道"),
    (re.compile(r"[镇乡](人民政府|政府|党委)?$"), "乡镇"),
    (re.compile(r"(人民政府|政府)$"), "政府"),
    (re.compile(r"(管委会|管理委员会)$"), "管委会"),
    (re.compile(r"(公司|集团)$"), "企业"),
    (re.compile(r"局$"), "局"),
    (re.compile(r"(委员会|委)$"), "委"),
    (re.compile(r"(办公室|办)$"), "办"),
    (re.compile(r"厅$"), "厅"),
    (re.compile(r"(中心|站|所|院|队)$"), "事业单位"),
    (re.compile(r"(处|科|股)$"), "处室"),
]


def unit_kind(unit: str | None) -> str | None:
    if not unit or not unit.strip():
        return None
    u = re.sub(r"\s+", "", unit)
    for rx, kind in _UNIT_KINDS:
        if rx.search(u):
            return kind
    return "其他"


def meta_tokens(meta: dict | None) -> list[str]:
    """What the compiler gives besides the text, as tokens: LEVEL=town, UNIT=局. A missing field
    gives no token.

    The profile is not a token: in the corpus each non-national profile's items carry one label
    (all 23 jiangsu_city items major, all 28 yunnan items not major), so a PROFILE token learned
    the label, not the profile — under jiangsu_city it lifted 80% of real non-major matters to
    P ≥ 0.1 (20% under national). The rulebooks carry what a profile changes."""
    if not meta:
        return []
    out = []
    if meta.get("level"):
        out.append(f"LEVEL={meta['level']}")
    kind = unit_kind(meta.get("unit"))
    if kind:
        out.append(f"UNIT={kind}")
    return out
