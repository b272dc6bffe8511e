"""Turning a stored answer (the contract's JSON, model/contract.py) into what the pages show: Chinese labels,
the matter's text with the phrases that drove the verdict marked, the numbers read, the
procedures as a checklist and a dated timeline.

Nothing here decides anything: every fact shown comes from the answer itself, except the
model's phrase weights, which the answer carries only as text (explain.py lists the terms in
the "model" reason) and which are recomputed from the same model on the same text."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from itertools import groupby
from urllib.parse import unquote

from model.extract import tokens
from model.normalise import normalise
from model.vocab import (
    ATTRIBUTE_ZH,
    CATEGORY_ZH,
    EXCLUSION_ZH,
    LEVEL_ZH,
    MEASURE_ZH,
)
from model.vocab import VERDICT_OR_ERROR_ZH as VERDICT_ZH

from ..services.history import BEIJING

VERDICT_LONG = {"major": "属于重大行政决策, 建议纳入目录", "not_major": "不属于重大行政决策",
                "review": "证据不足以自动判断, 请人工研判", "error": "该行输入有误, 未能筛查"}
JOB_STATUS_ZH = {"queued": "排队中", "running": "筛查中", "done": "已完成", "failed": "失败"}
REASON_KIND_ZH = {"exclusion": "排除规则", "exclusion_overridden": "排除被覆盖", "enumeration": "列举规则",
                  "threshold": "数值标准", "no_rule": "未命中规则", "model": "学习模型",
                  "disagreement": "规则与模型分歧", "review_band": "人工复核",
                  "too_little_text": "内容不足"}
NUMBER_ZH = {**MEASURE_ZH, "households": "户数", "period": "期间 (年份)"}
CATEGORY_CHOICES = list(CATEGORY_ZH.items())
EXCLUSION_CHOICES = list(EXCLUSION_ZH.items())
LEVEL_CHOICES = list(LEVEL_ZH.items())
RULE_KINDS = ("exclusion", "exclusion_overridden", "enumeration", "threshold")
# Codes the engine writes inside its Chinese sentences (依据属性: stability_risk), shown by their labels.
_CODE_ZH = {**ATTRIBUTE_ZH, **CATEGORY_ZH, **EXCLUSION_ZH, **LEVEL_ZH}
_CODE_RE = re.compile(r"\b(" + "|".join(sorted(map(re.escape, _CODE_ZH), key=len, reverse=True)) + r")\b")
_ASCII_ASIDE = re.compile(r"\s*\([A-Za-z][A-Za-z \-]*\)")
_QUOTED = re.compile(r"[“\"]([^”\"]{1,80})[”\"]")
_TERM_TRIM = " \t,.;:!?，。；：、！？\"'()（）《》【】[]-"


def zh_text(text: str | None) -> str:
    """An engine message as the Chinese pages show it: the Chinese half of a "中文 / English"
    message, English asides such as "(estimated)" dropped, codes replaced by their labels."""
    t = (text or "").split(" / ")[0]
    t = _ASCII_ASIDE.sub("", t)
    return _CODE_RE.sub(lambda m: _CODE_ZH[m.group(1)], t).strip()


def matter_text(matter: dict) -> str:
    """The text the screener read, where the answer's spans point (model.screener builds it so)."""
    title = matter.get("title") or ""
    desc = matter.get("description")
    return normalise(title + ("。" + desc if desc else ""))


# -- highlighting ----------------------------------------------------------------------------

@dataclass
class Segment:
    text: str
    refs: list[int] = field(default_factory=list)  # numbers of the reasons whose evidence this is
    end_refs: list[int] = field(default_factory=list)  # those whose evidence ends here (marked [n] here)
    model: str | None = None  # "major" / "not_major": which way this phrase pushed the model
    weight: float = 0.0
    term: str | None = None

    @property
    def marked(self) -> bool:
        return bool(self.refs) or self.model is not None

    @property
    def css(self) -> str:
        out = []
        if self.refs:
            out.append("hl-rule")
        if self.model:
            out.append(f"hl-model-{self.model}")
        return " ".join(out)

    @property
    def note(self) -> str:
        """What the mark means, for the tooltip and for screen readers."""
        parts = []
        if self.refs:
            parts.append("规则证据 " + " ".join(f"[{r}]" for r in self.refs))
        if self.model:
            way = "推向重大" if self.model == "major" else "推向非重大"
            parts.append(f"模型关键词 “{self.term}” ({way}, 权重 {self.weight:+.2f})")
        return "; ".join(parts)


