"""The compiled TF-IDF path gives the scikit-learn pipeline's numbers."""
import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from model.learned import load_default
from model.learned.tfidf_fast import char_ngrams


@pytest.fixture(scope="module")
def model():
    return load_default(required=True, backend="tfidf")


@pytest.fixture(scope="module")
def corpus_texts():
    from training.corpus import load_corpus

    records, _ = load_corpus(strict=False)  # texts only: the corpus's own checks are test_corpus's
    return [r.text for r in records]


def test_compiled_path_gives_sklearn_probabilities_on_the_whole_corpus(model, corpus_texts):
    texts = corpus_texts + ["", "   ", "ABC abc", "关于召开全市安全生产工作会议的通知"]
    fast = model.predict(texts, k_similar=0)
    ref = model.predict_sklearn(texts, k_similar=0)
    assert len(fast) == len(ref) == len(texts)
    p_fast = np.array([p.probability for p in fast])
    p_ref = np.array([p.probability for p in ref])
    assert np.max(np.abs(p_fast - p_ref)) < 1e-9
    names = sorted(ref[0].attributes)
    assert names and sorted(fast[0].attributes) == names
    a_fast = np.array([[p.attributes[n] for n in names] for p in fast])
    a_ref = np.array([[p.attributes[n] for n in names] for p in ref])
    assert np.max(np.abs(a_fast - a_ref)) < 1e-9
    assert [p.terms for p in fast] == [p.terms for p in ref]


def test_compiled_path_gives_sklearn_probabilities_with_unit_level_and_profile(model, corpus_texts):
    """With the meta inputs (where the artefact reads them) the two paths still agree."""
    units = ["市水务局", "临江镇人民政府", "北城街道办事处", "区人民政府", "某某有限公司", "", None]
    levels = ["province", "city", "county", "town", "department", None]
    profiles = ["national", "zhejiang", "hunan_town", "no_such_profile"]
    texts = corpus_texts[::3]
    metas = [{"unit": units[i % len(units)], "level": levels[i % len(levels)], "profile": profiles[i % len(profiles)]}
             for i in range(len(texts))]
    fast = model.predict(texts, k_similar=0, meta=metas)
    ref = model.predict_sklearn(texts, k_similar=0, meta=metas)
    assert max(abs(f.probability - r.probability) for f, r in zip(fast, ref)) < 1e-9
    assert max(abs(f.attributes[k] - r.attributes[k]) for f, r in zip(fast, ref) for k in r.attributes) < 1e-9
    assert [f.terms for f in fast] == [r.terms for r in ref]


def test_compiled_precedents_are_sklearn_precedents(model, corpus_texts):
    texts = corpus_texts[::7]
    fast = model.predict(texts, k_similar=3)
    ref = model.predict_sklearn(texts, k_similar=3)
    assert any(p.similar for p in fast)
    for f, r in zip(fast, ref):
        assert [s["score"] for s in f.similar] == [s["score"] for s in r.similar]
        # equal scores (duplicate titles) may come in either order
        assert sorted((s["score"], s["title"]) for s in f.similar) == sorted((s["score"], s["title"]) for s in r.similar)


def test_one_matter_at_a_time_gives_the_batch_answers(model, corpus_texts):
    """Single matters take a path of their own (no sparse matrix); it agrees with the batch."""
    texts = corpus_texts[::40]
    units = ["市水务局", "临江镇人民政府", None]
    metas = [{"unit": units[i % 3], "level": "county", "profile": "zhejiang"} for i in range(len(texts))]
    batch = model.predict(texts, k_similar=3, meta=metas)
    for text, meta, b in zip(texts, metas, batch):
        one = model.predict([text], k_similar=3, meta=[meta])[0]
        assert abs(one.probability - b.probability) < 1e-12
        assert one.terms == b.terms
        assert max((abs(one.attributes[k] - b.attributes[k]) for k in b.attributes), default=0) < 1e-12
        assert [s["score"] for s in one.similar] == [s["score"] for s in b.similar]


def test_known_words_count_the_texts_distinct_words_in_the_models_vocabulary(model, corpus_texts):
    from model.learned.tfidf_text import word_ngrams

    vocab = model.features.union_.transformer_list[0][1].vocabulary_
    texts = corpus_texts[::25] + ["测试", "你好", "", "规划规划规划"]
    batch = model.predict(texts, k_similar=0)
    ref = model.predict_sklearn(texts, k_similar=0)
    for text, b, r in zip(texts, batch, ref):
        expected = len({w for w in word_ngrams(text) if "_" not in w and w in vocab})
        assert b.known_words == r.known_words == model.predict([text], k_similar=0)[0].known_words == expected
    assert [b.known_words for b in batch[-4:]] == [0, 0, 0, 1]


def test_precedents_do_not_depend_on_how_the_batch_is_cut_into_chunks(model, corpus_texts, monkeypatch):
    from model.learned import tfidf_fast

    texts = corpus_texts[::11]
    assert len(texts) > 3 * tfidf_fast.SIMILAR_ROWS
    chunked = model.predict(texts, k_similar=3)
    for rows in (7, len(texts)):
        monkeypatch.setattr(tfidf_fast, "SIMILAR_ROWS", rows)
        assert [p.similar for p in model.predict(texts, k_similar=3)] == [p.similar for p in chunked]


def test_precedents_are_computed_only_when_asked_for(model):
    pred = model.predict(["城区居民生活用水价格调整方案"], k_similar=0)[0]
    assert pred.similar == []
    assert model.predict(["城区居民生活用水价格调整方案"], k_similar=2)[0].similar


@pytest.mark.parametrize("text", ["", "a", "Ab  C\t\nd", "城东 道路  改造", "ＡＢＣ１２３", "x" * 3])
@pytest.mark.parametrize("ngram_range", [(1, 4), (2, 3), (1, 1)])
def test_char_ngrams_are_sklearns(text, ngram_range):
    want = TfidfVectorizer(analyzer="char", ngram_range=ngram_range).build_analyzer()(text)
    assert char_ngrams(text, *ngram_range) == want


def test_only_whole_words_are_named_as_influential_terms(model):
    """`terms` names a feature only where a reader can take it as a phrase: a character n-gram
    must be a word of the word block, a word pair must join two words of two characters or
    more, and digit fragments shorter than a year are left out."""
    c = model.compiled
    words = {c.term_names[j] for j in np.flatnonzero(c.word_column)}
    word_blocks = [b for b in c.blocks if b.words]
    assert word_blocks, "the shipped model has a word block"
    for block in c.blocks:
        for j in range(block.offset, block.offset + block.size):
            if not c.readable[j]:
                continue
            name = c.term_names[j]
            if not block.words:
                assert name in words, name
    names = [t for p in model.predict(["2026年市级财政预算", "关于2026年民生实事项目完成情况和2027年民生实事候选项目的报告",
                                       "县城乡供水专项规划(2025-2035年)"]) for t, _ in p.terms]
    assert names and all(len(n) >= 2 for n in names)
    assert not {"级财政预", "年民生实事", "项目的", "20", "年市"} & set(names)
