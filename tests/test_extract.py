"""Extraction of amounts, people, areas, lengths and periods: a table of real-looking phrases."""
import pytest

from model.extract import extract, parse_number, tokens
from model.normalise import normalise

# (text, measure, expected value); value None means "nothing of that measure is read".
CASES = [
    # amounts, Arabic numerals
    ("总投资1.2亿元的供水管网改造", "amount_wan", 12000),
    ("投资3,500万元", "amount_wan", 3500),
    ("安排资金800万元", "amount_wan", 800),
    ("补助资金50万元", "amount_wan", 50),
    ("预算12000元", "amount_wan", 1.2),
    ("投资2.35亿元", "amount_wan", 23500),
    ("约2亿", "amount_wan", 20000),
    ("投资8000万", "amount_wan", 8000),
    ("经费约300万", "amount_wan", 300),
    ("总投资1000-2000万元", "amount_wan", 2000),
    ("概算0.8亿元", "amount_wan", 8000),
    ("筹集资金１２００万元", "amount_wan", 1200),
    ("估算投资 15 亿元", "amount_wan", 150000),
    ("拨付资金1,234.5万元", "amount_wan", 1234.5),
    ("出资500万元设立基金", "amount_wan", 500),
    # amounts, Chinese numerals
    ("安排五千万元专项资金", "amount_wan", 5000),
    ("两亿元", "amount_wan", 20000),
    ("一千二百万元", "amount_wan", 1200),
    ("五十八点五万元", "amount_wan", 58.5),
    ("三百万元", "amount_wan", 300),
    ("十亿元", "amount_wan", 100000),
    ("一点五亿元", "amount_wan", 15000),
    ("九百八十万元", "amount_wan", 980),
    ("二十万元", "amount_wan", 20),
    ("三千元", "amount_wan", 0.3),
    # amounts that must not be read
    ("亿元", "amount_wan", None),
    ("1..2亿元", "amount_wan", None),
    ("1,2,3万元", "amount_wan", None),
    ("惠及12万人", "amount_wan", None),
    ("新增就业岗位3万个", "amount_wan", None),
    ("占地120亩", "amount_wan", None),
    ("第三季度", "amount_wan", None),
    ("万元户", "amount_wan", None),
    # people and households
    ("惠及12万人", "people", 120000),
    ("涉及群众3000人", "people", 3000),
    ("服务人口50万", "people", None),
    ("受益人口约8万人口", "people", 80000),
    ("接待游客200万人次", "people", 2000000),
    ("招录150名", "people", 150),
    ("覆盖1200余人", "people", 1200),
    ("惠及两万人", "people", 20000),
    ("涉及3000户", "households", 3000),
    ("搬迁安置五百户", "households", 500),
    ("涉及1.2万户", "households", 12000),
    ("困难家庭600家庭", "households", 600),
    ("涉及人数", "people", None),
    ("12.3.4万人", "people", None),
    # area
    ("占地120亩", "area_mu", 120),
    ("规划面积50公顷", "area_mu", 750),
    ("2.5平方公里", "area_mu", 3750),
    ("建筑面积3万平方米", "area_mu", 45),
    ("用地300㎡", "area_mu", 0.45),
    ("面积2平方千米", "area_mu", 3000),
    ("流转土地一千亩", "area_mu", 1000),
    ("水域面积1.5km2", "area_mu", 2250),
    ("征收土地85.6亩", "area_mu", 85.6),
    ("绿地面积", "area_mu", None),
    ("整治面积约十公顷", "area_mu", 150),
    # length
    ("全长12.5公里", "length_km", 12.5),
    ("新建道路3千米", "length_km", 3),
    ("管网长度20km", "length_km", 20),
    ("改造河道二十公里", "length_km", 20),
    ("铺设管网150公里", "length_km", 150),
    ("距离市区", "length_km", None),
    ("面积2平方公里", "length_km", None),
    # durations and periods
    ("2024—2035年国土空间总体规划", "duration_years", 12),
    ("2021-2025年", "duration_years", 5),
    ("(2023-2025年)行动方案", "duration_years", 3),
    ("2026年至2030年发展规划", "duration_years", 5),
    ("三年行动计划", "duration_years", 3),
    ("五年规划", "duration_years", 5),
    ("“十五五”规划", "duration_years", 5),
    ("十四五时期", "duration_years", 5),
    ("为期两年的专项行动", "duration_years", 2),
    ("2025年度工作要点", "amount_wan", None),
    ("投资额达5亿元以上", "amount_wan", 50000),
    ("总投资约1.5亿, 建设期3年", "amount_wan", 15000),
    ("奖补资金不超过200万元/家", "amount_wan", 200),
    ("全长约8.6公里的快速路", "length_km", 8.6),
    ("受益群众约2.6万人", "people", 26000),
    ("涉及农户1500户", "households", 1500),
    ("占地面积约80亩", "area_mu", 80),
    ("一千五百万元", "amount_wan", 1500),
    ("２０２５－２０３０年", "duration_years", 6),
    ("2030-2020年", "duration_years", None),
    ("2025年度工作要点", "duration_years", None),
    ("十年攻坚", "duration_years", 10),
    ("2020—2035年", "duration_years", 16),
    ("2019至2021年", "duration_years", 3),
]