def _evidence_span(text: str, reason: dict) -> tuple[int, int] | None:
    span = reason.get("span")
    if span and len(span) == 2 and 0 <= span[0] < span[1] <= len(text):
        return span[0], span[1]
    evidence = (reason.get("evidence") or "").strip()
    if not evidence:
        return None
    # Threshold evidence reads like 文中“3000万元”×2.62人/户: the quoted part is what the text says.
    m = _QUOTED.search(evidence)
    needle = normalise(m.group(1)) if m else normalise(evidence)
    i = text.find(needle) if needle else -1
    return (i, i + len(needle)) if i >= 0 else None


def clean_terms(terms: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """The model's features as a reader knows them: n-grams without edge punctuation, each once."""
    seen: dict[str, float] = {}
    for term, weight in terms:
        t = term.strip(_TERM_TRIM)
        # A bare number or a single character says nothing to a reader.
        if len(t) < 2 or t in seen or not re.search(r"[\u4e00-\u9fffA-Za-z]", t):
            continue
        seen[t] = weight
    return list(seen.items())


def word_boundaries(text: str) -> set[int]:
    """Offsets where a word starts or ends (jieba with the domain dictionary, numbers whole):
    a model phrase is marked only from one boundary to another, never as a fragment such as
    "202" of 2027 or "0万" of 3000万元."""
    out = {0, len(text)}
    pos = 0
    for tok in tokens(text):
        i = text.find(tok, pos)
        if i < 0:
            continue
        out.update((i, i + len(tok)))
        pos = i + len(tok)
    return out


_MAGNITUDE = "十百千万亿"


def _cuts_number(text: str, start: int) -> bool:
    """A phrase starting at the magnitude of a number (万户 of 12万户) would cut the number 12万."""
    return start > 0 and text[start - 1].isdigit() and text[start] in _MAGNITUDE


def highlight(text: str, reasons: list[dict], terms: list[tuple[str, float]]) -> list[Segment]:
    n = len(text)
    bounds = word_boundaries(text) if terms else set()
    refs: list[list[int]] = [[] for _ in range(n)]
    model: list[tuple[str, float, str] | None] = [None] * n
    for number, reason in enumerate(reasons, start=1):
        if reason.get("kind") not in RULE_KINDS:
            continue
        span = _evidence_span(text, reason)
        if span is None:
            continue
        for i in range(*span):
            if number not in refs[i]:
                refs[i].append(number)
    # Longer terms first, so 实施方案 wins over 方案 where both match.
    for term, weight in sorted(terms, key=lambda tw: -len(tw[0])):
        way = "major" if weight > 0 else "not_major"
        start = text.find(term)
        while start >= 0:
            end = start + len(term)
            if (start in bounds and end in bounds and not _cuts_number(text, start)
                    and all(model[i] is None for i in range(start, end))):
                for i in range(start, end):
                    model[i] = (way, weight, term)
            start = text.find(term, end)
    segments: list[Segment] = []
    for (ref_key, m), chars in groupby(range(n), key=lambda i: (tuple(refs[i]), model[i])):
        piece = "".join(text[i] for i in chars)
        segments.append(Segment(piece, list(ref_key), [], m[0] if m else None, m[1] if m else 0.0,
                                m[2] if m else None))
    # A rule's evidence may be cut into several pieces by model phrases inside it: its [n] goes
    # once, after the last piece.
    for i, seg in enumerate(segments):
        after = segments[i + 1].refs if i + 1 < len(segments) else []
        seg.end_refs = [r for r in seg.refs if r not in after]
    return segments


# -- numbers, procedures, timeline -----------------------------------------------------------

# Years and year ranges are written as years are: 2027, never "2,027".
_PLAIN_NUMBERS = frozenset({"period", "year", "years", "duration_years"})


def _num(v, plain: bool = False) -> str:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, int):
        return str(v) if plain else f"{v:,}"
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1e6 else f"{v:,.0f}"
    if isinstance(v, list):
        return " – ".join(_num(x, plain) for x in v)
    return str(v)


