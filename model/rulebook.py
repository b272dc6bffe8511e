"""Rulebooks: YAML data validated at load, with profile inheritance.

A profile is one deciding body's standard (the national 条例, a province, a city, a town).
It may extend a parent: entries are merged by id (a child entry with the same id replaces
the parent's; with `inherit_patterns: true` it keeps the parent's patterns and gives only its
own basis, source or strength), `remove` drops parent entries, and `settings` are merged key by
key.
Every entry names a source, so every answer can say where its reason comes from.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .patterns import PatternIndex, PatternSet
from .vocab import ATTRIBUTES, LEVELS, PROCEDURE_NAMES, Attribute, Category, ExclusionType, Level, Measure  # noqa: F401

RULEBOOK_DIR = Path(__file__).resolve().parent / "rulebooks"

# The names themselves are model.vocab's (one vocabulary for engine, service and training).
# Government tiers from the top; a department sits beside, not under, this ladder.
LEVEL_RANK = {"province": 4, "city": 3, "county": 2, "town": 1, "department": 0}


class RulebookError(ValueError):
    """A rulebook that cannot be used; the message names the file and the entry."""


SOURCES_FILE = "sources.yaml"  # the one registry of legal sources, beside the profiles

# libyaml's parser where PyYAML was built with it: the same data (a test compares the two on
# every shipped file), read about eight times faster, which is most of the rulebooks' share of
# a process's start. PyYAML's own parser otherwise.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path):
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)  # a safe loader


class Article(BaseModel):
    """One provision the product relies on, in our own words, and whether its number was
    checked against a text that was read."""
    model_config = ConfigDict(extra="forbid")
    says: str
    verified: bool


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str
    issuer: str
    year: int | None = None
    url: str | None = None
    note: str | None = None
    # Citation detail (model/rulebooks/sources.yaml; completeness is enforced by tests/test_sources.py).
    name: str | None = None
    short: str | None = None
    kind: str | None = None
    number: str | None = None
    number_status: Literal["verified", "unverified", "none_published", "not_law"] | None = None
    promulgated: str | None = None
    amended: str | None = None
    in_force: str | None = None
    url_is_document: bool | None = None
    read_at: str | None = None
    verified: bool | None = None
    articles: dict[str, Article] = Field(default_factory=dict)

    @field_validator("promulgated", "amended", "in_force", mode="before")
    @classmethod
    def _date_text(cls, v):
        # YAML reads 2019-04-20 as a date; a year alone stays a year.
        return None if v is None else str(v)

    @model_validator(mode="after")
    def _year_from_date(self) -> "Source":
        if self.year is None and self.promulgated and self.promulgated[:4].isdigit():
            self.year = int(self.promulgated[:4])
        return self


def _compile_all(patterns: list[str]) -> PatternSet:
    return PatternSet(patterns)  # compiled once, with one joined pattern for "does any match"


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    id: str
    source: str
    basis: str
    why: str

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z0-9_]+(\.[a-z0-9_]+)+", v):
            raise ValueError("id must look like profile.kind.name (lower case, dots)")
        return v


class _Patterned(_Entry):
    patterns: list[str] = Field(default_factory=list)
    # All of these must also match somewhere (an AND with the patterns above).
    requires_any: list[str] = Field(default_factory=list)
    unless: list[str] = Field(default_factory=list)
    # A profile that re-states a parent's entry only to give its own basis, source or strength
    # takes the parent's patterns, requirements and `unless` (its own `unless` are added), so a
    # pattern fixed in the parent is fixed here too. Resolved in `RulebookSet.get`.
    inherit_patterns: bool = False

    @model_validator(mode="after")
    def _has_patterns(self):
        if not self.patterns and not self.inherit_patterns:
            raise ValueError("patterns: at least one pattern, or inherit_patterns: true")
        if self.patterns and self.inherit_patterns:
            raise ValueError("inherit_patterns: true takes the parent's patterns; give none of its own")
        return self

    @field_validator("patterns", "requires_any", "unless")
    @classmethod
    def _regexes_compile(cls, v: list[str]) -> list[str]:
        for p in v:
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(f"bad regular expression {p!r}: {exc}") from exc
        return v

    def model_post_init(self, __context) -> None:
        self._re = _compile_all(self.patterns)
        self._req = _compile_all(self.requires_any)
        self._unless = _compile_all(self.unless)

    def match(self, text: str, chars: frozenset[str] | None = None) -> re.Match | None:
        """First matching span, or None when a pattern misses, a requirement misses or an
        `unless` pattern matches. `chars`: the text's characters (model.patterns' filter)."""
        hit = self._re.first(text, chars)
        if hit is None or not self.admits(text, chars):
            return None
        return hit

    def admits(self, text: str, chars: frozenset[str] | None = None) -> bool:
        """Whether a text one of the patterns matched meets `requires_any` and no `unless`."""
        if self._req and not self._req.any(text, chars):
            return False
        return not (self._unless and self._unless.any(text, chars))


class Exclusion(_Patterned):
    type: ExclusionType
    # A matter excluded here may still have steps on its own statutory route (a budget goes to
    # the people's congress under the 预算法): the procedure names, their basis and why.
    route_steps: list[str] = Field(default_factory=list)
    route_basis: str | None = None
    route_why: str | None = None
    # Whether the class is in scope is a local choice this profile does not settle (budgets:
    # the 条例 names none, several local rules list them): the matter is held for a person,
    # whatever the model says, with `hold_why` naming the choice. A profile that settles it
    # overrides the exclusion (jiangsu_city) or carries its own entry without `hold`.
    hold: bool = False
    hold_why: str | None = None
    # Read only in the description of a matter whose title names a listed kind, this class
    # describes a part of it (how a hospital is paid for, how its land is supplied), not the
    # matter: the title's enumeration stands. Classes that say what the matter itself is
    # (legislation, routine business) keep the default.
    part_in_description: bool = False
    # The deciding levels at which the class applies (empty: every level): a matter that only a
    # higher level may decide (the minimum wage, approved by the province) is none of a county's.
    levels: list[Level] = Field(default_factory=list)


class Enumeration(_Patterned):
    category: Category
    strength: Literal["strong", "weak"] = "strong"
    overrides: list[ExclusionType] = Field(default_factory=list)
    attributes: list[Attribute] = Field(default_factory=list)
    levels: list[Level] = Field(default_factory=list)  # empty: every level


class AttributeRule(_Patterned):
    attribute: Attribute


class Threshold(_Entry):
    level: Level
    measure: Measure
    min: float = Field(gt=0)
    # Empty: any matter. Otherwise the matter must match one of these (asset disposal only …).
    when: list[str] = Field(default_factory=list)
    categories: list[Category] = Field(default_factory=list)
    # A figure this project chose (项目默认值), not one a deciding body published: meeting it
    # alone puts a matter in review, never makes it major.
    project_default: bool = False
    # The profile's own published standard for its categories decides them: a matter of that
    # category below it is not major by that head, without its figure it goes to review.
    decides: bool = False

    def model_post_init(self, __context) -> None:
        self._when = _compile_all(self.when)

    def applies(self, text: str, categories: set[str], chars: frozenset[str] | None = None) -> bool:
        if self.categories and not (set(self.categories) & categories):
            return False
        return not self._when or self._when.any(text, chars)


ProcedureStatus = Literal["required", "recommended", "conditional", "not_required"]


class ProcedureCase(BaseModel):
    """One statutory case of a step, tried in order: all of the condition kinds given must hold
    (any attribute, any category, any pattern), and no `unless` pattern may match."""
    model_config = ConfigDict(extra="forbid")
    attributes: list[Attribute] = Field(default_factory=list)
    categories: list[Category] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)
    unless: list[str] = Field(default_factory=list)
    status: ProcedureStatus = "required"
    # Hearings only: the profile's 定价听证目录 (settings.price_hearing_catalogue) decides.
    price_catalogue: bool = False
    basis: str
    why: str

    def model_post_init(self, __context) -> None:
        self._re = _compile_all(self.patterns)
        self._unless = _compile_all(self.unless)

    def matches(self, text: str, category: str | None, attributes: set[str],
                chars: frozenset[str] | None = None) -> re.Match | bool | None:
        if self.attributes and not (set(self.attributes) & attributes):
            return None
        if self.categories and category not in self.categories:
            return None
        if self._unless and self._unless.any(text, chars):
            return None
        if not self._re:
            return True
        return self._re.first(text, chars)


class ProcedureRule(_Entry):
    name: str
    cases: list[ProcedureCase] = Field(default_factory=list)
    # Status when no case and no condition below applies (e.g. post-evaluation: 条例 says 可以).
    otherwise: ProcedureStatus = "not_required"
    # Which conditions make the step required for a major matter; any one suffices.
    always: bool = False
    attributes: list[Attribute] = Field(default_factory=list)
    categories: list[Category] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)
    unless: list[str] = Field(default_factory=list)
    why_not: str
    timing: str | None = None

    def model_post_init(self, __context) -> None:
        self._re = _compile_all(self.patterns)
        self._unless = _compile_all(self.unless)
        # A step none of whose conditions reads the text is decided by the category and the
        # attributes alone: model.procedures remembers its answer per (category, attributes).
        self._text_free = not (self.patterns or self.unless or any(
            c.patterns or c.unless or c.price_catalogue for c in self.cases))
        self._decided: dict = {}


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    default_level: Level = "county"
    comment_period_days: int = 30
    legality_review_working_days: int = 7
    hearing_notice_days: int = 30
    publication_working_days: int = 20
    post_evaluation_months: int = 12
    # The catalogue cycle: the 条例 fixes no dates, so these come from a profile's own rules.
    catalogue_publish_by: str | None = None
    catalogue_filing_working_days: int | None = None
    catalogue_collect_quarter: int | None = Field(default=None, ge=1, le=4)
    catalogue_basis: str | None = None
    risk_report_filed_with_zhengfawei: bool = False
    review_band: tuple[float, float] = (0.35, 0.65)
    # The collective body that decides, per level (条例第30条 names the government's meetings).
    collective_body: dict[str, str] = Field(default_factory=dict)
    # Items of the province's 定价听证目录 (regular expressions) and where the list is published;
    # empty: no list carried, the province's list decides.
    price_hearing_catalogue: list[str] = Field(default_factory=list)
    price_hearing_catalogue_source: str | None = None


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profile: str
    name: str
    description: str
    extends: str | None = None
    version: str
    sources: dict[str, Source] = Field(default_factory=dict)
    settings: dict = Field(default_factory=dict)
    remove: list[str] = Field(default_factory=list)
    exclusions: list[Exclusion] = Field(default_factory=list)
    enumerations: list[Enumeration] = Field(default_factory=list)
    attributes: list[AttributeRule] = Field(default_factory=list)
    thresholds: list[Threshold] = Field(default_factory=list)
    procedures: list[ProcedureRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _sources_known(self) -> "Profile":
        # A child may cite its parent's sources; that is checked after merging.
        return self


class ResolvedProfile(BaseModel):
    """A profile with its ancestors merged in: what the engine runs."""
    model_config = ConfigDict(arbitrary_types_allowed=True)
    profile: str
    name: str
    description: str
    chain: list[str]
    version: str
    sources: dict[str, Source]
    settings: Settings
    exclusions: list[Exclusion]
    enumerations: list[Enumeration]
    attributes: list[AttributeRule]
    thresholds: list[Threshold]
    procedures: list[ProcedureRule]

    def model_post_init(self, __context) -> None:
        # Made once per profile, used for every matter: each family's patterns filed by the
        # characters they need, the procedure rules in order, each source's label as cited.
        self._indexes = {family: PatternIndex(entries, [e._re for e in entries])
                         for family, entries in (("exclusions", self.exclusions),
                                                 ("enumerations", self.enumerations),
                                                 ("attributes", self.attributes))}
        by_name = {r.name: r for r in self.procedures}
        self._in_order = [by_name[name] for name in PROCEDURE_NAMES if name in by_name]
        self._labels = {key: " · ".join([src.title, src.issuer, *([str(src.year)] if src.year else []),
                                         *([src.url] if src.url else [])])
                        for key, src in self.sources.items()}

    def first_matches(self, family: str, text: str, chars: frozenset[str]) -> list:
        """(entry, match) for each entry of a family (exclusions, enumerations, attributes) one
        of whose patterns matches the text, in the family's order, the match being that of the
        first such pattern (`chars`: the text's characters); the entry's `admits` is not yet
        checked."""
        return self._indexes[family].first_matches(text, chars)

    def procedures_in_order(self) -> list[ProcedureRule]:
        """The profile's procedure rules in the contract's order (model.vocab.PROCEDURE_NAMES)."""
        return self._in_order

    def source_label(self, key: str) -> str:
        """A source as answers cite it: title · issuer · year · url."""
        return self._labels[key]

    def source_of(self, entry: _Entry) -> Source:
        return self.sources[entry.source]

    def summary(self) -> dict:
        return {"profile": self.profile, "name": self.name, "description": self.description,
                "extends": self.chain[1:], "version": self.version,
                "counts": {"exclusions": len(self.exclusions), "enumerations": len(self.enumerations),
                           "attributes": len(self.attributes), "thresholds": len(self.thresholds),
                           "procedures": len(self.procedures)},
                "settings": self.settings.model_dump(mode="json")}

    def detail(self) -> dict:
        """The summary plus sources, thresholds and the ids/bases of exclusions and enumerations:
        what `decision-screen profiles NAME` and GET /api/v1/profiles/{name} show."""
        out = self.summary()
        cited = {e.source for e in [*self.exclusions, *self.enumerations, *self.attributes,
                                    *self.thresholds, *self.procedures]}
        out["sources"] = {k: v.model_dump() for k, v in self.sources.items() if k in cited}
        out["thresholds"] = [t.model_dump(include={"id", "level", "measure", "min", "basis"}) for t in self.thresholds]
        out["exclusions"] = [{"id": e.id, "type": e.type, "basis": e.basis} for e in self.exclusions]
        out["enumerations"] = [{"id": e.id, "category": e.category, "strength": e.strength, "basis": e.basis}
                               for e in self.enumerations]
        return out


def _describe_error(path: Path, raw: dict, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = list(err["loc"])
        where = ".".join(str(x) for x in loc)
        # Name the entry by its id when the error sits inside a list of entries.
        if len(loc) >= 2 and isinstance(loc[0], str) and isinstance(loc[1], int):
            try:
                entry_id = raw[loc[0]][loc[1]].get("id", f"#{loc[1]}")
            except (KeyError, IndexError, AttributeError, TypeError):
                entry_id = f"#{loc[1]}"
            where = f"{loc[0]}[{entry_id}]" + ("." + ".".join(str(x) for x in loc[2:]) if loc[2:] else "")
        lines.append(f"{path.name}: {where}: {err['msg']}")
    return "; ".join(lines)


def load_sources(path: Path) -> dict[str, Source]:
    """The source registry every profile cites from; empty when a folder has none (old layouts)."""
    if not path.exists():
        return {}
    try:
        raw = _read_yaml(path)
    except yaml.YAMLError as exc:
        raise RulebookError(f"{path.name}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("sources"), dict):
        raise RulebookError(f"{path.name}: must be a mapping with a `sources` mapping")
    out: dict[str, Source] = {}
    for key, body in raw["sources"].items():
        try:
            out[key] = Source.model_validate(body)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(x) for x in err["loc"])
            raise RulebookError(f"{path.name}: source {key}: {where}: {err['msg']}") from exc
    return out


def load_file(path: Path) -> Profile:
    try:
        raw = _read_yaml(path)
    except yaml.YAMLError as exc:
        raise RulebookError(f"{path.name}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise RulebookError(f"{path.name}: a rulebook must be a mapping")
    try:
        return Profile.model_validate(raw)
    except ValidationError as exc:
        raise RulebookError(_describe_error(path, raw, exc)) from exc


def _merge(parent: list, child: list, removed: set[str]) -> list:
    by_id = {e.id: e for e in parent if e.id not in removed}
    for e in child:
        if getattr(e, "inherit_patterns", False):
            base = by_id.get(e.id)
            if base is None:
                raise RulebookError(f"entry {e.id}: inherit_patterns, but no parent profile has an "
                                    f"entry {e.id}")
            data = e.model_dump()
            data.update(patterns=list(base.patterns),
                        requires_any=list(base.requires_any) or list(e.requires_any),
                        unless=[*base.unless, *e.unless], inherit_patterns=False)
            e = type(e).model_validate(data)
        by_id[e.id] = e
    return list(by_id.values())


class RulebookSet:
    """All profiles of one rulebook folder, resolved on demand."""

    def __init__(self, directory: Path = RULEBOOK_DIR):
        self.directory = directory
        self.raw: dict[str, tuple[Path, Profile]] = {}
        self.registry = load_sources(directory / SOURCES_FILE)
        for path in sorted(directory.glob("*.yaml")):
            if path.name == SOURCES_FILE:
                continue
            prof = load_file(path)
            if prof.profile in self.raw:
                raise RulebookError(f"{path.name}: profile {prof.profile!r} already defined in "
                                    f"{self.raw[prof.profile][0].name}")
            self.raw[prof.profile] = (path, prof)
        if not self.raw:
            raise RulebookError(f"no rulebooks in {directory}")
        self._resolved: dict[str, ResolvedProfile] = {}
        for name in self.raw:
            self.get(name)  # resolve everything now: a broken file fails at start-up, not mid-request

    def names(self) -> list[str]:
        return list(self.raw)

    def get(self, name: str) -> ResolvedProfile:
        if name in self._resolved:
            return self._resolved[name]
        if name not in self.raw:
            raise KeyError(name)
        chain: list[Profile] = []
        seen: set[str] = set()
        cur: str | None = name
        while cur is not None:
            if cur in seen:
                raise RulebookError(f"{self.raw[name][0].name}: profile inheritance loops through {cur!r}")
            if cur not in self.raw:
                raise RulebookError(f"{self.raw[chain[-1].profile][0].name}: extends unknown profile {cur!r}")
            seen.add(cur)
            chain.append(self.raw[cur][1])
            cur = self.raw[cur][1].extends
        sources: dict[str, Source] = dict(self.registry)
        settings: dict = {}
        ex: list = []
        en: list = []
        at: list = []
        th: list = []
        pr: list = []
        for prof in reversed(chain):  # root first, so children override
            removed = set(prof.remove)
            sources.update(prof.sources)
            settings.update(prof.settings)
            ex = _merge(ex, prof.exclusions, removed)
            en = _merge(en, prof.enumerations, removed)
            at = _merge(at, prof.attributes, removed)
            th = _merge(th, prof.thresholds, removed)
            pr = _merge(pr, prof.procedures, removed)
        path = self.raw[name][0]
        for entry in [*ex, *en, *at, *th, *pr]:
            if entry.source not in sources:
                raise RulebookError(f"{path.name}: entry {entry.id}: source {entry.source!r} is not declared")
        try:
            settings_obj = Settings.model_validate(settings)
        except ValidationError as exc:
            raise RulebookError(f"{path.name}: settings: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from exc
        top = chain[0]
        resolved = ResolvedProfile(
            profile=top.profile, name=top.name, description=top.description,
            chain=[p.profile for p in chain], version=top.version, sources=sources,
            settings=settings_obj, exclusions=ex, enumerations=en, attributes=at, thresholds=th,
            procedures=pr)
        self._resolved[name] = resolved
        return resolved

    def version(self) -> str:
        """One string that changes whenever any rulebook changes (for answers and records)."""
        import hashlib

        h = hashlib.sha256()
        registry = self.directory / SOURCES_FILE
        if registry.exists():
            h.update(registry.read_bytes())
        for name in sorted(self.raw):
            h.update(self.raw[name][0].read_bytes())
        versions = sorted({p.version for _, p in self.raw.values()})
        return f"{versions[-1]}+{h.hexdigest()[:10]}"


@lru_cache(maxsize=4)
def default_rulebooks(directory: str | None = None) -> RulebookSet:
    return RulebookSet(Path(directory) if directory else RULEBOOK_DIR)
