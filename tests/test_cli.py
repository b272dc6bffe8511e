"""The CLI contract: one matter, file mode in every format, bad input as one bilingual line."""
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from decision_screen.cli import app

runner = CliRunner()
ROWS = [
    {"id": "a1", "title": "关于调整城区居民生活用水价格的实施方案", "unit": "市发展和改革局"},
    {"id": "a2", "title": "关于召开全市安全生产工作会议的通知"},
    {"id": "a3", "title": "市突发公共事件总体应急预案(修订)", "planned_date": "2026-12-18"},
]


def run(*args):
    return runner.invoke(app, list(args))


def test_screen_one_title_prints_a_readable_answer():
    r = run("screen", "关于调整城区居民生活用水价格的实施方案")
    assert r.exit_code == 0
    assert "属于重大行政决策" in r.stdout and "听证" in r.stdout


def test_screen_json_prints_the_contract():
    r = run("screen", "县城乡供水专项规划(2025-2035年)", "--json", "--planned-date", "2026-12-18", "--profile", "zhejiang")
    assert r.exit_code == 0
    a = json.loads(r.stdout)
    for key in ("id", "verdict", "probability", "category", "tier", "procedures", "reasons", "numbers", "similar",
                "model_version", "rules_version"):
        assert key in a
    assert a["profile"] == "zhejiang" and a["verdict"] == "major"


@pytest.mark.parametrize("args,needle", [
    (["screen", "   "], "title"),
    (["screen", "x" * 100_000], "too long"),
    (["screen", "城市规划", "--profile", "atlantis"], "unknown profile"),
    (["screen", "城市规划", "--planned-date", "2026-02-30"], "planned_date"),
    (["screen", "城市规划", "--level", "galaxy"], "level"),
    (["screen", "\x00\x01\x02"], "binary"),
    (["screen", "???!!!"], "readable"),
    (["screen", "--input", "nothing.csv"], "--input and --output"),
    (["calendar", "--year", "2026", "--published", "2026-13-01"], "YYYY-MM-DD"),
    (["profiles", "atlantis"], "unknown profile"),
])
def test_bad_input_is_one_bilingual_line_and_a_nonzero_exit(args, needle):
    r = run(*args)
    assert r.exit_code == 2
    assert "Traceback" not in r.output
    assert needle in r.output
    assert any("\u4e00" <= ch <= "\u9fff" for ch in r.output)  # the Chinese half is there too


def _write(path: Path, rows):
    if path.suffix == ".jsonl":
        path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    elif path.suffix == ".csv":
        pd.DataFrame(rows).to_csv(path, index=False)
    else:
        pd.DataFrame(rows).to_excel(path, index=False)


def _read(path: Path):
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    frame = pd.read_csv(path, dtype=str) if path.suffix == ".csv" else pd.read_excel(path, dtype=str)
    return [{k: (None if pd.isna(v) else v) for k, v in rec.items()} for rec in frame.to_dict(orient="records")]


@pytest.mark.parametrize("src", [".jsonl", ".csv", ".xlsx"])
@pytest.mark.parametrize("dst", [".jsonl", ".csv", ".xlsx"])
def test_file_mode_keeps_order_and_ids_in_every_format(tmp_path, src, dst):
    i, o = tmp_path / f"in{src}", tmp_path / f"out{dst}"
    _write(i, ROWS)
    # rules only: this test pins the file contract, not the learned model's opinion
    r = run("screen", "--input", str(i), "--output", str(o), "--rules-only")
    assert r.exit_code == 0, r.output
    got = _read(o)
    assert [g["id"] for g in got] == ["a1", "a2", "a3"]
    assert [g["verdict"] for g in got] == ["major", "not_major", "review"]
    assert "major 1" in r.output.replace("纳入 ", "")