@pytest.mark.parametrize("text,measure,expected", CASES, ids=[f"{i}-{c[0]}" for i, c in enumerate(CASES)])
def test_extraction_reads_each_figure(text, measure, expected):
    q = extract(normalise(text)).best(measure)
    if expected is None:
        assert q is None, f"{text!r} should give no {measure}, got {q}"
    else:
        assert q is not None, f"{text!r} should give {measure}={expected}"
        assert q.value == pytest.approx(expected, rel=1e-3)


def test_there_are_at_least_eighty_extraction_cases():
    assert len(CASES) >= 80


def test_malformed_amount_warns_instead_of_guessing():
    e = extract(normalise("投资1..2亿元"))
    assert e.best("amount_wan") is None
    assert any("unreadable" in w for w in e.warnings)


def test_people_are_not_mistaken_for_money():
    e = extract(normalise("投资5000万元, 惠及12万人, 涉及300户"))
    assert e.best("amount_wan").value == 5000
    assert e.best("people").value == 120000
    assert e.best("households").value == 300


def test_fifteenth_five_year_plan_runs_2026_to_2030():
    assert extract("“十五五”规划").period == (2026, 2030)
    assert extract("十四五规划").period == (2021, 2025)


def test_spans_point_at_the_words_read():
    text = normalise("城东污水厂扩建, 总投资2.3亿元")
    q = extract(text).best("amount_wan")
    assert text[q.start:q.end] == q.text == "2.3亿元"


@pytest.mark.parametrize("token,value", [("1,200", 1200), ("五千", 5000), ("两千", 2000), ("一点二", 1.2),
                                         ("三点", None), ("12a", None), ("", None), ("点五", None)])
def test_parse_number(token, value):
    assert parse_number(token) == value


def test_units_and_levels_are_read():
    e = extract(normalise("由衢州市自然资源和规划局牵头, 全市范围实施"))
    assert any(u.endswith("规划局") for u in e.units)
    assert "city" in e.levels and "department" in e.levels


def test_tokens_keep_domain_terms_whole():
    words = tokens("开展公平竞争审查和社会稳定风险评估")
    assert "公平竞争审查" in words
    assert "社会稳定风险评估" in words


def _cn2an_strict(text: str):
    import cn2an

    try:
        return float(cn2an.cn2an(text.replace("两", "二").replace("〇", "零"), "strict"))
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def test_the_plain_numeral_table_reads_every_entry_as_cn2an_does():
    from model.extract import _plain_numerals

    table = _plain_numerals()
    assert len(table) == 10_010  # 0-9999 written the usual way, and 十 … 十九 without the 一
    assert {t: v for t, v in table.items() if _cn2an_strict(t) != v} == {}


def test_chinese_numerals_read_the_same_with_or_without_the_table():
    # Every string of up to four numeral characters, and the decimals: the table answers or
    # leaves the string to cn2an, never a different number (nor a number where cn2an has none).
    import itertools

    from model.extract import parse_number

    alphabet = "零一二三四五六七八九十百千两"
    texts = ["".join(p) for n in range(1, 5) for p in itertools.product(alphabet, repeat=n)]
    texts += ["三点五", "零点零五", "一百点二五", "十二点", "点五", "一万零五", "两千", "〇"]
    differ = {t: (parse_number(t), _cn2an_strict(t)) for t in texts if parse_number(t) != _cn2an_strict(t)}
    assert differ == {}
