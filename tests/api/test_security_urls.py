"""A NUL byte (or another control character) in a URL or in an API key never reaches the
database: on PostgreSQL such a value in a lookup was a 500 (found after issue 14's findings
1 and 3). Runs on SQLite and PostgreSQL."""
import re

import pytest

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.mark.parametrize("path", ["/api/v1/screenings/ab%00cd", "/api/v1/jobs/ab%00cd", "/api/v1/jobs/ab%00cd/result",
                                  "/ui/screenings/ab%00cd", "/api/v1/profiles/na%E2%80%AEtional",
                                  "/api/v1/screenings/ab%0Acd"])
def test_a_control_character_in_the_path_is_a_422_in_the_error_shape(service, path):
    r = service.client.get(path, headers=service.headers)
    assert r.status_code == 422, r.text
    body = r.json()
    assert (body["code"], body["field"]) == ("control_character", "path")
    assert re.search(r"[\u4e00-\u9fff]", body["message_zh"])
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("query, field", [("q=%00", "q"), ("format=xlsx%00", "format"), ("a%00=1", "query")])
def test_a_control_character_in_a_query_parameter_is_refused(service, query, field):
    r = service.client.get(f"/api/v1/jobs/{'0' * 32}/result?{query}", headers=service.headers)
    assert r.status_code == 422, r.text
    assert (r.json()["code"], r.json()["field"]) == ("control_character", field)


def test_ordinary_query_text_passes(service):
    r = service.client.get("/api/v1/jobs/" + "0" * 32 + "/result?format=jsonl", headers=service.headers)
    assert r.status_code == 404 and r.json()["code"] == "job_not_found"


@pytest.mark.parametrize("key", ["dsk_abc\x00efgh_secret", "dsk_abcdefgh_sec\x00ret", "dsk_ABCDEFGH_secret",
                                 "dsk_abcdefgh_secret%"])
def test_a_malformed_api_key_is_a_401_not_a_database_error(service, key):
    r = service.client.post("/api/v1/screen", json={"title": "规划"}, headers={"X-API-Key": key})
    assert r.status_code == 401 and r.json()["code"] == "invalid_api_key", r.text


def test_a_nul_in_the_key_pasted_on_the_sign_in_page_is_refused_not_a_500(service):
    c = service.client
    csrf = CSRF_RE.search(c.get("/ui/signin").text).group(1)
    r = c.post("/ui/signin", data={"csrf_token": csrf, "api_key": "dsk_abc\x00efgh_secret"})
    assert r.status_code == 401, r.text[:300]
