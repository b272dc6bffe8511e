"""Rulebooks are validated data: a bad file names itself and the entry at fault."""
import shutil
from pathlib import Path

import pytest

from model.rulebook import RULEBOOK_DIR, RulebookError, RulebookSet


def _copy(tmp_path: Path) -> Path:
    d = tmp_path / "rb"
    shutil.copytree(RULEBOOK_DIR, d)
    return d


def test_shipped_rulebooks_load_and_every_entry_names_a_declared_source():
    rs = RulebookSet()
    assert {"national", "zhejiang", "yunnan", "hunan_town", "xiamen"} <= set(rs.names())
    for name in rs.names():
        p = rs.get(name)
        for e in p.exclusions + p.enumerations + p.attributes + p.thresholds + p.procedures:
            assert e.source in p.sources
            assert e.basis.strip() and e.why.strip()


def test_every_level_has_thresholds_for_money_in_the_national_profile():
    p = RulebookSet().get("national")
    levels = {t.level for t in p.thresholds if t.measure == "amount_wan"}
    assert levels == {"province", "city", "county", "town", "department"}


def test_child_profile_inherits_and_overrides_by_id():
    rs = RulebookSet()
    yn = rs.get("yunnan")
    nat = rs.get("national")
    assert yn.chain == ["yunnan", "national"]
    pers = next(e for e in yn.exclusions if e.id == "national.ex.personnel")
    assert "云南省规定第2条第3款" in pers.basis
    assert pers.basis != next(e for e in nat.exclusions if e.id == pers.id).basis
    assert any(e.type == "foreign_affairs" for e in yn.exclusions)
    assert not any(e.type == "foreign_affairs" for e in nat.exclusions)
    wuhua = rs.get("yunnan_wuhua")
    assert wuhua.chain == ["yunnan_wuhua", "yunnan", "national"]
    assert not any(t.id == "national.th.county_amount" for t in wuhua.thresholds)  # removed by the child


def test_bad_regex_names_file_and_entry(tmp_path):
    d = _copy(tmp_path)
    p = d / "xiamen.yaml"
    p.write_text(p.read_text(encoding="utf-8").replace("'(世界文化遗产", "'((世界文化遗产"), encoding="utf-8")
    with pytest.raises(RulebookError) as exc:
        RulebookSet(d)
    assert "xiamen.yaml" in str(exc.value) and "xiamen.en.heritage" in str(exc.value)


def test_missing_basis_names_file_and_entry(tmp_path):
    d = _copy(tmp_path)
    p = d / "yunnan.yaml"
    text = p.read_text(encoding="utf-8").replace("    basis: '云南省规定第2条第3款 (外事活动不适用)'\n", "")
    p.write_text(text, encoding="utf-8")
    with pytest.raises(RulebookError) as exc:
        RulebookSet(d)
    assert "yunnan.yaml" in str(exc.value) and "yunnan.ex.foreign_affairs" in str(exc.value) and "basis" in str(exc.value)


def test_undeclared_source_is_an_error(tmp_path):
    d = _copy(tmp_path)
    p = d / "xiamen.yaml"
    p.write_text(p.read_text(encoding="utf-8").replace("source: xiamen_2021\n    basis: '厦门目录标准第三项",
                                                       "source: nowhere\n    basis: '厦门目录标准第三项"), encoding="utf-8")
    with pytest.raises(RulebookError, match="nowhere"):
        RulebookSet(d)


def test_unknown_parent_and_loops_are_errors(tmp_path):
    d = _copy(tmp_path)
    p = d / "xiamen.yaml"
    p.write_text(p.read_text(encoding="utf-8").replace("extends: national", "extends: atlantis"), encoding="utf-8")
    with pytest.raises(RulebookError, match="atlantis"):
        RulebookSet(d)
    d2 = _copy(tmp_path / "b")
    (d2 / "national.yaml").write_text((d2 / "national.yaml").read_text(encoding="utf-8").replace(
        "profile: national\n", "profile: national\nextends: xiamen\n", 1), encoding="utf-8")
    with pytest.raises(RulebookError, match="loops"):
        RulebookSet(d2)


