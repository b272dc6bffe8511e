"""The corpus is valid at every commit: schema, unique ids and titles, reserved issuers out."""
import json

import pytest

from training.corpus import Record, load_corpus, reserved_issuers, datasheet


@pytest.fixture(scope="module")
def corpus():
    records, problems = load_corpus(strict=False)
    return records, problems


def test_every_corpus_line_is_valid(corpus):
    records, problems = corpus
    assert not problems, "\n".join(map(str, problems[:20]))
    assert len(records) > 500


def test_no_catalogue_item_of_a_reserved_issuer(corpus):
    names = reserved_issuers()
    if names is None:
        pytest.skip("../shared/RESERVED_ISSUERS.md is not beside this checkout; cannot check reserved issuers")
    records, _ = corpus
    leaked = [r.id for r in records if r.issuer in names]
    assert not leaked


def test_both_labels_every_level_and_every_exclusion_type_are_present(corpus):
    records, _ = corpus
    assert {r.label for r in records} == {"major", "not_major"}
    assert {r.level for r in records} == {"province", "city", "county", "town", "department"}
    ex = {r.exclusion for r in records if r.exclusion}
    assert {"legislation", "emergency_response", "macro_fiscal", "personnel", "internal_management",
            "individual_act", "statutory_procedure", "routine"} <= ex


def _rec(**kw):
    base = {"id": "x-0001", "title": "某市国土空间总体规划", "label": "major", "source_type": "written",
            "level": "city", "attributes": {a: False for a in ("technical", "stability_risk", "market_entities",
                                                              "price_utility", "public_interest", "land_relocation")},
            "hard_case": False}
    base.update(kw)
    return base


@pytest.mark.parametrize("bad,needle", [
    ({"label": "maybe"}, "label"),
    ({"label": "not_major"}, "exclusion"),
    ({"label": "not_major", "exclusion": "routine"}, "reason"),
    ({"source_type": "catalogue"}, "issuer"),
    ({"exclusion": "routine"}, "cannot carry"),
    ({"procedures": {"开会": True}}, "unknown procedure"),
    ({"procedures": {"风险评估": True, "公众参与": True}}, "code-point order"),
    ({"source_type": "written", "declared_by_issuer": True}, "declared_by_issuer"),  # retired: issuer_claim
    ({"id": "bad id"}, "id"),
    ({"source_type": "written", "issuer_claim": "major"}, "issuer_claim"),
    ({"found_in": "newspaper"}, "found_in"),
])
def test_bad_records_are_named(tmp_path, bad, needle):
    d = tmp_path / "items"
    d.mkdir()
    (d / "x.jsonl").write_text(json.dumps(_rec(**bad), ensure_ascii=False) + "\n", encoding="utf-8")
    records, problems = load_corpus(d, strict=False)
    assert not records and problems
    assert "x.jsonl:1" in str(problems[0]) and needle in str(problems[0])


def test_duplicate_titles_are_caught_across_files(tmp_path):
    d = tmp_path / "items"
    d.mkdir()
    (d / "a.jsonl").write_text(json.dumps(_rec(id="a-0001"), ensure_ascii=False) + "\n", encoding="utf-8")
    (d / "b.jsonl").write_text(json.dumps(_rec(id="b-0001", title="某市国土空间总体规划 "), ensure_ascii=False) + "\n",
                               encoding="utf-8")
    _, problems = load_corpus(d, strict=False)
    assert any("duplicate title" in str(p) for p in problems)


def test_datasheet_counts_what_is_there(corpus):
    records, _ = corpus
    sheet = datasheet(records)
    assert f"- items: {len(records)}" in sheet
    assert "By province" in sheet and "By level" in sheet


