"""The labelled corpus: loading, validation and the datasheet.

`load_corpus()` reads every `corpora/items/*.jsonl`, validates each line against the schema
of corpora/SCHEMA.md and checks the corpus as a whole (unique ids, no duplicate titles, no
catalogue of a reserved issuer, nothing that the real validation data holds). Problems are
reported with file and line."""
from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from model.normalise import normalise
from model.vocab import ATTRIBUTES, PROCEDURE_NAMES, Category, Label, Level
from model.vocab import ExclusionType as Exclusion

ROOT = Path(__file__).resolve().parent.parent
CORPUS_DIR = ROOT / "corpora" / "items"
RESERVED_FILE = ROOT.parent / "shared" / "RESERVED_ISSUERS.md"

SourceType = Literal["catalogue", "document", "written", "feedback"]
FoundIn = Literal["executive_meeting", "party_government_meeting", "department_meeting", "livelihood_list",
                  "work_report", "predisclosure", "hearing_notice", "risk_notice", "other"]
HardType = Literal["emergency_plan", "normative_doc", "price", "school_layout", "land_compensation",
                   "town_small_works", "festival", "budget", "other"]
PROCEDURE_KEYS = PROCEDURE_NAMES


class Attributes(BaseModel):
    model_config = ConfigDict(extra="forbid")
    technical: bool
    stability_risk: bool
    market_entities: bool
    price_utility: bool
    public_interest: bool
    land_relocation: bool


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9_]+-\d{4,}$")
    title: str = Field(min_length=2, max_length=300)
    label: Label
    source_type: SourceType
    issuer: str | None = None
    level: Level
    province: str | None = None
    year: int | None = Field(default=None, ge=2000, le=2030)
    unit: str | None = None
    category: Category | None = None
    exclusion: Exclusion | None = None
    reason: str | None = None
    basis: str | None = None
    procedures: dict[str, bool] | None = None
    attributes: Attributes
    hard_case: bool
    hard_type: HardType | None = None
    description: str | None = None
    source_url: str | None = None
    profile: str = "national"
    # The issuer's own claim, kept beside our label rather than as it: "major" where the issuer
    # itself presented the matter as a 重大行政决策 (catalogue item, its 重大行政决策 column).
    issuer_claim: Literal["major"] | None = None
    # Where on the issuer's pages the matter was named (a meeting record, a 民生实事 list …).
    found_in: FoundIn | None = None
    # A mirror the page was actually read at, when source_url is the official page it copies.
    read_at: str | None = None
    # A proposal-style restatement of another corpus item (its id): same facts, same label.
    derived_from: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "Record":
        if self.source_type in ("catalogue", "document"):
            missing = [f for f in ("issuer", "source_url", "year") if not getattr(self, f)]
            if missing:
                raise ValueError(f"a {self.source_type} record needs {', '.join(missing)}")
        if self.label == "not_major" and not self.exclusion:
            raise ValueError("a not_major record needs an exclusion type")
        if self.label == "not_major" and not self.reason:
            raise ValueError("a not_major record needs a reason")
        if self.label == "major" and self.exclusion:
            raise ValueError("a major record cannot carry an exclusion")
        if self.hard_case and not self.reason:
            raise ValueError("a hard case needs a reason")
        if self.issuer_claim and self.source_type not in ("catalogue", "document"):
            raise ValueError("issuer_claim records a real issuer's own claim: catalogue or document only")
        if self.source_type == "catalogue" and self.issuer_claim != "major" and "issuer_claim" in self.model_fields_set:
            raise ValueError("a catalogue item is the issuer's claim that the matter is major")
        if self.procedures:
            unknown = set(self.procedures) - set(PROCEDURE_KEYS)
            if unknown:
                raise ValueError(f"unknown procedure names: {sorted(unknown)}")
            # One canonical order (code points), so every file writes the marks the same way and
            # no file spells out the statute's list of procedures in its own order.
            if list(self.procedures) != sorted(self.procedures):
                raise ValueError("procedure marks must be written in code-point order (sorted keys)")
        return self

    @property
    def text(self) -> str:
        """What the model reads: the same text the screener builds from title and description."""
        return normalise(self.title + ("。" + self.description if self.description else ""))

    @property
    def group(self) -> str:
        """Split group: one issuer never straddles train and test."""
        return f"issuer:{self.issuer}" if self.issuer else ""


