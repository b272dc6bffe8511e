"""Near-duplicate matters across departments (model.neardup, rapidfuzz on the duplicate key)."""
import pytest

from model.neardup import NearDuplicateFinder, find_near_duplicates


@pytest.mark.parametrize("a, b", [
    ("城区居民生活用水价格调整方案", "关于调整城区居民生活用水价格的实施方案"),
    ("县城乡供水专项规划", "县城乡供水专项规划(2025-2035年)"),
    ("关于制定全市养老服务设施布局规划的意见", "全市养老服务设施布局规划"),
    ("城区居民生活用水价格调整方案", "城区居民用水价格调整方案"),  # 生活 left out
    ("下达2025年国民经济和社会发展计划", "鄂尔多斯市人民政府关于下达2025年国民经济和社会发展计划的通知"),
])
def test_the_same_matter_in_other_words_is_a_near_duplicate(a, b):
    f = NearDuplicateFinder()
    assert f.see(1, a) == []
    assert [m.row for m in f.see(2, b)] == [1]


@pytest.mark.parametrize("a, b", [
    ("城区居民生活用水价格调整方案", "城区居民生活用气价格调整方案"),  # water is not gas
    ("全市国土空间总体规划(2021-2035年)", "全县国土空间总体规划(2021-2035年)"),  # another government
    ("2027年城区道路改造工程", "2028年城区道路改造工程"),  # another year
    ("关于召开全市安全生产工作会议的通知", "关于召开全市防汛工作会议的通知"),
    ("城区居民生活用水价格调整方案", "城区居民生活用水价格调整方案"),  # an exact duplicate is DuplicateFinder's
    ("城西国土空间详细规划(2025-2035年)", "城东国土空间详细规划(2025-2035年)"),  # one character changed
    ("关于支持新区中小企业发展的若干措施", "关于支持高新区中小企业发展的若干措施"),  # another zone
])
def test_other_matters_and_exact_duplicates_are_not_near_duplicates(a, b):
    f = NearDuplicateFinder()
    f.see(1, a)
    assert f.see(2, b) == []


def test_both_rows_are_told_with_the_other_unit_and_a_conflicting_date():
    near = find_near_duplicates([(1, "城区居民生活用水价格调整方案", "市发展和改革局", "2027年第二季度"),
                                 (2, "全市殡葬设施布局规划", "市民政局", None),
                                 (3, "关于调整城区居民生活用水价格的实施方案", "市水务局", "2027年9月30日")])
    assert set(near) == {1, 3}
    m = near[3][0]
    assert (m["row"], m["unit"], m["planned"], m["other_unit"], m["date_conflict"]) == (
        1, "市发展和改革局", "2027年第二季度", True, True)
    assert near[1][0]["row"] == 3 and near[1][0]["date_conflict"]


def test_file_mode_flags_near_duplicates_and_reads_office_dates(tmp_path):
    import json

    from model.filemode import screen_file

    src = tmp_path / "in.csv"
    src.write_text("序号,决策事项名称,承办单位,计划完成时间\n"
                   "1,城区居民生活用水价格调整方案,市发展和改革局,2027年第二季度\n"
                   "2,关于调整城区居民生活用水价格的实施方案,市水务局,2027/9/30\n"
                   "3,全市殡葬设施布局规划,市民政局,明年春天\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    summary = screen_file(src, out, rules_only=True, workers=1, year=2027)
    assert summary.counts["near_duplicate"] == 1 and summary.counts["error"] == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    near = rows[1]["near_duplicates"][0]
    assert (near["row"], near["planned"], near["date_conflict"]) == (1, "2027年第二季度", True)
    assert "near_duplicates" not in rows[0] and "near_duplicates" not in rows[2]
    assert any("明年春天" in w for w in rows[2]["warnings"])
    csv_out = tmp_path / "out.csv"
    screen_file(src, csv_out, rules_only=True, workers=1, year=2027)
    import csv

    flat = list(csv.DictReader(csv_out.open(encoding="utf-8-sig")))
    assert flat[1]["近似重复"] == "与第1行近似 (市发展和改革局), 计划时间不一致: 2027年第二季度"
