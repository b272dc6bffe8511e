"""message_zh is Chinese: no English sentence, exception class or pydantic phrase from the
layers underneath ends up in it (issue 14, finding 7)."""
import re

ENGLISH = re.compile(r"\b(or|Error|Exception|Input|should|invalid)\b|[A-Za-z]+ [A-Za-z]+ [A-Za-z]+")


def _chinese_only(message: str) -> None:
    assert re.search(r"[\u4e00-\u9fff]", message), message
    assert not ENGLISH.search(message), message


def test_a_bad_choice_lists_the_choices_without_english_words(service):
    r = service.client.post("/api/v1/feedback", headers=service.headers,
                            json={"screening_id": "a" * 32, "agree": False, "label": "maybe"})
    assert r.status_code == 422 and r.json()["code"] == "bad_choice"
    _chinese_only(r.json()["message_zh"])
    assert "major" in r.json()["message_zh"]


def test_a_damaged_xlsx_is_explained_without_the_exception_class(service):
    r = service.client.post("/api/v1/jobs", files={"file": ("m.xlsx", b"PK\x03\x04 damaged", "application/octet-stream")},
                            headers=service.headers)
    assert r.status_code == 422 and r.json()["code"] == "bad_xlsx"
    _chinese_only(r.json()["message_zh"])
