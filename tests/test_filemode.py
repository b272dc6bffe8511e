"""File mode across worker processes: same answers, same order, same ids; input streamed."""
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from decision_screen.cli import app
from model.errors import ScreenInputError
from model.filemode import CHUNK, screen_file
from model.fileio import read_rows

TITLES = ["城区居民生活用水价格调整方案", "关于召开全市安全生产工作会议的通知", "城东污水处理厂扩建工程, 总投资3.5亿元",
          "老旧小区改造三年行动计划", "关于表彰优秀志愿者的决定", "中小学布局调整方案"]


def _rows(n):
    rows = []
    for i in range(n):
        title = f"{TITLES[i % len(TITLES)]}({i // len(TITLES)})" if i % 50 else TITLES[0]  # every 50th a duplicate
        rows.append({"id": f"r{i}", "title": title, "profile": ["national", "zhejiang"][i % 2]})
    rows[7]["title"] = ""  # a bad row
    rows[300]["profile"] = "no_such_profile"  # another, in a later chunk
    return rows


def _write_jsonl(path, rows, junk_line_at=None):
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    if junk_line_at is not None:
        lines.insert(junk_line_at, "{not json")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def big_input(tmp_path_factory):
    path = tmp_path_factory.mktemp("fm") / "in.jsonl"
    _write_jsonl(path, _rows(CHUNK * 2 + 150), junk_line_at=400)
    return path


def test_two_workers_give_the_answers_of_one_in_the_same_order(big_input, tmp_path):
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    s1 = screen_file(big_input, one, rules_only=True, workers=1)
    s2 = screen_file(big_input, two, rules_only=True, workers=2)
    assert s2.workers == 2 and s1.rows == s2.rows == CHUNK * 2 + 151
    assert one.read_text(encoding="utf-8") == two.read_text(encoding="utf-8")
    out = [json.loads(line) for line in two.read_text(encoding="utf-8").splitlines()]
    ids = [o["id"] for o in out]
    want = [r["id"] for r in _rows(CHUNK * 2 + 150)]
    assert ids == want[:400] + [None] + want[400:]  # the bad rows keep their place and id
    assert out[400]["error"] and out[400]["verdict"] is None  # the junk line, in its place
    assert s2.counts["error"] == 3
    assert out[50]["duplicate_of"] == 1 and out[100]["duplicate_of"] == 1


@pytest.mark.parametrize("dst", [".csv", ".xlsx"])
def test_spreadsheet_output_with_two_workers_keeps_order_and_ids(big_input, tmp_path, dst):
    out = tmp_path / f"out{dst}"
    r = CliRunner().invoke(app, ["screen", "--input", str(big_input), "--output", str(out), "--rules-only",
                                 "--workers", "2"])
    assert r.exit_code == 0, r.output
    assert "workers 2" in r.output
    frame = pd.read_csv(out, dtype=str) if dst == ".csv" else pd.read_excel(out, dtype=str)
    assert len(frame) == CHUNK * 2 + 151
    rows = _rows(CHUNK * 2 + 150)
    assert frame["id"].iloc[:7].tolist() == [r["id"] for r in rows[:7]]
    assert frame["id"].iloc[-1] == rows[-1]["id"]
    assert frame["重复"].iloc[50] == "与第1行重复"


def test_the_model_answers_the_same_through_workers(tmp_path):
    src = tmp_path / "in.jsonl"
    _write_jsonl(src, _rows(CHUNK + 60))
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    screen_file(src, one, workers=1)
    screen_file(src, two, workers=2)
    assert one.read_text(encoding="utf-8") == two.read_text(encoding="utf-8")
    assert any(json.loads(line)["similar"] for line in two.read_text(encoding="utf-8").splitlines())


def test_rows_are_read_as_they_are_needed(tmp_path):
    """A broken CSV row far down does not stop the first rows from being read: the file is streamed."""
    src = tmp_path / "in.csv"
    good = "".join(f"m{i},市场监管专项行动方案{i}\n" for i in range(2000))
    src.write_text("序号,决策事项名称\n" + good + 'x,"unterminated\n', encoding="utf-8")
    rows = read_rows(src)
    assert next(rows) == {"id": "m0", "title": "市场监管专项行动方案0"}


def test_a_file_without_a_title_column_fails_before_any_output(tmp_path):
    src, dst = tmp_path / "in.csv", tmp_path / "out.jsonl"
    src.write_text("序号,说明\n1,x\n", encoding="utf-8")
    with pytest.raises(ScreenInputError, match="title"):
        screen_file(src, dst, rules_only=True, workers=2)
    assert not dst.exists()


def test_the_duplicate_table_gives_each_keys_first_row_across_growth():
    # Compared with a plain dict on 60,000 keys drawn from 20,000 (the table doubles ten times
    # from its starting size of 4).
    import hashlib
    import random

    from model.filemode import _Duplicates
    from model.vocab import duplicate_key

    rng = random.Random(5)
    table, first = _Duplicates(capacity=4), {}
    for n in range(1, 60_001):
        title = f"第{rng.randint(0, 20_000)}号道路改造工程"
        key = duplicate_key(title)
        h = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
        earlier = first.setdefault(h, n)
        assert table.see(n, title) == (None if earlier == n else earlier)
    assert table._used == len(first) and len(table._hashes) >= 2 * len(first)
    assert table.see(60_001, "") is None  # no key, no duplicate
