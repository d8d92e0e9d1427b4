"""Property-based API test: schemathesis generates requests from the app's own OpenAPI document
and checks that none of them makes the server fail (no 5xx), in-process (ASGI), bounded in
examples per operation so the file stays well under a minute.

Runs on the demo town with its access results, so the access, tile, split and register
endpoints all answer with data; writes carry the real token; the region in the path is the served one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="needs schemathesis (pip install schemathesis)")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

DEMO = Path(__file__).resolve().parents[1] / "pipelines" / "demo.yaml"
TOKEN = "schemathesis-token-not-secret"
#: Examples per operation (about 30 operations).
MAX_EXAMPLES = 25


@pytest.fixture(scope="module")
def api_schema(demo, tmp_path_factory: pytest.TempPathFactory):
    """The app on the demo town as built (with access results) by the session's ``demo``."""
    from api import create_app

    tmp = tmp_path_factory.mktemp("schemathesis")
    app = create_app(DEMO, build_dir=demo.build_dir, register_path=tmp / "register.sqlite", token=TOKEN,
                     max_upload_bytes=200_000, web_modules=tmp / "no_node_modules")
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)


def test_no_server_errors(api_schema) -> None:
    """Every operation, ``MAX_EXAMPLES`` generated requests each: no 5xx anywhere."""
    from hypothesis import given

    failures: list[str] = []
    calls: list[int] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 20

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case) -> None:
            if case.path_parameters and "region" in case.path_parameters:
                case.path_parameters["region"] = "demo"  # a random name only tests the 404
            headers = {"Authorization": f"Bearer {TOKEN}"} if case.method != "GET" else None
            response = case.call_and_validate(headers=headers, checks=[not_a_server_error])
            calls.append(response.status_code)

        try:
            run()
        except Exception as exc:  # collect every failing operation, not just the first
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
    assert len(calls) > 5 * len(operations) and sum(200 <= c < 300 for c in calls) > len(operations)
