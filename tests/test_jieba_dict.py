"""model.jieba_dict builds, one first character at a time, exactly the dictionary jieba loads."""
import os

import pytest

from model import jieba_dict
from model.extract import _domain_dict, _tokenizer


@pytest.fixture(scope="module")
def chunked():
    d = jieba_dict.load(_domain_dict())
    assert d is not None
    return d


def test_every_group_holds_exactly_jiebas_entries_for_its_first_character(chunked):
    freq = _tokenizer().FREQ
    heads = {w[0] for w in freq}
    rebuilt: dict[str, int] = {}
    for h in heads:
        group = chunked.chunk(h)
        assert all(w[0] == h for w in group)
        rebuilt.update(group)
    assert rebuilt == freq  # every word and prefix, with its count, domain words included


def test_the_total_is_jiebas_after_the_domain_words(chunked):
    assert chunked.total == _tokenizer().total


def test_a_character_with_no_entries_gets_an_empty_group(chunked):
    assert chunked.chunk("\U0002a6d7") == {}
    assert "\U0002a6d7" not in _tokenizer().FREQ


def test_domain_words_override_counts_and_add_their_prefixes(tmp_path):
    user = tmp_path / "domain.txt"
    # 中华 is in jieba's dictionary: its count is replaced; 中华好邻里 is new, so its
    # unknown prefixes arrive with count 0; the later line of a repeated word wins.
    user.write_text("\ufeff中华好邻里 7 n\n中华 3\n\n中华 5 n\n", encoding="utf-8")
    d = jieba_dict.load(user)
    g = d.chunk("中")
    assert g["中华"] == 5 and g["中华好邻里"] == 7
    assert g["中华好"] == 0 and g["中华好邻"] == 0
    import jieba

    tk = jieba.Tokenizer()
    tk.initialize()
    tk.load_userdict(str(user))
    assert d.total == tk.total
    assert {w: c for w, c in tk.FREQ.items() if w[0] == "中"} == g


def test_a_domain_line_without_a_count_leaves_it_to_jieba(tmp_path):
    user = tmp_path / "domain.txt"
    user.write_text("重大行政决策\n", encoding="utf-8")
    assert jieba_dict.load(user) is None


def test_an_unreadable_cache_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setattr(jieba_dict.tempfile, "gettempdir", lambda: str(tmp_path))
    cache = jieba_dict._cache_path()
    assert cache is not None and cache.parent == tmp_path
    cache.write_bytes(b"not a numpy file")
    d = jieba_dict.load(None)
    assert d is not None and len(d) == len(jieba_dict._build()[1])
    assert d.chunk("中") == jieba_dict.load(None).chunk("中")  # the rebuilt file reads back
    assert cache.stat().st_size > 1_000_000 and (cache.stat().st_mode & 0o077) == 0


def test_the_segmenter_reads_only_the_groups_its_text_needs():
    from model.segment import Segmenter

    fresh = jieba_dict.load(_domain_dict())
    assert fresh.chunks == {}
    Segmenter(fresh).lcut("城区供水价格调整")
    assert set(fresh.chunks) == set("城区供水价格调整")
    assert sum(map(len, fresh.chunks.values())) < 0.02 * len(fresh)


def test_the_cache_is_only_read_when_this_user_wrote_it(tmp_path, monkeypatch):
    monkeypatch.setattr(jieba_dict.tempfile, "gettempdir", lambda: str(tmp_path))
    jieba_dict.load(None)  # written by this user
    builds = []
    real_build = jieba_dict._build
    monkeypatch.setattr(jieba_dict, "_build", lambda: builds.append(1) or real_build())
    assert jieba_dict.load(None) is not None
    assert builds == []  # this user's file is read
    uid = jieba_dict._cache_path().stat().st_uid
    monkeypatch.setattr(os, "getuid", lambda: uid + 1)
    assert jieba_dict.load(None) is not None
    assert builds == [1]  # another user's file is not trusted: rebuilt from jieba
