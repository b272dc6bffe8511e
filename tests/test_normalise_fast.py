"""Skipping OpenCC for text it would not change gives exactly OpenCC's answer."""
import pytest

from model.normalise import _converter, _convertible, to_simplified

SAMPLES = ["關於調整城區居民生活用水價格的實施方案", "沈默的大多數", "沈船打撈", "有序推進", "乾坤", "一目瞭然",
           "覆蓋全市", "城東道路改造", "", " ", "ABC 123", "國土空間總體規劃(2021-2035年)", "関於", "臺灣"]


def test_the_shortcut_is_taken_and_knows_the_phrases_without_a_mapped_character():
    check = _convertible()
    assert check is not None, "opencc's dictionaries could not be read: every text goes through OpenCC"
    chars, phrases = check
    assert "價" in chars and "价" not in chars
    assert phrases is not None and phrases.search("沈默")


@pytest.mark.parametrize("text", SAMPLES)
def test_samples_convert_as_opencc_does(text):
    assert to_simplified(text) == _converter().convert(text)


def test_every_corpus_text_converts_as_opencc_does():
    from training.corpus import load_corpus

    records, _ = load_corpus(strict=False)
    texts = [r.text for r in records] + [r.title for r in records]
    assert len(texts) > 1000
    assert [to_simplified(t) for t in texts] == [_converter().convert(t) for t in texts]
