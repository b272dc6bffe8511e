"""Property-based: schemathesis generates requests from the OpenAPI schema, valid and
invalid, and the service must never answer with a server error. In process (ASGI), with a
modest, fixed number of examples so the suite stays fast and repeatable."""
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.python.asgi import ASGIClient

EXAMPLES = 20


def _operations(app):
    schema = schemathesis.openapi.from_dict(app.openapi())
    for result in schema.get_all_operations():
        yield result.ok()


def _fuzz(op, mode, client, headers: dict, statuses: dict[str, set[int]]) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=op.as_strategy(generation_mode=mode))
    def run(case):
        response = case.call(session=client, base_url="http://testserver", headers=headers)
        statuses.setdefault(op.label, set()).add(response.status_code)
        case.validate_response(response, checks=[not_a_server_error])

    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_no_generated_request_gets_a_server_error(service, mode):
    # The service fixture runs the app's lifespan; this client only carries requests to it.
    client = ASGIClient(service.app)
    checked = []
    statuses: dict[str, set[int]] = {}
    for op in _operations(service.app):
        try:
            _fuzz(op, mode, client, service.headers, statuses)
        except Unsatisfiable:
            # Nothing about a parameterless operation (GET /healthz) can be made invalid.
            assert mode is GenerationMode.NEGATIVE
            continue
        checked.append(op.label)
    assert len(checked) >= (14 if mode is GenerationMode.POSITIVE else 9), checked
    if mode is GenerationMode.POSITIVE:
        # The key was sent and valid requests reached the engine (not just 401s and 422s).
        assert 200 in statuses["POST /api/v1/screen"] and 200 in statuses["POST /api/v1/screen/batch"], statuses
    assert all(code < 500 for codes in statuses.values() for code in codes)
