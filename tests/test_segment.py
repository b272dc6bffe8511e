"""model.segment gives exactly jieba's words (accurate mode, HMM on) with our dictionary."""
import json
from pathlib import Path

import pytest

from model.extract import _segmenter, _tokenizer
from model.normalise import normalise

SAMPLES = [
    "", " ", "关于制定《某市城市供水管理办法》的请示", "2027年城区老旧小区改造项目(第12项)",
    "重大行政决策程序暂行条例", "公平竞争审查", "征收补偿安置方案", "ABC 123 x+y#z", "a\r\nb\tc",
    "某某镇2027年民生实事项目：新建幸福院、改造农贸市场", "萌萌哒的羊驼吃草", "鑫淼焱垚",  # HMM runs
    "（一）听取…汇报；（二）审议《…》", "全角ＡＢＣ１２３与半角abc", "𠀀𠀁生僻字", "。。。",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_samples_segment_as_jieba_does(text):
    assert _segmenter().lcut(text) == _tokenizer().lcut(text)


def test_every_corpus_and_fixture_text_segments_as_jieba_does():
    from training.corpus import load_corpus

    records, _ = load_corpus(strict=False)
    texts = [r.text for r in records] + [normalise(r.title) for r in records]
    fixture = Path(__file__).parent / "data" / "real_dev_fixture.jsonl"
    texts += [json.loads(line)["title"] for line in fixture.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(texts) > 5000
    seg, tk = _segmenter(), _tokenizer()
    differing = [t for t in texts if seg.lcut(t) != tk.lcut(t)]
    assert differing == []


def test_ties_go_to_the_later_end_as_in_jiebas_max():
    # 甲 then 乙 scores exactly what 甲乙 scores (4/16 · 4/16 = 1/16): jieba's max over (score,
    # end) keeps the later end, the whole word. A private tokenizer with a made-up dictionary.
    from math import log

    import jieba

    from model.segment import Segmenter

    tk = jieba.Tokenizer()
    tk.FREQ, tk.total, tk.initialized = {"甲": 4, "乙": 4, "甲乙": 1, "丙": 0}, 16, True
    lt = log(16)
    assert (log(4) - lt) + ((log(4) - lt) + 0.0) == (log(1) - lt) + 0.0  # the tie is exact
    seg = Segmenter(tk)
    assert seg.lcut("甲乙") == tk.lcut("甲乙") == ["甲乙"]
    for text in ("甲乙甲", "丙甲乙", "乙甲", "甲乙乙甲丙"):
        assert seg.lcut(text) == tk.lcut(text), text
