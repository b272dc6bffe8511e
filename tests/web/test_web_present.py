"""What the pages show of an answer: Chinese only, years as years, model phrases on whole words,
and a history search that does not care about Traditional or Simplified characters."""
from __future__ import annotations

from api.services.history import query_forms
from api.web.present import highlight, numbers_view, zh_text


def _marked(text: str, terms: list[tuple[str, float]]) -> list[str]:
    return [s.text for s in highlight(text, [], terms) if s.model]


def test_model_phrases_are_marked_on_whole_words_and_numbers_never_fragments():
    text = "2027年计划投资3000万元建设城区污水处理厂"
    marked = _marked(text, [("202", 0.4), ("0万", 0.3), ("万元", 0.2), ("污水", 0.5), ("区污", 0.6)])
    assert "202" not in marked and "0万" not in marked and "区污" not in marked
    assert marked == ["污水"]  # 万元 of 3000万元 would cut the number 3000万
    assert _marked("涉及约12万户居民", [("万户", 0.2), ("居民", 0.3)]) == ["居民"]


def test_years_are_never_written_with_thousands_separators():
    view = numbers_view({"period": [2027, 2029], "duration_years": 3, "amount_wan": 12000.0,
                         "used": {"duration_years": {"value": 3, "from": "文中“2027-2029年”"}}})
    read = {r["name"]: r["value"] for r in view["read"]}
    assert read["期间 (年份)"] == "2027 – 2029"
    assert read["金额(万元)"] == "12,000"  # amounts keep their separators
    assert "2,027" not in str(view)


def test_engine_messages_show_only_their_chinese_with_codes_as_labels():
    assert zh_text("期限所用的节假日为推算 (estimated), 官方公布后为准 / deadlines use an estimated calendar") == \
        "期限所用的节假日为推算, 官方公布后为准"
    assert zh_text("应当评估风险。 (依据属性: stability_risk)") == "应当评估风险。 (依据属性: 可能影响社会稳定或公共安全)"
    assert "internal_management" not in zh_text("排除: internal_management")


def test_history_search_matches_traditional_and_simplified_alike():
    assert "调整用水价格" in query_forms("調整用水價格")
    assert "調整用水價格" in query_forms("调整用水价格")
    assert query_forms("用水") == ["用水"]