@dataclass
class CorpusProblem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


def reserved_issuers(path: Path = RESERVED_FILE) -> set[str] | None:
    if not path.exists():
        return None
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\s*-\s+(\S.*?)\s*$", line)
        if m:
            names.add(m.group(1))
    return names


def _title_key(title: str) -> str:
    return re.sub(r"[\s\"'“”《》()\-,.;:、。]", "", normalise(title))


def _matter_key(title: str) -> str:
    """The title key without a leading drafting verb: "制定《X办法》" is the matter "X办法"."""
    return re.sub(r"^(制定|编制|修订|修改|出台|起草)", "", _title_key(title))


def _issuer_key(issuer: str | None) -> str:
    """One spelling per body: real_dev writes "临沂市人大常委会(2023年立法计划)" where the corpus
    has "临沂市人民代表大会常务委员会"."""
    s = re.sub(r"[(（][^)）]*[)）]", "", normalise(issuer or ""))
    return s.replace("人民代表大会常务委员会", "人大常委会").replace("人民政府", "政府").strip()


def _page_key(url: str) -> str:
    """A page's identity across its copies: copying sites serve a government page under the same
    path (corpora/PROVENANCE_2026-12.md), so a specific path names the page whatever the host; a
    short path (/index.html) does not."""
    u = urlsplit(url.strip())
    tail = u.path.rstrip("/") + ("?" + u.query if u.query else "")
    return tail if len(tail) >= 16 else (u.hostname or "") + tail


def real_dev_overlap(records: list[Record]) -> list[tuple[Record, str]]:
    """Corpus records that real_dev (../shared/eval/, validation only) holds, in any of three ways:
    the same matter (title, a drafting verb aside), the same source page (a sibling item of the
    same list), or a catalogue item of one of its issuers (eval/README.md keeps them out). Empty
    when the file is absent: the check needs it, the product does not."""
    from .realdev import load_real_dev

    dev = load_real_dev()
    if not dev:
        return []
    titles = {_matter_key(d.title): d.id for d in dev}
    urls = {_page_key(d.source_url): d.id for d in dev if d.source_url}
    issuers = {_issuer_key(d.issuer) for d in dev if d.issuer} - {""}
    out = []
    for r in records:
        if _matter_key(r.title) in titles:
            out.append((r, f"real_dev holds this matter ({titles[_matter_key(r.title)]})"))
        elif r.source_url and _page_key(r.source_url) in urls:
            out.append((r, f"same source page as real_dev item {urls[_page_key(r.source_url)]}"))
        elif r.source_type == "catalogue" and _issuer_key(r.issuer) in issuers:
            out.append((r, f"catalogue item of a real_dev issuer ({r.issuer})"))
    return out


