"""The rule engine: exclusions → enumeration → tier thresholds → catch-all signals.

Precedence (documented in docs/RULES.md and pinned by tests):
1. An exclusion fires when one of its patterns matches and none of its `unless` patterns do.
2. An enumeration entry whose `overrides` names that exclusion type cancels it (an emergency
   *plan* cancels the emergency-*response* exclusion; a 规范性文件 cancels legislation;
   a profile that lists budgets cancels the macro/fiscal exclusion).
3. A surviving exclusion makes the matter not major, whatever its numbers; one marked `hold`
   (a class the law leaves to local rules the profile does not settle, the year's budget
   nationally) makes it review instead, unless a strong enumeration or a published threshold
   makes it major.
4. A profile's own published standard for a category (`decides`) takes precedence over the
   general enumeration of that category: below it the category's hits do not make the matter
   major; without the figure they only put it in review.
5. Otherwise a strong enumeration hit, or a number at or above the deciding level's published
   threshold, makes it major; weak hits alone, or a figure that meets only a project default
   (项目默认值), put it in the review band.
6. Below every threshold is "not in by numbers", never an exclusion: enumeration still applies.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .extract import PERSONS_PER_HOUSEHOLD, Extraction
from .rulebook import LEVEL_RANK, ResolvedProfile


@dataclass
class Hit:
    rule_id: str
    kind: str  # exclusion | enumeration | threshold | attribute
    evidence: str
    span: tuple[int, int] | None
    basis: str
    why: str
    source: str
    detail: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"rule_id": self.rule_id, "kind": self.kind, "evidence": self.evidence,
                "span": list(self.span) if self.span else None, "basis": self.basis, "why": self.why,
                "source": self.source, **self.detail}


@dataclass
class RuleResult:
    verdict: str  # major | not_major | review
    exclusion: Hit | None
    overridden: list[Hit]
    enumerations: list[Hit]
    thresholds: list[Hit]
    attributes: dict[str, Hit]
    category: str | None
    tier: str | None
    level: str
    strength: str  # strong | weak | none | hold (a local choice the profile does not settle)
    # Enumeration hits a profile's own category standard set aside (figure below it) or held
    # to review (figure missing); each carries the standard in detail["standard"].
    below_standard: list[Hit] = field(default_factory=list)
    pending_standard: list[Hit] = field(default_factory=list)
    # The figures compared (measured_values), with where each came from: the answer shows them.
    values: dict[str, tuple[float, str]] = field(default_factory=dict)


def measured_values(extraction: Extraction, supplied: dict) -> dict[str, tuple[float, str]]:
    """Numbers the thresholds compare against, each with where it came from. Figures the
    caller supplied win over figures read from the text."""
    values: dict[str, tuple[float, str]] = {}
    for measure in ("amount_wan", "people", "area_mu", "length_km", "duration_years"):
        q = extraction.best(measure)
        if q is not None:
            values[measure] = (q.value, f"文中“{q.text}”")
    households = extraction.best("households")
    if households is not None:
        people = households.value * PERSONS_PER_HOUSEHOLD
        if people > values.get("people", (0, ""))[0]:
            values["people"] = (people, f"文中“{households.text}”×{PERSONS_PER_HOUSEHOLD}人/户")
    for measure, value in supplied.items():
        if value is not None:
            values[measure] = (float(value), "输入字段")
    return values


def evaluate(text: str, extraction: Extraction, profile: ResolvedProfile, level: str,
             supplied: dict | None = None, level_known: bool = True) -> RuleResult:
    """`level_known`: the caller gave the level (or a unit that names it); when it is only the
    profile's default, a level-restricted listing still applies and a level-restricted
    exclusion does not: a guessed level never takes a matter out of scope."""
    supplied = supplied or {}
    src = profile.source_label
    # The text's characters, once per matter: only the patterns filed under them are searched
    # (model.patterns: a filter, never a different answer).
    chars = frozenset(text)

    # 1. exclusions
    excl_hits: list[Hit] = []
    for ex, m in profile.first_matches("exclusions", text, chars):
        if (not ex.levels or (level_known and level in ex.levels)) and ex.admits(text, chars):
            excl_hits.append(Hit(ex.id, "exclusion", m.group(0), m.span(), ex.basis, ex.why,
                                 src(ex.source), {"type": ex.type, **({"hold": True, "hold_why": ex.hold_why}
                                                                      if ex.hold else {}),
                                                  **({"part": True} if ex.part_in_description else {})}))

    # 2. enumerations
    enum_hits: list[Hit] = []
    overrides: set[str] = set()
    attrs: dict[str, Hit] = {}
    for en, m in profile.first_matches("enumerations", text, chars):
        if (en.levels and level_known and level not in en.levels) or not en.admits(text, chars):
            continue
        hit = Hit(en.id, "enumeration", m.group(0), m.span(), en.basis, en.why, src(en.source),
                  {"category": en.category, "strength": en.strength, "overrides": en.overrides})
        enum_hits.append(hit)
        overrides.update(en.overrides)
        for a in en.attributes:
            attrs.setdefault(a, hit)

    # The title says what the matter is. Where it names a listed kind (a hospital's
    # construction, a water-supply works of any size), an exclusion class that can be a part
    # of such a matter (rulebook: part_in_description), read only from the description (paid
    # from 专项债券, land supplied by 挂牌出让), describes that part, not the matter: it is
    # reported as set aside.
    title_end = text.find("。") if "。" in text else len(text)
    title_listed = any(h.span and h.span[0] < title_end for h in enum_hits)

    overridden, kept = [], []
    for h in excl_hits:
        if h.detail["type"] in overrides:
            overridden.append(h)
        elif title_listed and h.detail.get("part") and h.span is not None and h.span[0] >= title_end:
            h.detail["description_only"] = True
            overridden.append(h)
        else:
            kept.append(h)
    # "Routine business" is the weakest reason to exclude: a named exclusion explains better.
    # A held class (a local choice) yields to any named exclusion, and routine to both.
    surviving = sorted(kept, key=lambda h: (h.detail["type"] == "routine", bool(h.detail.get("hold"))))
    exclusion = surviving[0] if surviving else None

    # 3. thresholds, on the deciding level and (for the tier) on every level
    categories = {h.detail["category"] for h in enum_hits}
    values = measured_values(extraction, supplied)
    th_hits: list[Hit] = []
    tier_rank = -1
    tier = None
    for th in profile.thresholds:
        if th.measure not in values or not th.applies(text, categories, chars):
            continue
        value, origin = values[th.measure]
        if value < th.min:
            continue
        hit = Hit(th.id, "threshold", origin, None, th.basis, th.why, src(th.source),
                  {"level": th.level, "measure": th.measure, "value": round(value, 4), "min": th.min,
                   "project_default": th.project_default})
        if th.level == level:
            th_hits.append(hit)
        rank = LEVEL_RANK[th.level]
        if th.level != "department" and rank > tier_rank:
            tier_rank, tier = rank, th.level
    if tier is None and any(h.detail["level"] == "department" for h in th_hits):
        tier = "department"

    # 4. attributes from the attribute rules (enumeration attributes were added above)
    for ar, m in profile.first_matches("attributes", text, chars):
        if ar.attribute in attrs:
            continue
        if ar.admits(text, chars):
            attrs[ar.attribute] = Hit(ar.id, "attribute", m.group(0), m.span(), ar.basis, ar.why,
                                      src(ar.source), {"attribute": ar.attribute})

    # 5. a profile's own standard for a category decides that category (precedence over the
    # general enumeration: Wuhua's 5亿元 construction standard, a town's 100万元 one)
    below: list[Hit] = []
    pending: list[Hit] = []
    for th in profile.thresholds:
        if not (th.decides and th.level == level and th.categories):
            continue
        governed = [h for h in enum_hits if h.detail["category"] in th.categories and h not in below]
        # A standard with `when` governs only matters of its kind (清浪乡's asset-disposal line).
        if not governed or not th.applies(text, categories, chars):
            continue
        std = {"standard": th.id, "standard_basis": th.basis, "min": th.min, "measure": th.measure}
        if th.measure not in values:
            for h in governed:
                if h.detail["strength"] == "strong":
                    h.detail.update(strength="weak", **std)
                    pending.append(h)
        elif values[th.measure][0] < th.min:
            for h in governed:
                h.detail.update(std, value=round(values[th.measure][0], 4))
                below.append(h)
    counted = [h for h in enum_hits if h not in below]
    # A public works project is listed only when it is *major* (条例第3条第1款第4项): with
    # nothing but weak construction signals and a known cost below every amount line of the
    # deciding level, it is not major by that head (a village toilet, one road repair).
    if (counted and "amount_wan" in values
            and all(h.detail["category"] == "construction" and h.detail["strength"] == "weak" for h in counted)):
        lines = [th for th in profile.thresholds
                 if th.level == level and th.measure == "amount_wan" and th.applies(text, {"construction"}, chars)]
        amount = values["amount_wan"][0]
        if lines and all(amount < th.min for th in lines):
            th = min(lines, key=lambda t: t.min)
            for h in counted:
                h.detail.update(standard=th.id, standard_basis=th.basis, min=th.min, measure=th.measure,
                                value=round(amount, 4), screening_line=th.project_default,
                                line_level=th.level)
                below.append(h)
            counted = []
    binding = [h for h in th_hits if not h.detail["project_default"]]

    strong = [h for h in counted if h.detail["strength"] == "strong"]
    held = exclusion is not None and exclusion.detail.get("hold")
    # Only a strong listing in the title itself lifts a held matter to major: a budget's own
    # total meets every amount line, and its description names what it pays for.
    if held and any(h.span and h.span[0] < title_end for h in strong):
        verdict, strength = "major", "strong"
        overridden.append(exclusion)  # still reported, with its statutory route
        exclusion = None
    elif held:
        verdict, strength = "review", "hold"
    elif exclusion is not None:
        verdict, strength = "not_major", "strong"
    elif strong or binding:
        verdict, strength = "major", "strong"
    elif counted or th_hits:
        verdict, strength = "review", "weak"
    elif below:
        # The profile's own standard says so: as firm an answer as an exclusion.
        verdict, strength = "not_major", "strong"
    else:
        verdict, strength = "not_major", "none"

    category = None
    ordered = strong or counted
    if ordered:
        category = ordered[0].detail["category"]
    elif th_hits:
        category = "catch_all"
    elif below:
        category = below[0].detail["category"]
    return RuleResult(verdict, exclusion, overridden, counted, th_hits, attrs, category, tier,
                      level, strength, below, pending, values)
