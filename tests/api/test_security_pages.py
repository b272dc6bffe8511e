"""The pages' forms follow the same control-character rule as the API, with the same Chinese
words, and never a 500 (issue 14, finding 1, page forms). SQLite and PostgreSQL."""
import re

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
WATER = "关于调整城区居民生活用水价格的实施方案"


def _sign_in(service) -> str:
    c = service.client
    csrf = CSRF_RE.search(c.get("/ui/signin").text).group(1)
    assert c.post("/ui/signin", data={"csrf_token": csrf, "api_key": service.key},
                  follow_redirects=False).status_code == 303
    return CSRF_RE.search(c.get("/ui/screen").text).group(1)


def test_a_control_character_in_the_feedback_form_is_named_not_called_too_long(service):
    csrf = _sign_in(service)
    sid = service.client.post("/api/v1/screen", json={"title": WATER}, headers=service.headers).json()["screening_id"]
    r = service.client.post(f"/ui/screenings/{sid}/feedback", follow_redirects=False, data={
        "csrf_token": csrf, "agree": "yes", "comment": "同意\x00", "reviewer": "法制科"})
    assert r.status_code == 422, r.text[:500]
    assert "控制字符" in r.text and "过长" not in r.text


def test_a_control_character_in_the_screen_form_gets_the_apis_message(service):
    csrf = _sign_in(service)
    r = service.client.post("/ui/screen", follow_redirects=False,
                            data={"csrf_token": csrf, "title": WATER, "unit": "市\u202e政府"})
    assert r.status_code == 422, r.text[:500]
    assert "控制字符" in r.text and "U+202E" in r.text