def test_a_derived_item_must_point_at_a_real_original_with_the_same_label(tmp_path):
    d = tmp_path / "items"
    d.mkdir()
    orig = _rec(id="a-0001", source_type="document", issuer="某市人民政府", year=2024,
                source_url="https://www.example.gov.cn/a.html")
    same = _rec(id="a-0002", title="制定某市国土空间总体规划", source_type="document", issuer="某市人民政府",
                year=2024, source_url="https://www.example.gov.cn/a.html", derived_from="a-0001")
    flipped = dict(same, id="a-0003", title="2027年某市国土空间总体规划", label="not_major",
                   exclusion="routine", reason="测试用")
    dangling = dict(same, id="a-0004", title="某市国土空间总体规划编制", derived_from="a-9999")
    (d / "a.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in (orig, same, flipped, dangling))
                               + "\n", encoding="utf-8")
    _, problems = load_corpus(d, strict=False)
    text = "\n".join(map(str, problems))
    assert "a-0003" in text and "keeps its original's label" in text
    assert "a-0004" in text and "not a corpus id" in text
    assert "a-0002" not in text


def test_a_derived_item_shares_its_originals_split_group():
    from training.split import groups_for
    attrs = {a: False for a in ("technical", "stability_risk", "market_entities", "price_utility",
                                "public_interest", "land_relocation")}
    orig = Record(id="w-0001", title="某县农村厕所改造三年行动方案", label="major", source_type="written",
                  level="county", attributes=attrs, hard_case=False)
    other = Record(id="w-0002", title="关于召开全县安全生产会议的通知", label="not_major", source_type="written",
                   level="county", attributes=attrs, hard_case=False, exclusion="routine", reason="会议通知")
    derived = Record(id="w-0003", title="制定农厕改造行动计划", label="major", source_type="written",
                     level="county", attributes=attrs, hard_case=False, derived_from="w-0001")
    groups = groups_for([orig, other, derived])
    assert groups[2] == groups[0] != groups[1]


def test_what_real_dev_holds_is_refused_as_the_same_matter_page_or_catalogue_issuer(tmp_path, monkeypatch):
    dev = tmp_path / "real_dev.jsonl"
    rows = [{"id": "dv-1", "title": "丁市网约车管理办法", "label": "not_major", "source_type": "document",
             "issuer": "丁市人大常委会(2030年立法计划)", "level": "city", "source_url": "http://example.invalid/plan"},
            {"id": "dv-2", "title": "戊县2030年民生实事", "label": "major", "source_type": "catalogue",
             "issuer": "戊县人民政府", "level": "county", "source_url": "http://example.invalid/list"},
            # read at a copying site that serves the government page under the same path
            {"id": "dv-3", "title": "丁市电梯安全条例", "label": "not_major", "source_type": "document",
             "issuer": "丁市人民政府", "level": "city",
             "source_url": "http://copy.example/art/2030/2/6/art_1_2.html"}]
    dev.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    monkeypatch.setenv("DECISION_SCREEN_REAL_DEV", str(dev))
    d = tmp_path / "items"
    d.mkdir()
    real = {"year": 2030, "source_url": "http://example.invalid/elsewhere"}
    items = [_rec(id="x-0001", title="制定《丁市网约车管理办法》", source_type="document", issuer="丁市人民代表大会常务委员会",
                  **real),
             _rec(id="x-0002", title="丁市停车条例", source_type="document", issuer="丁市人大常委会",
                  **{**real, "source_url": "http://example.invalid/plan"}),
             _rec(id="x-0003", title="戊县2031年民生实事", source_type="catalogue", issuer="戊县人民政府", **real),
             _rec(id="x-0005", title="丁市养犬管理规定", source_type="document", issuer="丁市人民政府",
                  **{**real, "source_url": "http://www.ding.gov.cn/art/2030/2/6/art_1_2.html"}),
             # another document of a real_dev issuer, from another page, stays; so does a short path
             _rec(id="x-0004", title="戊县城区供水工程", source_type="document", issuer="戊县人民政府", **real),
             _rec(id="x-0006", title="戊县城区排水工程", source_type="document", issuer="戊县人民政府",
                  **{**real, "source_url": "http://www.wu.gov.cn/list"})]
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items)
    (d / "x.jsonl").write_text(lines, encoding="utf-8")
    records, problems = load_corpus(d, strict=False)
    named = {p.file: p.message for p in problems}
    assert set(named) == {"x-0001", "x-0002", "x-0003", "x-0005"}
    assert "dv-1" in named["x-0001"] and "dv-1" in named["x-0002"] and "real_dev issuer" in named["x-0003"]
    assert "dv-3" in named["x-0005"]
    with pytest.raises(ValueError, match="validation data never enters the corpus"):
        load_corpus(d)
