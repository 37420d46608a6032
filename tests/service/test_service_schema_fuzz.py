"""Generated requests against the OpenAPI schema (schemathesis, valid and invalid): no 500, ever.

The default run is small (it runs in CI); `-m slow` runs many more examples. Writes go to a
private copy of the index, with the API key, so generated listings are really upserted.
"""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="pip install schemathesis==4.32.5")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402

from service import create_app  # noqa: E402


@pytest.fixture
def schema(service_settings, pipeline):
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(service_settings, pipeline))


def run_generated(schema, max_examples: int) -> int:
    failures, calls = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                          operation.as_strategy(GenerationMode.NEGATIVE))

        @settings(max_examples=max_examples, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=cases)
        def check(case):
            nonlocal calls
            response = case.call(headers={"X-API-Key": "test-key"})
            calls += 1
            if response.status_code >= 500:
                failures.append((case.method, case.formatted_path, case.query, str(case.body)[:200],
                                 response.status_code, response.text[:300]))

        check()
    assert not failures, failures[:5]
    return calls


def test_generated_requests_never_500(schema):
    assert run_generated(schema, max_examples=12) > 50


@pytest.mark.slow
def test_generated_requests_never_500_many(schema):
    run_generated(schema, max_examples=300)