def numbers_view(numbers: dict) -> dict:
    used = [{"name": NUMBER_ZH.get(k, k), "value": _num(v.get("value"), k in _PLAIN_NUMBERS),
             "source": v.get("from") or ""} for k, v in (numbers.get("used") or {}).items()]
    read = [{"name": NUMBER_ZH.get(k, k), "value": _num(v, k in _PLAIN_NUMBERS)} for k, v in numbers.items()
            if k not in ("used", "level")]
    return {"used": used, "read": read, "level": LEVEL_ZH.get(numbers.get("level") or "", numbers.get("level"))}


def _date(v) -> dt.date | None:
    if not v:
        return None
    if isinstance(v, dt.date):
        return v
    try:
        return dt.date.fromisoformat(str(v)[:10])
    except ValueError:
        return None


def procedures_view(procedures: list[dict]) -> list[dict]:
    out = []
    for p in procedures:
        d = p.get("deadline") or {}
        dates = []
        for key, label in (("earliest", "不早于"), ("latest_start", "最迟启动"), ("latest_finish", "最迟完成")):
            if d.get(key):
                dates.append({"label": label, "date": str(d[key])})
        # Dates on an estimated holiday calendar (a year not yet published) are marked as such.
        out.append({"name": p["name"], "required": bool(p.get("required")), "why": zh_text(p.get("why")),
                    "basis": p.get("basis") or "", "dates": dates, "rule": d.get("rule") or "",
                    "estimated": bool(dates) and bool(d.get("estimated"))})
    # Required first (the checklist a compiler works down), keeping the contract's order within each.
    return sorted(out, key=lambda p: not p["required"])


def timeline(procedures: list[dict], planned: dt.date | None, today: dt.date) -> list[dict]:
    """The required procedures' dates, grouped by day, earliest first."""
    order = {"最迟启动": 0, "最迟完成": 1, "不早于": 2}
    by_day: dict[dt.date, list[dict]] = {}
    for p in procedures:
        if not p.get("required"):
            continue
        d = p.get("deadline") or {}
        for key, label in (("latest_start", "最迟启动"), ("latest_finish", "最迟完成"), ("earliest", "不早于")):
            day = _date(d.get(key))
            if day is not None:
                by_day.setdefault(day, []).append({"label": label, "name": p["name"], "rule": d.get("rule") or "",
                                                   "estimated": bool(d.get("estimated"))})
    if planned is not None:
        by_day.setdefault(planned, [])
    days = []
    for day in sorted(by_day):
        items = sorted(by_day[day], key=lambda e: order.get(e["label"], 3))
        delta = (day - today).days
        days.append({
            "iso": day.isoformat(), "weekday": "一二三四五六日"[day.weekday()], "events": items,
            "planned": day == planned,
            # "Latest" dates already past are overdue; a "not before" date in the past is simply open.
            "overdue": delta < 0 and any(e["label"] in ("最迟启动", "最迟完成") for e in items),
            "when": "今天" if delta == 0 else (f"{delta} 天后" if delta > 0 else f"{-delta} 天前"),
        })
    return days


# -- the whole answer --------------------------------------------------------------------------

def model_terms(screener, text: str, record_model_version: str | None) -> tuple[list[tuple[str, float]], str | None]:
    """The phrases that drove the model on this text, with their weights, and a note when
    there are none to show."""
    model = getattr(screener, "model", None)
    if model is None:
        return [], "未使用学习模型 (仅规则), 没有模型关键词"
    if record_model_version and record_model_version != screener.model_version:
        return [], f"该记录由另一版本的模型 ({record_model_version}) 作出, 不再显示其关键词"
    try:
        pred = model.predict([text], k_similar=0)[0]
    except Exception:  # an explanation must never break the page that shows the verdict
        return [], "模型关键词暂时无法计算"
    terms = clean_terms(list(pred.terms))
    if not terms:
        return [], "当前模型不提供逐词解释"
    return terms, None


