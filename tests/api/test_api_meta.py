"""Profiles, model info, health, metrics and the OpenAPI document."""
import re

OPERATION_IDS = {"screenMatter", "screenBatch", "getScreening", "createJob", "getJob", "getJobResult",
                 "getJobTemplate", "createFeedback", "listProfiles", "getProfile", "getModel", "healthz", "readyz",
                 "metrics",
                 # the catalogue year (issue 12)
                 "listJobRows", "getJobRow", "patchJobRow", "getNearDuplicates", "getCatalogue", "adjustCatalogue",
                 "getTrackingBoard", "tickProcedure", "getTrackingCalendar", "getEvaluationList"}
HAN = re.compile(r"[\u4e00-\u9fff]")


def test_profiles_lists_every_rule_profile(service, screener):
    r = service.client.get("/api/v1/profiles", headers=service.headers)
    assert r.status_code == 200
    assert [p["profile"] for p in r.json()] == screener.rulebooks.names()
    one = service.client.get("/api/v1/profiles/zhejiang", headers=service.headers).json()
    assert one["extends"] == ["national"] and one["thresholds"] and one["sources"]
    missing = service.client.get("/api/v1/profiles/atlantis", headers=service.headers)
    assert missing.status_code == 404 and missing.json()["code"] == "unknown_profile"


def test_model_reports_the_versions_answers_carry(service):
    info = service.client.get("/api/v1/model", headers=service.headers).json()
    a = service.client.post("/api/v1/screen", json={"title": "全市国土空间总体规划"}, headers=service.headers).json()
    assert (info["model_version"], info["rules_version"]) == (a["model_version"], a["rules_version"])
    assert info["learned"] == (info["model_version"] != "rules-only")
    assert info["learned"] == (info["model_card"] is not None)
    assert info["backend"]["version"] == info["model_version"]
    assert info["backend"]["default_backend"] == "tfidf"


def test_health_and_readiness(service):
    assert service.client.get("/healthz").json() == {"status": "ok", "checks": {}}
    ready = service.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok" and ready.json()["checks"]["job_worker"] == "ok"


def test_readiness_fails_when_a_background_thread_is_gone(service):
    service.ctx.recorder.stop()
    r = service.client.get("/readyz")
    assert r.status_code == 503 and r.json()["checks"]["record_writer"] == "stopped"


def test_metrics_count_requests_by_route_template_and_screenings_by_verdict(service):
    service.client.post("/api/v1/screen", json={"title": "全市国土空间总体规划"}, headers=service.headers)
    service.client.get("/api/v1/jobs/" + "0" * 32, headers=service.headers)
    text = service.client.get("/metrics").text
    assert 'decision_screen_http_requests_total{method="POST",route="/api/v1/screen",status="200"}' in text
    assert 'route="/api/v1/jobs/{job_id}",status="404"' in text
    assert re.search(r'decision_screen_screenings_total\{source="screen",verdict="major"\} [1-9]', text)
    assert 'decision_screen_jobs{status="queued"} 0.0' in text
    assert "decision_screen_model_info{" in text


def test_openapi_has_stable_operation_ids_versioned_paths_and_both_languages(service):
    spec = service.app.openapi()
    ops = {op["operationId"]: (path, op) for path, item in spec["paths"].items() for op in item.values()}
    assert set(ops) == OPERATION_IDS
    for op_id, (path, op) in ops.items():
        assert path.startswith("/api/v1/") or path in ("/healthz", "/readyz", "/metrics"), path
        text = op.get("summary", "") + op.get("description", "")
        assert HAN.search(text) and re.search(r"[A-Za-z]{4,}", text), op_id
    assert spec["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey", "in": "header", "name": "X-API-Key",
        "description": spec["components"]["securitySchemes"]["ApiKey"]["description"]}
    # The contract's models are the request and response bodies.
    assert "MatterIn" in spec["components"]["schemas"] and "ScreenedAnswer" in spec["components"]["schemas"]
    body = spec["paths"]["/api/v1/screen"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/MatterIn")
