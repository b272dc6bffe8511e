"""The pipeline: normalise → extract → rules → model → combine → procedures → explain."""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from .combine import combine
from .contract import Answer, MatterIn, parse_matter
from .errors import ScreenInputError
from .explain import reasons_for
from .extract import extract
from .learned import LearnedModel, load_default
from .normalise import normalise
from .procedures import procedures_for
from .rulebook import ATTRIBUTES, RulebookSet, default_rulebooks
from .rules import evaluate
from .vocab import unknown_profile

_UNIT_LEVEL = [
    (re.compile(r"(街道办事处|街道|镇人民政府|乡人民政府|镇政府|乡政府|[镇乡])$"), "town"),
    (re.compile(r"(局|委员会|委|办公室|办|厅|中心|管理处|所)$"), "department"),
    (re.compile(r"(省人民政府|省政府|自治区人民政府)$"), "province"),
    # The four municipalities directly under the central government are of provincial rank.
    (re.compile(r"^(北京|天津|上海|重庆)市(人民)?政府$"), "province"),
    (re.compile(r"(县人民政府|区人民政府|县政府|区政府|旗人民政府|管委会|管理委员会)$"), "county"),
    (re.compile(r"(市人民政府|市政府|州人民政府)$"), "city"),
]


def level_from_unit(unit: str | None) -> str | None:
    if not unit:
        return None
    unit = normalise(unit)
    for rx, level in _UNIT_LEVEL:
        if rx.search(unit):
            return level
    return None


