"""Rule patterns joined for speed answer exactly as the patterns one by one."""
import re

import pytest

from model.patterns import PatternSet


def _naive_first(patterns, text):
    for p in patterns:
        m = re.search(p, text)
        if m:
            return m
    return None


def test_first_is_the_first_pattern_in_list_order_not_the_leftmost_match():
    ps = PatternSet(["价格", "调整"])
    m = ps.first("关于调整水价格的方案")
    assert m.group(0) == "价格" and m.span() == (5, 7)
    assert ps.any("调整") and not ps.any("会议通知")
    assert ps.first("会议通知") is None


@pytest.mark.parametrize("patterns", [[r"(水)\1", "价"], [r"(?P<a>甲)(?P=a)", "乙"], ["(?i)abc", "价"],
                                      ["(?P<x>a)", "(?P<x>b)"], [r"(a)?(?(1)b|c)", "z"]])
def test_patterns_that_cannot_be_joined_still_answer_one_by_one(patterns):
    ps = PatternSet(patterns)
    for text in ["水水", "甲甲乙", "ABC", "b", "a", "c", "ab", "无"]:
        want = _naive_first(patterns, text)
        got = ps.first(text)
        assert (got and got.span()) == (want and want.span())
        assert ps.any(text) == (want is not None)


def test_every_shipped_rule_pattern_set_answers_as_its_patterns_one_by_one():
    from model.rulebook import default_rulebooks

    texts = ["关于调整城区居民生活用水价格的实施方案", "关于召开全市安全生产工作会议的通知", "城东污水处理厂扩建工程, 总投资3.5亿元",
             "某某等同志职务任免", "国土空间总体规划(2021-2035年)", "突发公共事件总体应急预案", "征地补偿安置方案", ""]
    rb = default_rulebooks()
    checked = 0
    for name in rb.names():
        prof = rb.get(name)
        for entry in [*prof.exclusions, *prof.enumerations, *prof.attributes]:
            for text in texts:
                want = _naive_first(entry.patterns, text)
                got = entry._re.first(text)
                assert (got and got.span()) == (want and want.span()), (entry.id, text)
                checked += 1
    assert checked > 100