def test_bad_rows_are_reported_with_row_numbers_and_the_rest_screened(tmp_path):
    i, o = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    i.write_text("\n".join([
        json.dumps({"id": "1", "title": "关于调整城区居民生活用水价格的实施方案"}, ensure_ascii=False),
        json.dumps({"id": "2", "title": "  "}),
        "{not json",
        json.dumps({"id": "4", "title": "城市规划", "profile": "atlantis"}),
        json.dumps({"id": "5", "title": "关于召开全市安全生产工作会议的通知"}, ensure_ascii=False),
    ]) + "\n", encoding="utf-8")
    r = run("screen", "--input", str(i), "--output", str(o))
    assert r.exit_code == 0
    got = _read(o)
    assert len(got) == 5
    assert got[0]["verdict"] == "major" and got[4]["verdict"] == "not_major"
    assert [g.get("error") is not None for g in got] == [False, True, True, True, False]
    assert "row 2" in got[1]["error"] and "row 3" in got[2]["error"] and "row 4" in got[3]["error"]
    assert "errors 3" in r.output


def test_gbk_csv_is_read(tmp_path):
    i, o = tmp_path / "in.csv", tmp_path / "out.jsonl"
    i.write_bytes("决策事项名称,承办单位\n关于调整城区居民生活用水价格的实施方案,市发展和改革局\n".encode("gbk"))
    r = run("screen", "--input", str(i), "--output", str(o))
    assert r.exit_code == 0, r.output
    assert _read(o)[0]["verdict"] == "major"


def test_missing_title_column_is_a_clear_error(tmp_path):
    i, o = tmp_path / "in.csv", tmp_path / "out.jsonl"
    i.write_text("名称X,单位\n一,二\n", encoding="utf-8")
    r = run("screen", "--input", str(i), "--output", str(o))
    assert r.exit_code == 2 and "missing column" in r.output


def test_binary_junk_file_is_a_clear_error(tmp_path):
    i, o = tmp_path / "in.xlsx", tmp_path / "out.jsonl"
    i.write_bytes(b"\x00\xff\xfe garbage" * 100)
    r = run("screen", "--input", str(i), "--output", str(o))
    assert r.exit_code == 2 and "xlsx" in r.output and "Traceback" not in r.output


def test_unsupported_suffix_is_a_clear_error(tmp_path):
    i = tmp_path / "in.txt"
    i.write_text("x", encoding="utf-8")
    r = run("screen", "--input", str(i), "--output", str(tmp_path / "o.jsonl"))
    assert r.exit_code == 2 and ".jsonl" in r.output


def test_formula_cells_are_escaped_on_export(tmp_path):
    i, o = tmp_path / "in.jsonl", tmp_path / "out.csv"
    i.write_text(json.dumps({"id": "=1+1", "title": "=HYPERLINK(\"x\")城市规划"}) + "\n", encoding="utf-8")
    assert run("screen", "--input", str(i), "--output", str(o)).exit_code == 0
    row = _read(o)[0]
    assert row["id"].startswith("'=") and row["决策事项名称"].startswith("'=")


def test_profiles_lists_and_shows():
    r = run("profiles", "--json")
    names = {p["profile"] for p in json.loads(r.stdout)}
    assert {"national", "zhejiang", "yunnan", "hunan_town", "xiamen"} <= names
    r2 = run("profiles", "hunan_town", "--json")
    shown = json.loads(r2.stdout)
    assert any(t["min"] == 100 and t["level"] == "town" for t in shown["thresholds"])


def test_installed_console_script_runs():
    exe = Path(sys.executable).parent / "decision-screen"
    r = subprocess.run([str(exe), "screen", "市轨道交通二期工程建设", "--json"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and json.loads(r.stdout)["verdict"] == "major"


def test_duplicates_in_a_batch_point_at_their_first_row(tmp_path):
    i, o = tmp_path / "in.jsonl", tmp_path / "out.xlsx"
    rows = [{"id": "1", "title": "关于调整城区居民生活用水价格的实施方案"},
            {"id": "2", "title": "县城乡供水专项规划"},
            {"id": "3", "title": "调整城区居民生活用水价格的实施方案(送审稿)"}]
    _write(i, rows)
    r = run("screen", "--input", str(i), "--output", str(o), "--rules-only")
    assert r.exit_code == 0 and "duplicates 1" in r.output
    got = _read(o)
    assert got[0]["重复"] is None and got[1]["重复"] is None  # empty cells
    assert got[2]["重复"] == "与第1行重复"
