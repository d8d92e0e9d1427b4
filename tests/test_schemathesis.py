"""Property-based API test: schemathesis generates requests from the app's own OpenAPI document
and runs every one of its checks on each answer, in-process (ASGI): no 5xx, the status, content
type, headers and body as documented, schema-valid requests accepted, schema-violating ones
refused, ``Allow`` as documented for unsupported methods, writes refused without the token.

Runs on the demo town with its access results, so the access, tile, split and register
endpoints all answer with data; writes carry the real token; the region in the path is the
served one. Both generation modes run for every operation (valid requests, then requests that
break the schema). The run is bounded in cases per operation: at least
:data:`MIN_CASES` in all, in a few minutes.

One check is narrowed for a few operations, each for a rule no schema can state, and for
those positive cases are checked to answer the listed statuses, never anything else; every other
check runs on them as on the rest (see :data:`NARROWED`):

- a plan file (the upload, and keeping a plan) is a file: no schema says what makes it a
  readable plan (closed rings, polygons, a name column, an assignment table's units);
- a register place's end time comes after its start: a rule between two fields (on an edit,
  between a field and the stored place), which JSON Schema cannot compare.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="needs schemathesis (pip install schemathesis)")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

DEMO = Path(__file__).resolve().parents[1] / "pipelines" / "demo.yaml"
TOKEN = "schemathesis-token-not-secret"
#: Examples per operation and generation mode (hypothesis stops sooner for small inputs).
MAX_EXAMPLES = 150
#: Operations that render pages (seconds each): fewer examples.
SLOW = {"/api/v1/regions/{region}/karte": 8, "/api/v1/regions/{region}/treasure-map": 60}
MIN_CASES = 5000
#: What the whole run may take (seconds); CI stops a run that hangs.
TIME_BUDGET = 900
UPLOAD = "/api/v1/regions/{region}/splits/upload"
#: (method, path) → what a schema-valid request may answer, for the rules above.
NARROWED: dict[tuple[str, str], tuple[int, ...]] = {
    ("POST", UPLOAD): (200, 422),
    ("POST", "/api/v1/regions/{region}/plans"): (201, 409, 422),
    ("POST", "/api/v1/regions/{region}/register/places"): (201, 409, 422),
    ("PATCH", "/api/v1/regions/{region}/register/places/{place_id}"): (200, 404, 409, 422),
}


@pytest.fixture(scope="module")
def api_schema(demo, tmp_path_factory: pytest.TempPathFactory):
    """The app on the demo town as built (with access results) by the session's ``demo``."""
    from api import create_app

    tmp = tmp_path_factory.mktemp("schemathesis")
    app = create_app(DEMO, build_dir=demo.build_dir, register_path=tmp / "register.sqlite", token=TOKEN,
                     max_upload_bytes=200_000, web_modules=tmp / "no_node_modules")
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)


def _runner(operation, mode: GenerationMode, examples: int, region: dict[str, str] | None,
            statuses: Counter[int]):
    """A hypothesis test sending ``examples`` cases of ``operation`` in ``mode``."""

    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=region))
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case) -> None:
        headers = {"Authorization": f"Bearer {TOKEN}"} if case.method != "GET" else None
        allowed = NARROWED.get((operation.method.upper(), operation.path))
        if allowed is not None:
            response = case.call_and_validate(headers=headers,
                                              excluded_checks=[positive_data_acceptance])
            if mode is GenerationMode.POSITIVE:
                assert response.status_code in allowed, response.text[:300]
        else:
            response = case.call_and_validate(headers=headers)
        statuses[response.status_code] += 1

    return run


def test_every_check_passes(api_schema) -> None:
    """Every operation in both modes, every check: no failure, at least ``MIN_CASES`` cases."""
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 20
    started = time.monotonic()

    for operation in operations:
        examples = SLOW.get(operation.path, MAX_EXAMPLES)
        region = {"region": "demo"} if "{region}" in operation.path else None
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run = _runner(operation, mode, examples, region, statuses)
            try:
                run()
            except Unsatisfiable:  # nothing of the operation can break its schema (no inputs)
                assert mode is GenerationMode.NEGATIVE, operation.path
            except BaseException as exc:  # collect every failing operation, not just the first
                if isinstance(exc, KeyboardInterrupt):
                    raise
                failures.append(f"{operation.method.upper()} {operation.path} ({mode}): {exc}")
        assert time.monotonic() - started < TIME_BUDGET, f"over {TIME_BUDGET} s at {operation.path}"
    assert not failures, "\n\n".join(failures)
    total = sum(statuses.values())
    print(f"schemathesis: {total} cases in {time.monotonic() - started:.0f} s, statuses "
          f"{dict(sorted(statuses.items()))}")
    assert total >= MIN_CASES, total
    assert sum(n for code, n in statuses.items() if 200 <= code < 300) > len(operations)
    assert statuses[422] and statuses[404]
