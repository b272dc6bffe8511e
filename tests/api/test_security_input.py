"""Control characters are refused in every string field of every request, with the one error
shape and a Chinese message (issue 14, findings 1 and 3), and inputs are read strictly (finding 7).
Every test that takes `service` runs on SQLite and on PostgreSQL, where a NUL byte once got
past validation into the database (a 500, and a record writer stuck on it)."""
import re
import typing

import pytest

from model.contract import MatterIn
from api.schemas import FeedbackIn

WATER = "关于调整城区居民生活用水价格的实施方案"
# NUL, another C0, DEL, C1 (inside the text: a trailing one would be stripped as white space),
# a bidi override and a bidi isolate.
REFUSED = ["\x00", "\x07", "\x7f", "\x9b", "\u202e", "\u2067"]


def _string_fields(model) -> list[str]:
    out = []
    for name, info in model.model_fields.items():
        args = typing.get_args(info.annotation) or (info.annotation,)
        if any(a is str or typing.get_origin(a) is typing.Annotated and typing.get_args(a)[0] is str for a in args):
            out.append(name)
    return out


def _shape(body: dict, code: str, field: str) -> None:
    assert {"code", "message_zh", "message_en", "field"} <= set(body), body
    assert (body["code"], body["field"]) == (code, field), body
    assert re.search(r"[\u4e00-\u9fff]", body["message_zh"]), body


def _screen(service, **matter):
    return service.client.post("/api/v1/screen", json={"title": WATER, **matter}, headers=service.headers)


def test_every_string_field_of_the_request_models_is_covered():
    # Guards the parametrisations below: a new text field must be added to them.
    assert set(_string_fields(MatterIn)) == {"id", "title", "description", "unit", "profile", "planned_period",
                                             "planned_date_text"}
    assert set(_string_fields(FeedbackIn)) == {"screening_id", "comment", "reviewer"}


@pytest.mark.parametrize("field", ["id", "title", "description", "unit", "profile", "planned_period",
                                   "planned_date_text"])
@pytest.mark.parametrize("char", REFUSED)
def test_control_and_bidi_characters_are_refused_in_every_matter_field(service, field, char):
    r = _screen(service, **{field: f"{WATER[:4]}{char}{WATER[4:]}"})
    assert r.status_code == 422, r.text
    _shape(r.json(), "control_character", field)
    assert f"U+{ord(char):04X}" in r.json()["message_zh"]


def test_tab_and_line_breaks_are_kept_in_long_texts_but_refused_in_one_line_fields(service):
    ok = _screen(service, description="第一段\n第二段\t说明", unit="市发展和改革局\n市财政局")
    assert ok.status_code == 200, ok.text
    for field in ("id", "profile"):
        r = _screen(service, **{field: "a\nb"})
        assert r.status_code == 422
        _shape(r.json(), "control_character", field)


def test_a_control_character_in_one_matter_of_a_batch_names_that_matter(service):
    matters = [{"title": WATER}, {"title": WATER, "unit": "市\x00政府"}]
    r = service.client.post("/api/v1/screen/batch", json={"matters": matters}, headers=service.headers)
    assert r.status_code == 422
    _shape(r.json(), "control_character", "matters[1].unit")


@pytest.mark.parametrize("field", ["comment", "reviewer", "screening_id"])
@pytest.mark.parametrize("char", ["\x00", "\u202e"])
def test_control_characters_in_feedback_are_a_422_never_a_500(service, field, char):
    a = _screen(service).json()
    body = {"screening_id": a["screening_id"], "agree": True, "comment": "同意", "reviewer": "法制科"}
    body[field] = f"{body[field]}{char}x"
    r = service.client.post("/api/v1/feedback", json=body, headers=service.headers)
    assert r.status_code == 422, r.text
    _shape(r.json(), "control_character", field)


