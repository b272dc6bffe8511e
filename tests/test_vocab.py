"""One vocabulary for every entry point: the duplicate key the CLI, the draft catalogue and the
batch page flag by, the one spreadsheet reader and its headings, formula escaping and the
unknown-profile error."""
import io
import json

import pytest
from openpyxl import Workbook
from typer.testing import CliRunner

from model.sheets import read_table
from model.vocab import (
    CATEGORIES,
    CATEGORY_ZH,
    EXCLUSION_TYPES,
    EXCLUSION_ZH,
    LEVEL_ZH,
    LEVELS,
    VERDICT_ZH,
    VERDICTS,
    duplicate_key,
    safe_cell,
    unknown_profile,
)

WATER = "关于调整城区居民生活用水价格的实施方案"


def test_every_name_has_its_chinese_label():
    assert set(CATEGORY_ZH) == set(CATEGORIES) and set(EXCLUSION_ZH) == set(EXCLUSION_TYPES)
    assert set(LEVEL_ZH) == set(LEVELS) and set(VERDICT_ZH) == set(VERDICTS)


@pytest.mark.parametrize("variant", [
    "调整城区居民生活用水价格的实施方案(送审稿)", "关于调整城区居民生活用水价格的实施方案（征求意见稿）",
    "《关于调整城区居民生活用水价格的实施方案》", "关于 调整城区居民生活用水价格的实施方案。",
])
def test_one_matter_written_differently_has_one_duplicate_key(variant):
    assert duplicate_key(variant) == duplicate_key(WATER) != ""


def test_the_draft_catalogue_flags_what_the_cli_flags():
    from api.export import CATALOGUE_COLUMNS, EXTRA_COLUMNS, catalogue_row

    # Before one key, the catalogue kept a draft marker and 关于 in its key: this pair was not a duplicate.
    first_seen: dict = {}
    rows = [catalogue_row({"row_no": n, "input": {"title": t}, "answer": None, "error": {"message_zh": "x"}},
                          first_seen) for n, t in ((1, WATER), (2, "调整城区居民生活用水价格的实施方案(送审稿)"))]
    dup = (CATALOGUE_COLUMNS + EXTRA_COLUMNS).index("重复")
    assert rows[0][dup] == "" and rows[1][dup] == "与第1行重复"


def _xlsx(rows) -> bytes:
    wb = Workbook()
    for r in rows:
        wb.active.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_the_cli_reads_the_headings_and_layout_an_upload_may_have(tmp_path):
    # A title row above the headings, and headings only the service's reader knew before.
    data = _xlsx([["2027年度重大行政决策事项目录"], ["决策事项名称", "决策层级", "投资额(万元)"],
                  ["市区老旧小区改造三年行动计划", "市级", 32000]])
    assert read_table(data, "xlsx").rows == [{"title": "市区老旧小区改造三年行动计划", "level": "市级",
                                               "amount_wan": 32000}]
    src, out = tmp_path / "in.xlsx", tmp_path / "out.jsonl"
    src.write_bytes(data)
    from decision_screen.cli import app

    r = CliRunner().invoke(app, ["screen", "--input", str(src), "--output", str(out), "--rules-only"])
    assert r.exit_code == 0, r.output
    answer = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert answer["level"] == "city" and answer["numbers"]["used"]


def test_formula_cells_are_escaped_and_xml_junk_dropped():
    assert safe_cell("=1+1") == "'=1+1" and safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert safe_cell("a\x01b") == "ab" and safe_cell(3) == 3


def test_the_unknown_profile_error_lists_the_profiles():
    e = unknown_profile("atlantis", ["zhejiang", "national"], row=3)
    assert e.code == "unknown_profile" and e.field == "profile" and e.row == 3
    assert "national, zhejiang" in e.zh and "atlantis" in e.en
