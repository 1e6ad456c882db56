"""One set of input limits: a drawing at exactly each limit is accepted by `doodlelab predict`, by the web API
(a real server on loopback) and by the API's OpenAPI schema; one just beyond it is refused by the CLI (one
line on stderr naming file and line) and by the API (400) with the same message naming the limit, and by the
schema where JSON Schema can state the limit."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator

import pytest

from doodlelab.classifier.recognizer import SHIPPED
from doodlelab.cli.main import main
from doodlelab.data import limits

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")
jsonschema = pytest.importorskip("jsonschema")

from doodlelab.web.app import create_app  # noqa: E402
from doodlelab.web.local import serving  # noqa: E402

if not SHIPPED.is_file():
    pytest.skip("no shipped classifier weights", allow_module_level=True)


def line(n: int, y: float = 0.0) -> list[list[float]]:
    """A stroke of n points along a line: xs 0..n-1 (a straight line: little ink for its extent)."""
    return [list(range(n)), [y] * n]


def zigzag(n: int) -> list[list[int]]:
    """A stroke of n points going back and forth between x = 0 and 1: n - 1 units of ink in a 1-unit box."""
    return [[i % 2 for i in range(n)], [0] * n]


INK_STEPS = int(limits.MAX_INK_LENGTH // 255)  # zigzag steps whose ink, scaled to the 255 box, fits
# name: (drawing at exactly the limit, drawing just beyond it, the limit as the message names it,
#        whether JSON Schema can state the limit)
CASES = {
    "strokes": (
        [[[i % 256], [i // 256]] for i in range(limits.MAX_STROKES)],
        [[[i % 256], [i // 256]] for i in range(limits.MAX_STROKES + 1)],
        f"(limit {limits.MAX_STROKES})",
        True,
    ),
    "points in a stroke": (
        [line(limits.MAX_POINTS)],
        [line(limits.MAX_POINTS + 1)],
        f"(limit {limits.MAX_POINTS})",
        True,
    ),
    "points in all": (
        [line(limits.MAX_POINTS // 2), line(limits.MAX_POINTS // 2, 9)],
        [line(limits.MAX_POINTS // 2), line(limits.MAX_POINTS // 2 + 1, 9)],
        f"(limit {limits.MAX_POINTS})",
        False,
    ),
    "coordinates": (
        [[[0, limits.MAX_COORDINATE], [-limits.MAX_COORDINATE, 0]]],
        [[[0, 1e300], [0, 0]]],
        limits.coordinate_range(),
        True,
    ),
    "timestamps": (
        [[[0, 9], [0, 9], [0, limits.MAX_TIMESTAMP]]],
        [[[0, 9], [0, 9], [-1, 5]]],
        "timestamps out of range (limit 0 to",
        True,
    ),
    "extent": (
        [[[0, limits.MIN_EXTENT], [0, 0]]],
        [[[0, limits.MIN_EXTENT / 2], [0, 0]]],
        f"spans less than {limits.MIN_EXTENT:g} units",
        False,
    ),
    "ink": (
        [zigzag(INK_STEPS + 1)],
        [zigzag(INK_STEPS + 2)],
        f"longer than {limits.MAX_INK_LENGTH:,} units",
        False,
    ),
}


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with serving(create_app(workers=0, generators={})) as c:
        yield c


@pytest.fixture(scope="module")
def cli(tmp_path_factory) -> dict[str, tuple[int, str, str]]:
    """`doodlelab predict` on a file of the at-limit drawings and on one of the over-limit drawings:
    (exit code, stdout, stderr) of each."""
    folder = tmp_path_factory.mktemp("limits")
    results = {}
    for kind, index in (("at", 0), ("over", 1)):
        path = folder / f"{kind}.ndjson"
        path.write_text("".join(json.dumps({"drawing": case[index]}) + "\n" for case in CASES.values()))
        results[kind] = run_cli(["predict", str(path)])
    return results


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `doodlelab ARGV...`, run in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def drawing_schema(client) -> dict:
    """The drawing's JSON Schema as the server's /openapi.json states it for POST /api/predict."""
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/api/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return body["properties"]["drawing"]


def test_the_cli_reads_every_drawing_at_the_limits(cli):
    code, out, err = cli["at"]
    assert (code, err) == (0, "")
    assert len(out.splitlines()) == len(CASES)


def test_the_cli_refuses_every_drawing_beyond_the_limits_one_line_each(cli):
    code, out, err = cli["over"]
    assert code == 2 and out == ""  # nothing could be read
    assert len(err.splitlines()) == len(CASES)


@pytest.mark.parametrize("name", CASES)
def test_cli_api_and_schema_agree_on_each_limit(name, cli, client, drawing_schema):
    at, over, limit, schema_says = CASES[name]
    number = list(CASES).index(name) + 1
    # at the limit: accepted everywhere
    assert client.post("/api/predict", json={"drawing": at}).status_code == 200
    jsonschema.validate(at, drawing_schema, cls=jsonschema.Draft202012Validator)
    # beyond it: the CLI's line names file, line and limit; the API answers the same message
    cli_line = cli["over"][2].splitlines()[number - 1]
    assert f"over.ndjson:{number}: " in cli_line
    message = cli_line.split(f"over.ndjson:{number}: ", 1)[1]
    assert limit in message
    answer = client.post("/api/predict", json={"drawing": over})
    assert answer.status_code == 400 and answer.json()["detail"] == message
    if schema_says:
        assert not jsonschema.Draft202012Validator(drawing_schema).is_valid(over)


def test_data_check_stops_at_a_drawing_beyond_the_limits_with_one_line(tmp_path):
    path = tmp_path / "cat.ndjson"
    good = {"word": "cat", "drawing": [[[0, 10], [0, 10]]]}
    bad = {"word": "cat", "drawing": [[[0, 1e300], [0, 0]]]}
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    code, _, err = run_cli(["data", "check", str(path)])
    assert code == 2 and len(err.splitlines()) == 1
    assert f"{path}:2" in err and limits.coordinate_range() in err