def load_corpus(directory: Path = CORPUS_DIR, strict: bool = True,
                extra_files: list[Path] | None = None) -> tuple[list[Record], list[CorpusProblem]]:
    records: list[Record] = []
    problems: list[CorpusProblem] = []
    seen_ids: dict[str, str] = {}
    seen_titles: dict[str, str] = {}
    reserved = reserved_issuers() or set()
    files = sorted(directory.glob("*.jsonl")) + list(extra_files or [])
    for path in files:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            where = (path.name, n)
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(CorpusProblem(*where, f"not JSON: {exc.msg}"))
                continue
            try:
                rec = Record.model_validate(raw)
            except ValidationError as exc:
                e = exc.errors()[0]
                problems.append(CorpusProblem(*where, f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}"))
                continue
            if not rec.id.startswith(path.stem + "-") and path.parent == directory:
                problems.append(CorpusProblem(*where, f"id {rec.id} should start with {path.stem}-"))
            if rec.id in seen_ids:
                problems.append(CorpusProblem(*where, f"duplicate id {rec.id} (first in {seen_ids[rec.id]})"))
                continue
            key = _title_key(rec.title) + "|" + rec.profile
            if key in seen_titles:
                problems.append(CorpusProblem(*where, f"duplicate title {rec.title!r} (first as {seen_titles[key]})"))
                continue
            if rec.source_type == "catalogue" and rec.issuer in reserved:
                problems.append(CorpusProblem(*where, f"reserved issuer {rec.issuer}: its catalogues stay out"))
                continue
            seen_ids[rec.id] = f"{path.name}:{n}"
            seen_titles[key] = rec.id
            records.append(rec)
    for rec, why in real_dev_overlap(records):
        problems.append(CorpusProblem(rec.id, 0, f"{why}: validation data never enters the corpus"))
    known = {r.id: r for r in records}
    for rec in records:
        if rec.derived_from is None:
            continue
        orig = known.get(rec.derived_from)
        if orig is None:
            problems.append(CorpusProblem(rec.id, 0, f"derived_from {rec.derived_from} is not a corpus id"))
        elif orig.derived_from is not None:
            problems.append(CorpusProblem(rec.id, 0, f"derived_from {rec.derived_from} is itself derived"))
        elif (orig.label, orig.issuer, orig.profile) != (rec.label, rec.issuer, rec.profile):
            problems.append(CorpusProblem(rec.id, 0, f"a derived item keeps its original's label, issuer and profile "
                                                     f"({rec.derived_from})"))
    if strict and problems:
        raise ValueError("corpus problems:\n" + "\n".join(str(p) for p in problems[:50]))
    return records, problems


def datasheet(records: list[Record]) -> str:
    """Counts by level, province, year, label, source type, exclusion, hard type."""
    def table(title: str, counter: Counter, header: str) -> str:
        rows = "\n".join(f"| {k} | {v} |" for k, v in sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0]))))
        return f"### {title}\n\n| {header} | items |\n| --- | --- |\n{rows}\n"

    issuers = {r.issuer for r in records if r.issuer}
    parts = [
        "# Corpus datasheet\n",
        "Generated by `decision-screen corpus datasheet` from `corpora/items/`; do not edit by hand.\n",
        f"- items: {len(records)}\n- distinct issuers: {len(issuers)}\n"
        f"- real catalogue items: {sum(r.source_type == 'catalogue' for r in records)} from "
        f"{len({r.issuer for r in records if r.source_type == 'catalogue'})} issuers\n"
        f"- documents whose issuer itself presented them as 重大行政决策 (issuer_claim, recorded beside our "
        f"label): {sum(r.issuer_claim == 'major' and r.source_type == 'document' for r in records)} from "
        f"{len({r.issuer for r in records if r.issuer_claim == 'major' and r.source_type == 'document'})} issuers, "
        f"{sum(r.issuer_claim == 'major' and r.label != 'major' for r in records)} of them labelled otherwise\n"
        f"- proposal-style items derived from a real original: {sum(bool(r.derived_from) for r in records)}\n"
        f"- with a description: {sum(bool(r.description) for r in records)}\n"
        f"- hard cases: {sum(r.hard_case for r in records)}\n",
        table("By label", Counter(r.label for r in records), "label"),
        table("By source type", Counter(r.source_type for r in records), "source_type"),
        table("By level", Counter(r.level for r in records), "level"),
        table("By province", Counter(r.province or "(written)" for r in records), "province"),
        table("By year", Counter(r.year or "(none)" for r in records), "year"),
        table("By exclusion type (not_major)", Counter(r.exclusion for r in records if r.exclusion), "exclusion"),
        table("By hard-case type", Counter(r.hard_type for r in records if r.hard_case), "hard_type"),
        table("By where the matter was found (found_in)", Counter(r.found_in for r in records if r.found_in),
              "found_in"),
        table("By profile the label assumes", Counter(r.profile for r in records), "profile"),
        table("Attributes marked true", Counter(a for r in records for a in ATTRIBUTES
                                                if getattr(r.attributes, a)), "attribute"),
    ]
    return "\n".join(parts)
