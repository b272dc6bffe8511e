"""One visibility rule for screenings and their feedback, as for jobs: the key that made a
record, or an admin key. Anyone else gets the 404 an unknown id gets, so ids cannot be probed."""
from sqlalchemy import func, select

from api.db import feedback

WATER = "关于调整城区居民生活用水价格的实施方案"


def _h(key):
    return {"X-API-Key": key}


def test_another_key_cannot_read_a_screening_or_give_feedback_on_it(service):
    owner = service.new_key("screen", "feedback")
    stranger = service.new_key("screen", "feedback")
    sid = service.client.post("/api/v1/screen", json={"title": WATER}, headers=_h(owner)).json()["screening_id"]

    r = service.client.get(f"/api/v1/screenings/{sid}", headers=_h(stranger))
    assert r.status_code == 404 and r.json()["code"] == "screening_not_found"
    r = service.client.post("/api/v1/feedback", json={"screening_id": sid, "agree": False, "label": "not_major"},
                            headers=_h(stranger))
    assert r.status_code == 404 and r.json()["code"] == "screening_not_found"
    with service.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(feedback)).scalar_one() == 0

    assert service.client.get(f"/api/v1/screenings/{sid}", headers=_h(owner)).status_code == 200
    assert service.client.post("/api/v1/feedback", json={"screening_id": sid, "agree": True},
                               headers=_h(owner)).status_code == 201


def test_an_admin_key_reads_and_reviews_any_screening(service):
    owner = service.new_key("screen")
    sid = service.client.post("/api/v1/screen", json={"title": WATER}, headers=_h(owner)).json()["screening_id"]
    assert service.client.get(f"/api/v1/screenings/{sid}", headers=service.headers).status_code == 200
    r = service.client.post("/api/v1/feedback", json={"screening_id": sid, "agree": True}, headers=service.headers)
    assert r.status_code == 201
    rec = service.client.get(f"/api/v1/screenings/{sid}", headers=service.headers).json()
    assert [f["id"] for f in rec["feedback"]] == [r.json()["id"]]


def test_batch_records_are_as_private_as_single_ones(service):
    owner = service.new_key("screen")
    stranger = service.new_key("screen")
    out = service.client.post("/api/v1/screen/batch", json={"matters": [{"title": WATER}]}, headers=_h(owner)).json()
    sid = out["answers"][0]["screening_id"]
    assert service.client.get(f"/api/v1/screenings/{sid}", headers=_h(stranger)).status_code == 404