def _upload(service, name="m.csv", data=None, **form):
    """A multipart upload written by hand: httpx would percent-encode control characters in the file name."""
    data = data or f"决策事项名称,承办单位\n{WATER},市发展和改革局\n".encode()
    parts = [f'--B\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in form.items()]
    parts.append(f'--B\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                 f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    return service.client.post("/api/v1/jobs", content=b"".join(parts) + b"--B--\r\n",
                               headers={**service.headers, "Content-Type": "multipart/form-data; boundary=B"})


@pytest.mark.parametrize("form, field", [
    ({"name": "事项\x00.csv"}, "file"),
    ({"name": "事项\u202ecsv.exe.csv"}, "file"),
    ({"profile": "national\x00"}, "profile"),
    ({"callback_url": "http://oa.example/ho\x00ok"}, "callback_url"),
])
def test_control_characters_in_job_form_fields_and_file_names_are_refused(service, form, field):
    r = _upload(service, **form)
    assert r.status_code == 422, r.text
    _shape(r.json(), "control_character", field)


def test_a_row_with_a_bidi_override_is_an_error_row_not_a_500_with_skip_bad_rows(service):
    data = f"决策事项名称,承办单位\n{WATER},市发展\u202e和改革局\n{WATER},市财政局\n".encode()
    refused = _upload(service, data=data)
    assert refused.status_code == 422 and refused.json()["errors"][0]["code"] == "control_character"
    r = _upload(service, data=data, skip_bad_rows="true")
    assert r.status_code == 202, r.text
    job = service.wait_job(r.json()["id"])
    assert job["status"] == "done" and job["counts"]["error"] == 1


def test_a_csv_with_a_nul_byte_is_refused_whole_even_with_skip_bad_rows(service):
    # PostgreSQL could not keep such a row even as an error row; .xlsx cannot carry NUL at all (XML).
    data = f"决策事项名称,承办单位\n{WATER},市\x00发展和改革局\n".encode()
    r = _upload(service, data=data, skip_bad_rows="true")
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "file"


def test_a_key_name_with_control_characters_is_refused(service):
    from api.auth import create_key

    for name in ("OA\x00", "OA\u202e", "OA\nsystem", ""):
        with pytest.raises(ValueError):
            create_key(service.db, name, ["screen"])


# -- strict types (finding 7) ------------------------------------------------------------------------

@pytest.mark.parametrize("field", ["amount_wan", "people", "area_mu", "length_km", "duration_years"])
def test_true_or_false_is_not_a_number(service, field):
    r = _screen(service, **{field: True})
    assert r.status_code == 422
    _shape(r.json(), "bad_field", field)


def test_numbers_given_as_integers_or_spreadsheet_text_are_still_numbers(service):
    r = _screen(service, amount_wan=3000, people="12000")
    assert r.status_code == 200, r.text
    assert r.json()["numbers"]


@pytest.mark.parametrize("value", ["2026-12-18T10:00:00", "2026-12-18T00:00:00Z", "2026-12-18 00:00", 1766016000, True])
def test_a_datetime_or_a_timestamp_is_not_a_date(service, value):
    r = _screen(service, planned_date=value)
    assert r.status_code == 422, r.text
    _shape(r.json(), "bad_date", "planned_date")


def test_empty_optional_strings_mean_absent(service):
    r = _screen(service, id="", description="", unit=" ", profile="", level="", planned_date="", amount_wan="")
    assert r.status_code == 200, r.text
    rec = service.client.get(f"/api/v1/screenings/{r.json()['screening_id']}", headers=service.headers).json()
    assert rec["input"] == {"title": WATER}
    a = _screen(service).json()
    fb = service.client.post("/api/v1/feedback", headers=service.headers, json={
        "screening_id": a["screening_id"], "agree": True, "label": "", "comment": "", "reviewer": "",
        "category": "", "exclusion": ""})
    assert fb.status_code == 201, fb.text


@pytest.mark.parametrize("payload", [
    {"title": WATER, "amount_wan": -5}, {"title": WATER, "amount_wan": 1e12}, {"title": WATER, "amount_wan": [1]},
    {"title": WATER, "people": {"a": 1}}, {"title": WATER, "id": True}, {"title": ["a"]},
])
def test_message_zh_carries_no_english_sentences(service, payload):
    r = service.client.post("/api/v1/screen", json=payload, headers=service.headers)
    assert r.status_code == 422, r.text
    zh = r.json()["message_zh"]
    assert re.search(r"[\u4e00-\u9fff]", zh), zh
    assert not re.search(r"[A-Za-z]+ [A-Za-z]+ [A-Za-z]+", zh), zh  # pydantic's "Input should be …"


def test_message_zh_of_a_bad_feedback_field_carries_no_english(service):
    r = service.client.post("/api/v1/feedback", headers=service.headers,
                            json={"screening_id": "a" * 32, "agree": "perhaps"})
    assert r.status_code == 422
    assert not re.search(r"[A-Za-z]+ [A-Za-z]+ [A-Za-z]+", r.json()["message_zh"]), r.json()