def source_parts(source: str | None) -> list[dict]:
    """A rule's source line ("title · issuer · year · URL") with its URL made a readable link."""
    parts = []
    for piece in (source or "").split(" · "):
        piece = piece.strip()
        if re.match(r"https?://", piece):
            parts.append({"text": unquote(piece), "url": piece})
        elif piece:
            parts.append({"text": piece, "url": None})
    return parts


MATTER_FIELDS = (("unit", "承办单位"), ("level", "层级"), ("profile", "标准"), ("amount_wan", "金额(万元)"),
                 ("people", "涉及人数"), ("area_mu", "面积(亩)"), ("length_km", "长度(公里)"),
                 ("duration_years", "期限(年)"), ("planned_date", "计划决策日期"), ("id", "序号"))


def matter_facts(matter: dict, screener) -> list[tuple[str, str]]:
    """A submitted matter's fields as the record page lists them, codes shown by their Chinese names."""
    out = []
    for key, label in MATTER_FIELDS:
        v = matter.get(key)
        if v in (None, ""):
            continue
        if key == "level":
            v = LEVEL_ZH.get(str(v), v)
        elif key == "profile":
            v = profile_name(screener, str(v))
        elif isinstance(v, float) and v.is_integer():
            v = int(v)
        out.append((label, str(v)))
    return out


def profile_name(screener, profile: str | None) -> str:
    return _profile_name(screener, profile)


def _profile_name(screener, profile: str | None) -> str:
    try:
        return screener.rulebooks.get(profile).summary()["name"]
    except (KeyError, AttributeError):  # a record made under a profile since removed
        return profile or ""


def answer_view(answer: dict, matter: dict, screener, today: dt.date | None = None) -> dict:
    today = today or dt.datetime.now(BEIJING).date()
    text = matter_text(matter)
    terms, terms_note = model_terms(screener, text, answer.get("model_version"))
    reasons = []
    for number, r in enumerate(answer.get("reasons") or [], start=1):
        reasons.append({**r, "number": number, "kind_zh": REASON_KIND_ZH.get(r.get("kind"), r.get("kind")),
                        "is_rule": r.get("kind") in RULE_KINDS, "source_parts": source_parts(r.get("source"))})
    exclusion = answer.get("exclusion")
    if exclusion:
        exclusion = {**exclusion, "type_zh": EXCLUSION_ZH.get(exclusion.get("type"), exclusion.get("type"))}
    attributes = sorted(((ATTRIBUTE_ZH.get(k, k), v) for k, v in (answer.get("attributes") or {}).items()),
                        key=lambda kv: -kv[1])
    procedures = answer.get("procedures") or []
    planned = _date(matter.get("planned_date"))
    segments = highlight(text, reasons, terms)
    # The chips list only the phrases marked in the text: whole words, never a fragment.
    marked = {seg.term for seg in segments if seg.term}
    shown_terms = [(t, w) for t, w in terms if t in marked]
    return {
        "verdict": answer["verdict"], "verdict_zh": VERDICT_ZH[answer["verdict"]],
        "verdict_long": VERDICT_LONG[answer["verdict"]],
        "probability": answer.get("probability"), "confidence": answer.get("confidence"),
        "category_zh": CATEGORY_ZH.get(answer.get("category") or "", None),
        "tier_zh": LEVEL_ZH.get(answer.get("tier") or "", None),
        "level_zh": LEVEL_ZH.get(answer.get("level") or "", answer.get("level")),
        "profile": answer.get("profile"), "profile_name": _profile_name(screener, answer.get("profile")),
        "exclusion": exclusion,
        "reasons": reasons, "rules": [r for r in reasons if r["is_rule"]],
        "other_reasons": [r for r in reasons if not r["is_rule"]],
        "segments": segments, "terms": shown_terms, "terms_note": terms_note,
        "numbers": numbers_view(answer.get("numbers") or {}),
        "attributes": attributes, "procedures": procedures_view(procedures),
        "n_required": sum(1 for p in procedures if p.get("required")),
        "timeline": timeline(procedures, planned, today), "planned": planned, "today": today,
        "similar": [{**s, "label_zh": VERDICT_ZH.get(s.get("label"), s.get("label"))}
                    for s in answer.get("similar") or []],
        "warnings": [zh_text(w) for w in answer.get("warnings") or []],
        "model_version": answer.get("model_version"), "rules_version": answer.get("rules_version"),
    }
