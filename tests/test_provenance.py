"""Source-host classes (corpora/source_hosts.yaml) and the provenance rule of GUIDELINES.md:
the official page in source_url, a copying site in read_at, no item sourced only from an unrelated site."""
from training.provenance import (HostTable, apply_rule, classify_host, classify_item, host_of, load_hosts,
                                 official_url, read_items, source_is_official)

TABLE = HostTable(suffixes={"government": ("gov.cn",), "official_media": ("people.com.cn",)},
                  hosts={"copy.example": "mirror", "lost.example": "mirror", "ebook.example": "unrelated"},
                  official={"copy.example": "www.city.gov.cn", "lost.example": None})


def _rec(id_, url, **kw):
    return {"id": id_, "title": id_, "source_url": url, **kw}


def test_hosts_are_classified_by_entry_then_suffix():
    assert classify_host("www.city.gov.cn", TABLE) == "government"
    assert classify_host("cq.people.com.cn", TABLE) == "official_media"
    assert classify_host("ebook.example", TABLE) == "unrelated"
    assert classify_host("new.example", TABLE) == "unlisted"
    assert classify_host(None, TABLE) == "empty"
    assert host_of("qdyichengda.com/a/b.shtml") == "qdyichengda.com"


def test_a_mirror_keeps_its_path_on_the_official_host_and_becomes_read_at():
    assert official_url("http://copy.example/art/2024/2/6/art_1_2.html?x=1", TABLE) == \
        "http://www.city.gov.cn/art/2024/2/6/art_1_2.html?x=1"
    kept, rewritten, dropped = apply_rule([
        _rec("a-0001", "http://copy.example/zwgk/1.html"),
        _rec("a-0002", "http://lost.example/zwgk/2.html"),
        _rec("a-0003", "https://ebook.example/read/3"),
        _rec("a-0004", "http://new.example/4.html"),
        _rec("a-0005", None),
        _rec("d-0001", "http://copy.example/zwgk/1.html", derived_from="a-0001"),
        _rec("d-0002", "https://ebook.example/read/3", derived_from="a-0003"),
    ], TABLE)
    by_id = {r["id"]: r for r in kept}
    assert by_id["a-0001"]["source_url"] == "http://www.city.gov.cn/zwgk/1.html"
    assert by_id["a-0001"]["read_at"] == "http://copy.example/zwgk/1.html"
    assert by_id["d-0001"]["source_url"] == by_id["a-0001"]["source_url"]
    assert by_id["d-0001"]["read_at"] == by_id["a-0001"]["read_at"]
    assert {r["id"] for r in dropped} == {"a-0002", "a-0003", "d-0002"}  # unresolved copies go, with derived
    assert "a-0004" in by_id and "a-0005" in by_id  # unlisted hosts and written items are left alone
    assert {r["id"] for r in rewritten} == {"a-0001", "d-0001"}


def test_every_resolved_mirror_points_at_an_official_host():
    table = load_hosts()
    for mirror, target in table.official.items():
        if target:
            assert classify_host(target, table) in ("government", "official_media"), mirror


def test_no_corpus_item_is_sourced_from_a_mirror_or_an_unrelated_site():
    table = load_hosts()
    bad = [r["id"] for recs in read_items().values() for r in recs
           if classify_item(r, table) in ("mirror", "unrelated")]
    assert not bad, bad[:20]


def test_read_at_may_be_any_host_while_source_url_must_be_official():
    """The rule looks at source_url only: an official page read at an unrelated site, an unresolved
    copy or an unlisted host is kept as it is (this is how restored items are recorded); an item whose
    source_url is unrelated goes even when its read_at is an official page."""
    records = [
        _rec("a-0001", "http://www.city.gov.cn/art/1.html", read_at="https://ebook.example/read/1"),
        _rec("a-0002", "http://cq.people.com.cn/n2/2.html", read_at="http://lost.example/n2/2.html"),
        _rec("a-0003", "http://www.city.gov.cn/art/3.html", read_at="http://new.example/3.html"),
        _rec("a-0004", "https://ebook.example/read/4", read_at="http://www.city.gov.cn/art/4.html"),
        _rec("d-0001", "http://www.city.gov.cn/art/1.html", read_at="https://ebook.example/read/1",
             derived_from="a-0001"),
    ]
    kept, rewritten, dropped = apply_rule(records, TABLE)
    assert [r["id"] for r in kept] == ["a-0001", "a-0002", "a-0003", "d-0001"]
    assert kept == [r for r in records if r["id"] != "a-0004"]  # kept unchanged, read_at included
    assert rewritten == [] and [r["id"] for r in dropped] == ["a-0004"]
    assert [source_is_official(r, TABLE) for r in records] == [True, True, True, False, True]


def test_every_corpus_item_with_a_url_cites_an_official_page_whatever_its_read_at():
    table = load_hosts()
    recs = [r for recs in read_items().values() for r in recs]
    bad = [r["id"] for r in recs if r.get("source_url") and classify_item(r, table) != "unlisted"
           and not source_is_official(r, table)]
    assert not bad, bad[:20]
    no_source = [r["id"] for r in recs if r.get("read_at") and not r.get("source_url")]
    assert not no_source, no_source[:20]  # a read_at never stands in for a missing source_url