def test_an_override_that_inherits_patterns_follows_the_parents_patterns_with_its_own_basis():
    rb = RulebookSet()
    nat, yun = rb.get("national"), rb.get("yunnan")
    for eid in ("national.ex.personnel", "national.ex.internal_management"):
        n = next(e for e in nat.exclusions if e.id == eid)
        y = next(e for e in yun.exclusions if e.id == eid)
        assert y.patterns == n.patterns and y.unless == n.unless
        assert y.source == "yunnan_rule" and y.basis != n.basis
    # a pattern added nationally reaches the province that re-states the entry
    assert next(e for e in yun.exclusions if e.id == "national.ex.personnel").match("关于调整县人民医院院长的通知")
    wuhua_plan = next(e for e in rb.get("yunnan_wuhua").enumerations if e.id == "national.en.plan")
    assert wuhua_plan.strength == "weak"
    assert wuhua_plan.patterns == next(e for e in nat.enumerations if e.id == "national.en.plan").patterns


def test_inherit_patterns_needs_a_parent_entry_and_no_patterns_of_its_own(tmp_path):
    d = _copy(tmp_path)
    p = d / "yunnan.yaml"
    text = p.read_text(encoding="utf-8")
    p.write_text(text.replace("  - id: national.ex.personnel\n", "  - id: yunnan.ex.personnel\n", 1),
                 encoding="utf-8")
    with pytest.raises(RulebookError, match="no parent profile has an entry yunnan.ex.personnel"):
        RulebookSet(d)
    p.write_text(text.replace("    inherit_patterns: true",
                              "    inherit_patterns: true\n    patterns: ['任免']", 1), encoding="utf-8")
    with pytest.raises(RulebookError, match="give none of its own"):
        RulebookSet(d)
    own = "    inherit_patterns: true  # the national patterns, with this profile's basis\n"
    p.write_text(text.replace(own, "", 1), encoding="utf-8")
    with pytest.raises(RulebookError, match="at least one pattern"):
        RulebookSet(d)


def test_invalid_yaml_names_the_file(tmp_path):
    d = _copy(tmp_path)
    (d / "broken.yaml").write_text("profile: [unclosed\n", encoding="utf-8")
    with pytest.raises(RulebookError, match="broken.yaml"):
        RulebookSet(d)


def test_rules_version_changes_when_a_rulebook_changes(tmp_path):
    d = _copy(tmp_path)
    before = RulebookSet(d).version()
    p = d / "xiamen.yaml"
    p.write_text(p.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert RulebookSet(d).version() != before


def test_thresholds_say_whether_the_project_chose_them_or_a_deciding_body_published_them():
    rs = RulebookSet()
    for name in rs.names():
        for t in rs.get(name).thresholds:
            if t.project_default:
                assert "项目默认值" in t.basis and not t.decides, (name, t.id)
            else:
                assert t.source != "project_default" and "项目默认值" not in t.basis, (name, t.id)


def test_only_a_published_standard_can_decide_a_category():
    rs = RulebookSet()
    deciding = {(name, t.id) for name in rs.names() for t in rs.get(name).thresholds if t.decides}
    assert ("yunnan_wuhua", "yunnan_wuhua.th.construction") in deciding
    assert ("hunan_town", "hunan_town.th.construction") in deciding
    assert all(t.categories for name in rs.names() for t in rs.get(name).thresholds if t.decides)


def test_the_fast_yaml_loader_reads_every_shipped_file_as_pyyaml_does():
    """Rulebooks are read with libyaml's parser where PyYAML has it (start-up time): the data
    must be exactly what PyYAML's own parser reads."""
    import yaml

    from model.rulebook import _YAML_LOADER

    for path in sorted(RULEBOOK_DIR.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        assert yaml.load(text, Loader=_YAML_LOADER) == yaml.safe_load(text), path.name
