"""Rule patterns joined for speed answer exactly as the patterns one by one."""
import json
import random
import re
from pathlib import Path

import pytest

from model.normalise import normalise
from model.patterns import PatternIndex, PatternSet, needed_chars


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


# --- the character filter (model.patterns.needed_chars, PatternIndex) -------------------------


@pytest.mark.parametrize("pattern, needs", [
    ("(招标|采购)[^。]{0,8}公告", [{"招", "采"}, {"公"}, {"告"}]),
    ("(关于)?(召开|举办)", [{"召", "举"}]),
    ("预算(\\(草案\\)|草案)?", [{"预"}, {"算"}]),
    ("(?<!不)(?=.*规划)方案", [{"方"}, {"案"}]),  # lookarounds consume nothing: not needed here
    ("[一二三]年(计划)+", [{"一", "二", "三"}, {"年"}, {"计"}, {"划"}]),
])
def test_needed_sets_are_what_every_match_contains(pattern, needs):
    assert set(needed_chars(pattern)) == {frozenset(n) for n in needs}


@pytest.mark.parametrize("pattern", ["(?i)abc", "(?i:a)", ".+", "\\d{4}年?", "[^,;。]{2}", "(a|)", "x*",
                                     "[\u4e00-\u9fff]{2}", "(a)?\\1"])
def test_patterns_without_needed_sets_are_not_filtered(pattern):
    assert needed_chars(pattern) is None


def _random_pattern(rnd: random.Random, depth: int = 0) -> str:
    atoms = ["a", "b", "甲", "[ab]", "[^a]", ".", "\\b", "(?=a)", "(?!b)", "(?<=b)", "[a-c]", "\\w"]
    parts = []
    for _ in range(rnd.randint(1, 4)):
        if depth < 2 and rnd.random() < 0.3:
            alts = [_random_pattern(rnd, depth + 1) for _ in range(rnd.randint(1, 3))]
            atom = "(" + "|".join(alts) + ")"
        else:
            atom = rnd.choice(atoms)
        parts.append(atom + rnd.choice(["", "", "?", "*", "+", "{0,2}", "{1,3}", "{2}", "+?"]))
    return "".join(parts)


def test_the_filter_never_rejects_a_text_a_pattern_matches():
    rnd = random.Random(13)
    texts = ["".join(rnd.choice("ab甲c ") for _ in range(rnd.randint(0, 6))) for _ in range(300)]
    filtered = 0
    for _ in range(400):
        patterns = [_random_pattern(rnd) for _ in range(rnd.randint(1, 3))]
        try:
            compiled = [re.compile(p) for p in patterns]
        except re.error:
            continue
        ps = PatternSet(patterns)
        for text in texts:
            want = next((m for rx in compiled if (m := rx.search(text))), None)
            got = ps.first(text, frozenset(text))
            assert (got and got.span()) == (want and want.span()), (patterns, text)
            filtered += want is None and ps.keys is not None and ps.keys.isdisjoint(text)
    assert filtered > 1000  # the filter did rule texts out


def _corpus_texts(step: int = 3) -> list[str]:
    texts = []
    for path in sorted((Path(__file__).resolve().parent.parent / "corpora" / "items").glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            if line.strip() and n % step == 0:
                r = json.loads(line)
                texts.append(normalise(r["title"] + ("。" + r["description"] if r.get("description") else "")))
    return texts


def test_shipped_rules_match_the_same_with_and_without_the_filter():
    """Every pattern set of every shipped profile, and each family's one-pass index, answer on
    corpus texts exactly as the patterns searched one by one."""
    from model.rulebook import default_rulebooks

    texts = _corpus_texts()
    assert len(texts) > 500
    rb = default_rulebooks()
    sets: dict[int, PatternSet] = {}
    for name in rb.names():
        prof = rb.get(name)
        for e in [*prof.exclusions, *prof.enumerations, *prof.attributes]:
            sets.update({id(ps): ps for ps in (e._re, e._req, e._unless)})
        for t in prof.thresholds:
            sets[id(t._when)] = t._when
        for r in prof.procedures:
            sets.update({id(ps): ps for ps in (r._re, r._unless, *(c._re for c in r.cases),
                                               *(c._unless for c in r.cases))})
    for text in texts:
        chars = frozenset(text)
        for ps in sets.values():
            want = ps.first(text)
            got = ps.first(text, chars)
            assert (got and got.span()) == (want and want.span()), ([rx.pattern for rx in ps], text)
            assert ps.any(text, chars) == (want is not None)
        for name in rb.names():
            prof = rb.get(name)
            for family in (prof.exclusions, prof.enumerations, prof.attributes):
                want = [(e.id, m.span()) for e in family if (m := e._re.first(text))]
                index = PatternIndex(family, [e._re for e in family]) if family else None
                got = [(e.id, m.span()) for e, m in index.first_matches(text, chars)] if index else []
                assert got == want, (name, text)
