"""Bad input gets a structured 4xx with a Chinese and an English message and the field at
fault — the CLI's shape — and never a 500."""
import json

import pytest

SHAPE = {"code", "message_zh", "message_en", "field"}


def _is_bilingual(body: dict) -> None:
    assert SHAPE <= set(body), body
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message_zh"]), body
    assert body["message_en"].isascii() or body["message_en"], body


@pytest.mark.parametrize("payload, code, field", [
    ({"title": ""}, "title_required", "title"),
    ({"description": "只有说明"}, "title_required", "title"),
    ({"title": "规划", "planned_date": "2026-02-30"}, "bad_date", "planned_date"),
    ({"title": "规划", "planned_date": "明年"}, "bad_date", "planned_date"),
    ({"title": "规划", "planned_date": "0001-01-05"}, "bad_date", "planned_date"),  # found by schemathesis
    ({"title": "规划", "planned_date": "9999-12-30"}, "bad_date", "planned_date"),
    ({"title": "规划", "level": "galaxy"}, "bad_level", "level"),
    ({"title": "规划", "profile": "atlantis"}, "unknown_profile", "profile"),
    ({"title": "规划", "amount_wan": "很多"}, "bad_field", "amount_wan"),
    ({"title": "规划", "amount_wan": -5}, "bad_field", "amount_wan"),
    ({"title": "x" * 501}, "too_long", "title"),
    ({"title": "\x00\x01\x02"}, "control_character", "title"),
    ({"title": "！！！"}, "unreadable", "title"),
])
def test_bad_matter_gets_the_clis_bilingual_error(service, payload, code, field):
    r = service.client.post("/api/v1/screen", json=payload, headers=service.headers)
    assert r.status_code == 422, r.text
    body = r.json()
    _is_bilingual(body)
    assert (body["code"], body["field"]) == (code, field)


def test_same_mistake_same_words_as_the_cli(service):
    from model.contract import parse_matter
    from model.errors import ScreenInputError

    payload = {"title": "规划", "planned_date": "2026-13-01"}
    with pytest.raises(ScreenInputError) as cli:
        parse_matter(payload)
    http = service.client.post("/api/v1/screen", json=payload, headers=service.headers).json()
    assert (http["code"], http["message_zh"], http["message_en"]) == (cli.value.code, cli.value.zh, cli.value.en)


def test_body_that_is_not_json_or_not_an_object(service):
    h = {**service.headers, "Content-Type": "application/json"}
    r = service.client.post("/api/v1/screen", content=b'{"title": ', headers=h)
    assert r.status_code == 422 and r.json()["code"] == "bad_json" and r.json()["field"] == "body"
    r = service.client.post("/api/v1/screen", content=b'["a list"]', headers=h)
    assert r.status_code == 422 and r.json()["code"] == "bad_type"
    r = service.client.post("/api/v1/screen", headers=h)
    assert r.status_code == 422 and r.json()["code"] == "missing_body"


def test_invalid_utf8_is_a_400_not_a_500(service):
    r = service.client.post("/api/v1/screen", content=b'{"title": "\xff\xfe\xfd"}',
                            headers={**service.headers, "Content-Type": "application/json"})
    assert r.status_code == 400
    _is_bilingual(r.json())
    assert r.json()["code"] == "bad_encoding"


def test_lone_surrogate_escape_is_refused(service):
    r = service.client.post("/api/v1/screen", content=b'{"title": "\\ud800 \\u89c4\\u5212"}',
                            headers={**service.headers, "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["field"] == "title"


def test_oversize_json_declared_length_is_refused_before_reading(service):
    body = json.dumps({"title": "规划", "description": "长" * 800_000}).encode()
    assert len(body) > 2 * 1024 * 1024
    r = service.client.post("/api/v1/screen", content=body,
                            headers={**service.headers, "Content-Type": "application/json"})
    assert r.status_code == 413
    _is_bilingual(r.json())
    assert r.json()["code"] == "body_too_large" and r.json()["limit_bytes"] == 2 * 1024 * 1024


def test_oversize_chunked_body_is_cut_off(service):
    def chunks():  # no Content-Length: the limit must be enforced while streaming
        for _ in range(40):
            yield b" " * 100_000

    r = service.client.post("/api/v1/screen", content=chunks(),
                            headers={**service.headers, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["code"] == "body_too_large"


def test_unknown_path_and_wrong_method_are_bilingual(service):
    r = service.client.get("/api/v1/nowhere", headers=service.headers)
    assert r.status_code == 404
    _is_bilingual(r.json())
    r = service.client.get("/api/v1/screen", headers=service.headers)
    assert r.status_code == 405
    _is_bilingual(r.json())
    assert r.json()["code"] == "method_not_allowed"


def test_validation_error_lists_every_problem(service):
    r = service.client.post("/api/v1/feedback", json={"agree": "perhaps"}, headers=service.headers)
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"screening_id", "agree"} <= fields
    for e in r.json()["errors"]:
        _is_bilingual(e)
