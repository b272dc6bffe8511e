"""Every legal source is citable, and every rule cites an article of one.

A source must carry its full name, issuer, document number and date, and an official location
on a government domain (a reposting site may appear only as read_at). Every exclusion,
enumeration, attribute, threshold and procedure (and each procedure case) must name a law and
an article, paragraph or item that the registry lists for that law: an article number nobody
registered (and so nobody checked) fails. The project's own screening figures cite
项目默认值, which the registry marks as not law.
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from model.rulebook import RULEBOOK_DIR, SOURCES_FILE, RulebookSet, Source, load_sources

# Official domains: the central government and every government portal under gov.cn, the NPC
# and its national law database. Ministry sites (ndrc.gov.cn, samr.gov.cn, mof.gov.cn …) and
# provincial/municipal portals (*.gov.cn) are all under gov.cn.
OFFICIAL_SUFFIXES = ("gov.cn", "npc.gov.cn", "flk.npc.gov.cn")
DOC_NUMBER = re.compile(r"(令第\d+号|〔\d{4}〕\d+号|第[一二三四五六七八九十百零〇\d]+号)")
DATE = re.compile(r"^\d{4}(-\d{2}-\d{2})?$")
ARTICLE_REF = re.compile(r"第\d+条(?:第\d+款)?(?:第\d+项)?")
# After a law's short name, a run of article references joined by these.
_JOINERS = "、和及与至, "


def official(url: str | None) -> bool:
    if not url:
        return False
    host = (urlparse(url).hostname or "").lower()
    return urlparse(url).scheme in ("http", "https") and any(
        host == s or host.endswith("." + s) for s in OFFICIAL_SUFFIXES)


def _registry() -> dict[str, Source]:
    return load_sources(RULEBOOK_DIR / SOURCES_FILE)


def _ref_known(ref: str, src: Source) -> bool:
    """A cited article is known when the registry lists it or a less specific form of it
    (第29条 covers 第29条第1项). Where the registry lists an article only by paragraph or item
    (第19条第1款), a bare 第19条 is not precise enough and fails."""
    return any(ref == k or ref.startswith(k) for k in src.articles)


def _aliases(src: Source) -> set[str]:
    """The ways a basis may name a law: its short name, its full name, the full name without
    the 中华人民共和国 prefix."""
    names = {src.short, src.name}
    if src.name and src.name.startswith("中华人民共和国"):
        names.add(src.name[len("中华人民共和国"):])
    return {n for n in names if n}


def parse_citations(basis: str, registry: dict[str, Source]) -> dict[str, list[str]]:
    """The article references a basis makes, per registered law: each run of 第…条(第…款)(第…项)
    right after a law's name (longest name first, so 公平竞争审查条例 is not read as 条例)."""
    shorts = sorted(((alias, k) for k, s in registry.items() for alias in _aliases(s)), key=lambda x: -len(x[0]))
    cited: dict[str, list[str]] = {}
    i = 0
    while i < len(basis):
        hit = next(((short, key) for short, key in shorts if basis.startswith(short, i)), None)
        if hit is None:
            i += 1
            continue
        short, key = hit
        j = i + len(short)
        refs: list[str] = []
        while True:
            while j < len(basis) and basis[j] in _JOINERS + "》":
                j += 1
            m = ARTICLE_REF.match(basis, j)
            if not m:
                break
            refs.append(m.group(0))
            j = m.end()
            # A gloss after an article — 第21条 (本级预算…)、第67条 — does not end the run.
            k = j
            while k < len(basis) and basis[k] == " ":
                k += 1
            if k < len(basis) and basis[k] == "(":
                close = basis.find(")", k)
                if close != -1:
                    j = close + 1
        cited.setdefault(key, []).extend(refs)
        i = j
    return cited


