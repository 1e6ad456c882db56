"""Schemathesis against the real server (uvicorn on loopback, shipped classifier and digits network, tiny
trained generators and stroke model): schema-valid requests to every operation that /openapi.json lists
(read at run time, so new routes are covered), with its checks that nothing answers 5xx and that status
codes, content types and response bodies are the documented ones; and, the schema stating the limits, most
schema-valid drawings are accepted (schemathesis warned that /api/predict and /api/digits rejected nearly
all of them).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import pytest

from doodlelab.classifier.recognizer import SHIPPED

schemathesis = pytest.importorskip("schemathesis")
pytest.importorskip("uvicorn")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from doodlelab.web.app import create_app  # noqa: E402
from doodlelab.web.local import serving  # noqa: E402
from tests.generative.test_sketch import sketch_run  # noqa: E402, F401

if not SHIPPED.is_file():
    pytest.skip("no shipped classifier weights", allow_module_level=True)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 30  # schema-valid requests per operation
DRAWING_EXAMPLES = 120  # for the drawing operations: enough JSON bodies (a share is multipart) for a rate
DRAWINGS = ("POST /api/predict", "POST /api/digits")  # operations that take a drawing as JSON


@pytest.fixture(scope="module")
def base_url(diffusion_file, gan_file, sketch_run) -> Iterator[str]:  # noqa: F811
    app = create_app(
        workers=0,
        generators={"diffusion": diffusion_file, "gan": gan_file},
        sketch_weights=sketch_run[0] / "sketch.safetensors",
    )
    with serving(app) as client:
        yield str(client.base_url).rstrip("/")


def equal_lengths(context, body):
    """Schemathesis hook `map_body`: cut the arrays of each generated stroke to the shortest one's length.
    JSON Schema cannot state that xs, ys and ts have one length (the schema's description does); the rest
    of what the server checks the schema states, and this keeps the generated requests schema-valid."""
    if isinstance(body, dict) and isinstance(body.get("drawing"), list):
        for stroke in body["drawing"]:
            n = min(len(values) for values in stroke)
            stroke[:] = [values[:n] for values in stroke]
    return body


def fuzz(operation, base_url: str, examples: int = EXAMPLES) -> Counter:
    """Send `examples` schema-valid requests to `operation`, checking each answer; a tally of the answers'
    status codes (per media type: "application/json 200", ...)."""
    tally: Counter = Counter()

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def send(case) -> None:
        response = case.call(base_url=base_url, timeout=60)
        case.validate_response(response, checks=CHECKS)
        tally[f"{case.media_type} {response.status_code}"] += 1

    start = time.perf_counter()
    send()
    print(f"{operation.label}: {dict(tally)} in {time.perf_counter() - start:.1f} s")
    return tally


def test_every_operation_answers_as_its_schema_says(base_url):
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    schema.hook("map_body")(equal_lengths)
    tallies = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        examples = DRAWING_EXAMPLES if operation.label in DRAWINGS else EXAMPLES
        tallies[operation.label] = fuzz(operation, base_url, examples)
    assert {
        "GET /api/health",
        "GET /api/categories",
        *DRAWINGS,
        "POST /api/generate",
        "POST /api/complete",
    } <= set(tallies)
    for label in DRAWINGS:
        answers = {k.split()[1]: n for k, n in tallies[label].items() if k.startswith("application/json")}
        accepted, sent = answers.get("200", 0), sum(answers.values())
        # the schema states the limits: most schema-valid drawings are accepted (not all: an empty stroke is
        # valid, a drawing of empty strokes is not; a speck narrower than the minimum extent is refused)
        assert sent >= 30 and accepted / sent >= 0.5, (label, tallies[label])
