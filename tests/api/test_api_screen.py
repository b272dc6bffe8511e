"""POST /screen and /screen/batch: the contract of model/contract.py over HTTP, and every
screening recorded with its input, answer, versions, key and time."""
import datetime as dt

from sqlalchemy import select

from api.db import screenings

WATER = "关于调整城区居民生活用水价格的实施方案"
CONTRACT_KEYS = ("id", "verdict", "probability", "category", "tier", "exclusion", "procedures", "reasons", "numbers",
                 "similar", "model_version", "rules_version")


def test_screen_answers_in_the_contract_with_a_screening_id(service):
    r = service.client.post("/api/v1/screen", json={"id": "oa-17", "title": WATER, "unit": "市发展和改革局",
                                                    "planned_date": "2026-12-18"}, headers=service.headers)
    assert r.status_code == 200, r.text
    a = r.json()
    for key in CONTRACT_KEYS:
        assert key in a
    assert a["id"] == "oa-17"
    assert a["verdict"] == "major"
    assert {p["name"] for p in a["procedures"]} >= {"听证", "合法性审查", "集体讨论决定"}
    assert r.headers["X-Screening-Id"] == a["screening_id"]
    assert len(a["screening_id"]) == 32


def test_http_answer_equals_the_engines_answer(service, screener):
    matter = {"title": "县城乡供水专项规划(2025-2035年)", "profile": "zhejiang", "planned_date": "2026-12-18"}
    a = service.client.post("/api/v1/screen", json=matter, headers=service.headers).json()
    a.pop("screening_id")
    assert a == screener.screen(matter).model_dump(mode="json")


def test_every_screening_is_recorded_with_input_answer_versions_key_and_time(service):
    before = dt.datetime.now(dt.UTC)
    a = service.client.post("/api/v1/screen", json={"title": WATER, "people": 120000},
                            headers=service.headers).json()
    assert service.ctx.recorder.flush(10)
    with service.db.read() as conn:
        rec = conn.execute(select(screenings).where(screenings.c.id == a["screening_id"])).mappings().one()
    assert rec["input"] == {"title": WATER, "people": 120000.0}
    assert rec["answer"]["verdict"] == a["verdict"] and rec["verdict"] == a["verdict"]
    assert rec["model_version"] == a["model_version"] and rec["rules_version"] == a["rules_version"]
    assert rec["key_id"] == service.key.split("_")[1]
    assert rec["source"] == "screen"
    assert before <= rec["created_at"] <= dt.datetime.now(dt.UTC)


def test_the_record_can_be_read_back_by_its_id(service):
    a = service.client.post("/api/v1/screen", json={"title": WATER}, headers=service.headers).json()
    r = service.client.get(f"/api/v1/screenings/{a['screening_id']}", headers=service.headers)
    assert r.status_code == 200
    rec = r.json()
    assert rec["answer"]["verdict"] == a["verdict"] and rec["input"]["title"] == WATER and rec["feedback"] == []
    missing = service.client.get("/api/v1/screenings/" + "0" * 32, headers=service.headers)
    assert missing.status_code == 404 and missing.json()["code"] == "screening_not_found"


def test_batch_keeps_order_and_ids_and_records_each_matter(service):
    matters = [{"id": f"m{i}", "title": t} for i, t in enumerate(
        [WATER, "关于召开全市安全生产工作会议的通知", "全市国土空间总体规划(2021-2035年)", "启动防汛IV级应急响应的通知"])]
    r = service.client.post("/api/v1/screen/batch", json={"matters": matters}, headers=service.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] == 4
    assert [a["id"] for a in body["answers"]] == ["m0", "m1", "m2", "m3"]
    assert body["answers"][0]["verdict"] == "major" and body["answers"][1]["verdict"] == "not_major"
    assert len({a["screening_id"] for a in body["answers"]}) == 4
    assert service.ctx.recorder.flush(10)
    with service.db.read() as conn:
        rows = conn.execute(select(screenings.c.id, screenings.c.source)).all()
    assert {a["screening_id"] for a in body["answers"]} <= {i for i, s in rows if s == "batch"}


def test_batch_of_1000_is_accepted_and_1001_refused(service):
    ok = service.client.post("/api/v1/screen/batch", json={"matters": [{"title": f"事项{i}"} for i in range(1000)]},
                             headers=service.headers)
    assert ok.status_code == 200 and ok.json()["count"] == 1000
    over = service.client.post("/api/v1/screen/batch", json={"matters": [{"title": f"事项{i}"} for i in range(1001)]},
                               headers=service.headers)
    assert over.status_code == 422
    assert over.json()["code"] == "too_many_items" and over.json()["field"] == "matters"


def test_batch_names_the_matter_and_field_at_fault(service):
    r = service.client.post("/api/v1/screen/batch", json={"matters": [{"title": WATER}, {"title": "  "}]},
                            headers=service.headers)
    assert r.status_code == 422
    assert r.json()["code"] == "title_required" and r.json()["field"] == "matters[1].title"
    r = service.client.post("/api/v1/screen/batch",
                            json={"matters": [{"title": WATER}, {"title": WATER, "profile": "atlantis"}]},
                            headers=service.headers)
    assert r.status_code == 422
    assert r.json()["code"] == "unknown_profile" and r.json()["field"] == "matters[1].profile"


def test_concurrent_single_screens_each_get_their_own_answer(service):
    # The batcher shares engine calls between requests: answers must not be crossed.
    from concurrent.futures import ThreadPoolExecutor

    titles = [f"{WATER}{i}" if i % 2 else f"关于召开第{i}次安全生产工作会议的通知" for i in range(40)]

    def one(i):
        return service.client.post("/api/v1/screen", json={"id": str(i), "title": titles[i]},
                                   headers=service.headers).json()

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(one, range(40)))
    assert [a["id"] for a in answers] == [str(i) for i in range(40)]
    assert all(a["verdict"] == ("major" if i % 2 else "not_major") for i, a in enumerate(answers))


def test_a_date_the_calendar_cannot_count_back_from_is_a_4xx_in_batches_too(service):
    r = service.client.post("/api/v1/screen/batch", json={"matters": [
        {"title": WATER}, {"title": WATER, "planned_date": "0001-01-05"}]}, headers=service.headers)
    assert r.status_code == 422 and r.json()["field"] == "matters[1].planned_date"