def citation_problems(basis: str, source_id: str | None, registry: dict[str, Source]) -> list[str]:
    """Why a basis is not an article-level citation of its source (empty list: it is).

    The basis must name its own source (short or full name) with an article, paragraph or item
    the registry lists for it; every article cited right after any registered law's name must be
    one the registry lists for that law."""
    problems: list[str] = []
    cited = parse_citations(basis, registry)
    for key, refs in cited.items():
        for ref in refs:
            if not _ref_known(ref, registry[key]):
                problems.append(f"{registry[key].short}{ref} is not in the registry's article list for {key}")
    if source_id is None:  # a procedure case: any registered law with an article will do
        if not any(cited.values()) and not any(k in basis for s in registry.values() for k in s.articles
                                                if not ARTICLE_REF.fullmatch(k)):
            problems.append("names no registered law with an article")
        return problems
    src = registry.get(source_id)
    if src is None:
        return problems + [f"source {source_id!r} is not in {SOURCES_FILE}"]
    if src.kind == "project_default":
        if "项目默认值" not in basis:
            problems.append("a project default must say 项目默认值 in its basis")
        return problems
    if not any(alias in basis for alias in _aliases(src)):
        problems.append(f"does not name its source ({src.short})")
    item_keys = [k for k in src.articles if not ARTICLE_REF.fullmatch(k)]
    if not cited.get(source_id) and not any(k in basis for k in src.articles):
        problems.append(f"cites no article of {src.short} listed in the registry"
                        + (f" (items: {', '.join(item_keys)})" if item_keys else ""))
    return problems


# --- the registry ------------------------------------------------------------------------------

REGISTRY = _registry()


def test_registry_is_not_empty_and_holds_the_core_statutes():
    assert {"tiaoli", "price_law", "price_hearing", "fair_competition", "budget_law",
            "urban_planning_law", "info_disclosure", "project_default"} <= set(REGISTRY)


@pytest.mark.parametrize("key", sorted(REGISTRY))
def test_every_source_has_name_issuer_number_and_date(key):
    src = REGISTRY[key]
    assert src.name and src.short and src.issuer and src.kind, key
    assert src.number and src.number_status, f"{key}: no document number"
    assert src.promulgated and DATE.match(src.promulgated), f"{key}: no promulgation date"
    assert src.in_force and DATE.match(src.in_force), f"{key}: no date in force"
    if src.number_status == "verified":
        assert DOC_NUMBER.search(src.number), f"{key}: {src.number!r} is not a document number"
    if src.number_status == "none_published":
        # Only a local body's published catalogue or notice may lack a 文号, and then the
        # citation is its official page or the source says where it was read.
        assert src.kind.startswith("local_"), key
        assert src.url_is_document or src.read_at, key
    assert src.articles, f"{key}: lists no article the product relies on"
    if not src.verified:
        assert src.note, f"{key}: an unverified source must say why"


@pytest.mark.parametrize("key", sorted(REGISTRY))
def test_every_source_url_is_an_official_location(key):
    src = REGISTRY[key]
    if src.kind == "project_default":
        assert src.url is None and src.number_status == "not_law"
        return
    assert official(src.url), f"{key}: {src.url!r} is not on an official domain"
    if src.read_at and src.read_at.startswith("http"):
        assert src.read_at != src.url


def test_the_url_check_refuses_reposting_sites_and_lookalikes():
    assert official("https://www.gov.cn/zhengce/content/x.htm")
    assert official("http://xm.gov.cn/zdxxgk/x.htm")
    assert official("https://flk.npc.gov.cn/")
    assert not official("http://dongshibiao.com/listing/lawsshow_pi.php?id=4898")
    assert not official("https://gov.cn.example.com/x")
    assert not official("https://evilgov.cn/x")
    assert not official(None)


def test_only_the_project_default_is_not_law():
    not_law = [k for k, s in REGISTRY.items() if s.number_status == "not_law" or s.kind == "project_default"]
    assert not_law == ["project_default"]


# --- the rulebooks cite the registry -----------------------------------------------------------

def _profile_files() -> list[Path]:
    return [p for p in sorted(RULEBOOK_DIR.glob("*.yaml")) if p.name != SOURCES_FILE]


@pytest.mark.parametrize("path", _profile_files(), ids=lambda p: p.name)
def test_profiles_declare_no_sources_of_their_own(path):
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert not raw.get("sources"), f"{path.name}: sources belong in {SOURCES_FILE}"