class Screener:
    """Holds the rulebooks and the learned model; thread-safe for concurrent `screen` calls
    (no shared mutable state after construction)."""

    def __init__(self, rulebooks: RulebookSet | None = None, model: LearnedModel | None | str = "default",
                 default_profile: str = "national", k_similar: int = 3):
        self.rulebooks = rulebooks or default_rulebooks()
        # Precedents (similar past matters) cost a search per matter: callers that do not show
        # them (spreadsheet output) ask for none.
        self.k_similar = k_similar
        self.model: LearnedModel | None = load_default() if model == "default" else model  # type: ignore[assignment]
        if default_profile not in self.rulebooks.names():
            raise unknown_profile(default_profile, self.rulebooks.names())
        self.default_profile = default_profile
        self.rules_version = self.rulebooks.version()

    @property
    def model_version(self) -> str:
        return self.model.version if self.model is not None else "rules-only"

    def _profile(self, name: str | None, row: int | None):
        name = name or self.default_profile
        try:
            return self.rulebooks.get(name)
        except KeyError:
            raise unknown_profile(name, self.rulebooks.names(), row) from None

    def screen(self, matter: MatterIn | dict, row: int | None = None) -> Answer:
        return self.screen_many([matter], start_row=row)[0]

    def screen_many(self, matters: Iterable[MatterIn | dict], start_row: int | None = None) -> list[Answer]:
        """Screen a list; the model runs once over the whole list (vectorised)."""
        parsed: list[MatterIn] = []
        for i, m in enumerate(matters):
            row = None if start_row is None else start_row + i
            parsed.append(m if isinstance(m, MatterIn) else parse_matter(m, row))
        texts, profiles, levels, known, extractions = [], [], [], [], []
        for i, m in enumerate(parsed):
            row = None if start_row is None else start_row + i
            prof = self._profile(m.profile, row)
            text = normalise(m.title + ("。" + m.description if m.description else ""))
            texts.append(text)
            profiles.append(prof)
            extractions.append(extract(text))
            given = m.level or level_from_unit(m.unit)
            levels.append(given or prof.settings.default_level)
            # The level settles 规章 versus 规范性文件 only when the caller gave it (or its
            # unit): a profile's default level is a guess.
            known.append(given is not None)
        if self.model is None:
            preds = [None] * len(parsed)
        elif getattr(self.model, "uses_meta", False):
            # The model reads what the compiler gave besides the text: unit, level, profile.
            meta = [{"unit": m.unit, "level": lv, "profile": pr.profile} for m, lv, pr in zip(parsed, levels, profiles)]
            preds = self.model.predict(texts, k_similar=self.k_similar, meta=meta)
        else:
            preds = self.model.predict(texts, k_similar=self.k_similar)
        schedules: dict = {}  # deadlines per (planned date, profile, level), counted once a batch
        return [self._answer(m, t, p, lv, ex, pr, kn, schedules)
                for m, t, p, lv, ex, pr, kn in zip(parsed, texts, profiles, levels, extractions, preds, known)]

    def _answer(self, m: MatterIn, text: str, profile, level: str, extraction, pred, level_known: bool,
                schedules: dict | None = None) -> Answer:
        supplied = {"amount_wan": m.amount_wan, "people": m.people, "area_mu": m.area_mu,
                    "length_km": m.length_km, "duration_years": m.duration_years}
        rules = evaluate(text, extraction, profile, level, supplied, level_known)
        # The band chosen on validation data travels with the model; the profile's is the fallback.
        band = getattr(self.model, "band", None) or tuple(profile.settings.review_band)
        combined = combine(rules, pred, band, getattr(self.model, "disagreement", None), text=text,
                           level_known=level_known)
        attrs: dict[str, float] = {a: (1.0 if a in rules.attributes else 0.0) for a in ATTRIBUTES}
        if pred is not None:
            for a, p in pred.attributes.items():
                attrs[a] = max(attrs.get(a, 0.0), round(float(p), 4))
        attr_set = {a for a, p in attrs.items() if p >= 0.5}
        excluded_by = (rules.exclusion.rule_id if rules.exclusion is not None
                       and not getattr(combined, "exclusion_fell", False) else None)
        procedures, warnings = procedures_for(combined.verdict, text, rules.category, attr_set, profile,
                                              m.planned_date, level=level, exclusion_id=excluded_by,
                                              schedules=schedules)
        numbers = extraction.numbers()
        used = rules.values
        numbers["used"] = {k: {"value": round(v, 4), "from": src} for k, (v, src) in used.items()}
        numbers["level"] = level
        exclusion = None
        if rules.exclusion is not None and combined.verdict != "major" and not combined.exclusion_fell:
            exclusion = {"type": rules.exclusion.detail["type"], "rule_id": rules.exclusion.rule_id,
                         "basis": rules.exclusion.basis, "evidence": rules.exclusion.evidence}
        # Procedures, reasons and precedents go in as plain fields: the Answer validates them
        # all at once (see model/procedures.py).
        similar = pred.similar if pred is not None else []
        return Answer(
            id=m.id, verdict=combined.verdict, probability=round(combined.probability, 4),
            confidence=combined.confidence, category=(combined.category or rules.category) if combined.verdict != "not_major" else None,
            tier=rules.tier, exclusion=exclusion, procedures=procedures,
            reasons=reasons_for(rules, combined, pred), numbers=numbers, attributes=attrs,
            similar=similar, profile=profile.profile, level=level, model_version=self.model_version,
            rules_version=self.rules_version, warnings=extraction.warnings + warnings + _date_notes(m))

    def iter_screen(self, rows: Iterable[dict], batch: int = 256) -> Iterator[tuple[int, Answer | ScreenInputError]]:
        """Screen rows lazily in batches; a bad row yields its error and the rest go on."""
        buf: list[tuple[int, MatterIn]] = []

        def flush():
            answers = self.screen_many([m for _, m in buf])
            for (n, _), a in zip(buf, answers):
                yield n, a
            buf.clear()

        for n, row in enumerate(rows, start=1):
            try:
                m = parse_matter(row, n)
                self._profile(m.profile, n)
            except ScreenInputError as exc:
                yield from flush()
                yield n, exc
                continue
            buf.append((n, m))
            if len(buf) >= batch:
                yield from flush()
        yield from flush()


def _date_notes(m: MatterIn) -> list[str]:
    """What the answer says about a planned date given as a period, or one that could not be read."""
    if m.planned_date_text:
        return [(f"计划决策日期“{m.planned_date_text}”无法识别, 按未定处理, 未推算各程序期限; 请更正后重新筛查 / "
                 f"the planned date {m.planned_date_text!r} could not be read: no deadlines were computed")]
    if m.planned_period and m.planned_period != "未定" and m.planned_date:
        return [(f"计划决策时间为“{m.planned_period}”, 各程序期限按该期间最后一个工作日 {m.planned_date.isoformat()} 推算 / "
                 f"deadlines count back from the last working day of {m.planned_period}")]
    return []