def _entries():
    rs = RulebookSet()
    seen = set()
    for name in rs.names():
        p = rs.get(name)
        for e in [*p.exclusions, *p.enumerations, *p.attributes, *p.thresholds, *p.procedures]:
            if (e.id, e.basis) in seen:
                continue
            seen.add((e.id, e.basis))
            yield f"{name}:{e.id}", e.basis, e.source
            for n, case in enumerate(getattr(e, "cases", []) or []):
                yield f"{name}:{e.id}#case{n}", case.basis, None


ENTRIES = list(_entries())


@pytest.mark.parametrize("where,basis,source", ENTRIES, ids=[e[0] for e in ENTRIES])
def test_every_rule_cites_a_registered_article(where, basis, source):
    problems = citation_problems(basis, source, REGISTRY)
    assert not problems, f"{where}: {basis!r}: {'; '.join(problems)}"


def test_articles_after_a_gloss_are_checked_too():
    registry = _registry()
    assert citation_problems("《预算法》第24条 (政府编制预算草案)、第43条第2款 (人大审批)", "budget_law", registry) == []
    problems = citation_problems("《预算法》第24条 (政府编制预算草案)、第99条 (不存在)", "budget_law", registry)
    assert any("第99条" in p for p in problems)


def test_the_citation_check_fails_an_unlisted_or_missing_article():
    assert citation_problems("条例第3条第2款 (政府立法决策不适用)", "tiaoli", REGISTRY) == []
    assert citation_problems("条例第99条", "tiaoli", REGISTRY)  # no such article listed
    assert citation_problems("条例 (政府立法决策不适用)", "tiaoli", REGISTRY)  # no article
    assert citation_problems("条例第3条第3款", "tiaoli", REGISTRY) == []  # listed: the catalogue clause
    assert citation_problems("条例第19条", "tiaoli", REGISTRY)  # listed by paragraph only: too vague
    assert citation_problems("条例第29条第1项", "tiaoli", REGISTRY) == []  # 第29条 listed whole
    assert citation_problems("价格法第23条", "tiaoli", REGISTRY)  # does not name its own source
    assert citation_problems("筛查默认值 (县级 3000万元)", "project_default", REGISTRY)
    assert citation_problems("项目默认值 (非法律): 县级 3000万元", "project_default", REGISTRY) == []
    # 公平竞争审查条例第2条 must be read as that regulation, not as 条例第2条
    assert citation_problems("公平竞争审查条例第14条", "fair_competition", REGISTRY) == []


def test_the_three_statutory_exclusions_cite_article_3_paragraph_2():
    """条例第3条第2款 excludes macro-control, government legislation and emergency response;
    第3条第3款 is the catalogue clause (an earlier rulebook cited the wrong paragraph)."""
    rs = RulebookSet()
    for name in rs.names():
        for e in rs.get(name).exclusions:
            if e.type in ("legislation", "emergency_response", "macro_fiscal") and e.source == "tiaoli":
                assert "第3条第2款" in e.basis and "第3条第3款" not in e.basis, f"{name}:{e.id}"


def test_docs_list_every_source_with_its_number():
    """docs/SOURCES.md is the human-readable list: every registered source appears there by name
    and document number."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "SOURCES.md").read_text(encoding="utf-8")
    missing = [k for k, s in REGISTRY.items() if s.name not in doc or s.number not in doc]
    assert not missing, f"docs/SOURCES.md lacks {missing}"


def test_settings_and_statutory_routes_cite_registered_articles():
    """The collective body named per level, the catalogue calendar's basis and an excluded
    matter's own statutory route (budgets to the people's congress) are citations too."""
    rs = RulebookSet()
    problems = {}
    for name in rs.names():
        p = rs.get(name)
        texts = {f"collective_body.{lv}": t for lv, t in p.settings.collective_body.items()}
        if p.settings.catalogue_basis:
            texts["catalogue_basis"] = p.settings.catalogue_basis
        for e in p.exclusions:
            if getattr(e, "route_basis", None):
                texts[f"{e.id}.route_basis"] = e.route_basis
        for where, text in texts.items():
            found = citation_problems(text, None, REGISTRY)
            if found:
                problems[f"{name}:{where}"] = found
        src = getattr(p.settings, "price_hearing_catalogue_source", None)
        if src:
            assert src in REGISTRY, f"{name}: price_hearing_catalogue_source {src!r} is not registered"
    assert not problems, problems
