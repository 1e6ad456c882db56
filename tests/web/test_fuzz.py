"""Fuzzing the real server (uvicorn on loopback, shipped models, two cheap generators registered): malformed,
huge, nested, wrong-typed and unicode-laden bodies, images and raw bytes to every endpoint. Never a 5xx,
never a hang (every request has a timeout); 4xx answers carry a one-line JSON `detail`.
"""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from urllib.parse import quote

import numpy as np
import pytest
from PIL import Image

from doodlelab.classifier.recognizer import SHIPPED

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")
pytest.importorskip("multipart")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from doodlelab.web.app import create_app  # noqa: E402
from doodlelab.web.limits import JSON_LIMIT  # noqa: E402
from doodlelab.web.local import serving  # noqa: E402

if not SHIPPED.is_file():
    pytest.skip("no shipped classifier weights", allow_module_level=True)

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=300,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
TIMEOUT = 30  # seconds: a request that takes longer is a hang
POSTS = ["/api/predict", "/api/digits", "/api/generate"]
SENT = {"requests": 0}


def generator(
    category: str, n: int = 4, seed: int | None = None, steps: int = 50, guidance: float = 2.0
) -> np.ndarray:
    """A cheap stand-in generator, so that valid /api/generate requests get a 200."""
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28), dtype=np.uint8)


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    app = create_app(generators={})  # the stand-ins below, not the (slower) shipped generators
    with serving(app) as c:
        app.state.generators.update(diffusion=generator, gan=generator)
        c.timeout = httpx.Timeout(TIMEOUT)
        yield c


def check(response: httpx.Response) -> None:
    """No server error; a 4xx names the problem in a JSON detail; a 200 from the API is JSON."""
    SENT["requests"] += 1
    status = response.status_code
    assert status < 500, (status, response.text[:500])
    if response.request.method == "HEAD":
        return
    is_json = response.headers.get("content-type", "").startswith("application/json")
    if 400 <= status < 500:
        assert is_json, (status, response.text[:200])
        detail = response.json()["detail"]
        assert isinstance(detail, str) and detail and "\n" not in detail
    elif status == 200 and response.request.url.path.startswith("/api/"):
        assert is_json and isinstance(response.json(), dict)


def mostly(valid: st.SearchStrategy, junk: st.SearchStrategy, one_in: int = 4) -> st.SearchStrategy:
    """`junk` one time in `one_in`, else `valid`: many requests get past validation to the real work."""
    return st.integers(1, one_in).flatmap(lambda i: junk if i == 1 else valid)


extreme = st.one_of(
    st.integers(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False)
)
canvas = st.one_of(st.integers(0, 255), st.floats(-50, 1500))
json_scalars = st.one_of(st.none(), st.booleans(), extreme, st.text(max_size=30))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6), st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=40,
)
well_formed = st.integers(1, 40).flatmap(  # [xs, ys] or [xs, ys, ts]
    lambda n: st.lists(st.lists(canvas, min_size=n, max_size=n), min_size=2, max_size=3)
)
malformed = st.one_of(st.lists(st.lists(st.one_of(canvas, extreme), max_size=60), max_size=4), json_values)
drawings = mostly(st.lists(mostly(well_formed, malformed, one_in=12), min_size=1, max_size=8), json_values)


@st.composite
def predict_bodies(draw) -> dict:
    body = {"drawing": draw(drawings)}
    if draw(st.booleans()):
        body["top"] = draw(mostly(st.integers(1, 10), st.one_of(st.integers(-5, 400), json_scalars)))
    if draw(st.integers(0, 9)) == 0:
        body[draw(st.text(max_size=10))] = draw(json_values)  # an unknown field (or "top" again)
    return body


categories = mostly(
    st.sampled_from(["cat", "House Plant", "the_eiffel_tower", "The Mona Lisa"]),
    st.one_of(st.sampled_from(["kat", ""]), st.text(max_size=120), json_scalars),
)
generate_options = st.fixed_dictionaries(
    {"category": categories},
    optional={
        "model": mostly(st.sampled_from(["diffusion", "gan"]), st.one_of(st.just("vae"), json_scalars)),
        "n": mostly(st.integers(1, 16), st.one_of(st.integers(-2, 20), json_scalars)),
        "seed": mostly(st.integers(0, 2**32 - 1), st.one_of(st.integers(-5, 2**33), json_scalars)),
        "steps": mostly(st.integers(1, 1000), st.one_of(st.integers(-1, 1100), json_scalars)),
        "guidance": mostly(st.floats(0, 20), st.one_of(st.floats(allow_nan=False), json_scalars)),
    },
)
generate_bodies = st.tuples(generate_options, st.integers(0, 9), st.text(max_size=10), json_values).map(
    lambda t: t[0] if t[1] else t[0] | {t[2]: t[3]}
)  # one in ten with an unknown field


@FUZZ
@given(body=predict_bodies(), path=st.sampled_from(["/api/predict", "/api/digits"]))
def test_drawings_as_json(client, body, path):
    check(client.post(path, content=json.dumps(body).encode(), headers={"content-type": "application/json"}))


@FUZZ
@given(body=generate_bodies)
def test_generate_options(client, body):
    check(client.post("/api/generate", json=body))


@FUZZ
@given(path=st.sampled_from(POSTS), value=json_values)
def test_any_json_value(client, path, value):
    check(client.post(path, json=value))


@st.composite
def raw_bodies(draw) -> tuple[bytes, str]:
    """Bytes that are not quite JSON: truncated, deeply nested, NaN, invalid UTF-8, huge; any media type."""
    kind = draw(st.sampled_from(["binary", "text", "truncated", "nested", "nan", "huge"]))
    if kind == "binary":
        body = draw(st.binary(max_size=2000))
    elif kind == "text":
        body = draw(st.text(max_size=300)).encode("utf-8", "surrogatepass")
    elif kind == "truncated":
        text = json.dumps({"drawing": draw(drawings), "top": 3})
        body = text[: draw(st.integers(0, len(text)))].encode()
    elif kind == "nested":
        depth = draw(st.integers(1, 200_000))
        body = b'{"drawing": ' + b"[" * depth + b"]" * draw(st.integers(0, depth)) + b"}"
    elif kind == "nan":
        body = f'{{"drawing": [[[{draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999"]))}, 1], '
        top = draw(st.sampled_from(["NaN", "1e400", "5", "-0"]))
        body = (body + "[2, 3]]], " + f'"top": {top}}}').encode()
    else:  # around the body limit
        body = b'{"drawing": "' + b"x" * (JSON_LIMIT + draw(st.integers(-100, 100))) + b'"}'
    media = draw(
        st.sampled_from(
            [
                "application/json",
                "application/json; charset=latin-1",
                "application/problem+json",
                "text/plain",
                "",
                "multipart/form-data",
                "multipart/form-data; boundary=xyz",
                "application/x-www-form-urlencoded",
            ]
        )
    )
    return body, media


@FUZZ
@given(path=st.sampled_from(POSTS), raw=raw_bodies())
def test_raw_bodies_and_media_types(client, path, raw):
    body, media = raw
    check(client.post(path, content=body, headers={"content-type": media} if media else {}))


def png(array: np.ndarray, mode: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format=mode)
    return out.getvalue()


@st.composite
def uploads(draw) -> dict:
    """Multipart uploads: real small images (any pixels, sizes and formats), junk bytes, odd names and
    fields, a missing file field, a decompression bomb."""
    kind = draw(st.sampled_from(["image", "junk", "bomb", "no file", "two files"]))
    size = (draw(st.integers(1, 64)), draw(st.integers(1, 64)))
    if kind == "image":
        pixels = np.frombuffer(
            draw(st.binary(min_size=size[0] * size[1], max_size=size[0] * size[1])), np.uint8
        ).reshape(size)
        data = png(pixels, draw(st.sampled_from(["PNG", "BMP", "GIF", "TIFF", "JPEG"])))
    elif kind == "bomb":
        from tests.conftest import _png_header_only

        data = _png_header_only(draw(st.integers(1, 100_000)), draw(st.integers(1, 100_000)))
    else:
        data = draw(st.binary(max_size=3000))
    name = draw(st.text(max_size=40))
    field = "image" if kind != "no file" else draw(st.sampled_from(["file", "img", "Image", ""]))
    files = [(field, (name, data, draw(st.sampled_from(["image/png", "", "text/plain"]))))]
    if kind == "two files":
        files.append(("image", ("b.png", data, "image/png")))
    fields = draw(
        st.dictionaries(
            st.sampled_from(["top", "drawing", draw(st.text(max_size=8))]), st.text(max_size=12), max_size=3
        )
    )
    return {"files": files, "data": fields}


@FUZZ
@given(path=st.sampled_from(["/api/predict", "/api/digits"]), upload=uploads())
def test_uploads(client, path, upload):
    check(client.post(path, **upload))


@FUZZ
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
    path=st.one_of(
        st.sampled_from(
            [
                "/api/health",
                "/api/categories",
                "/api/predict",
                "/api/generate",
                "/static/../app.py",
                "/docs",
                "/openapi.json",
                "/api/",
            ]
        ),
        st.text(max_size=40).map(lambda t: "/" + quote(t, safe="/")),
    ),
    query=st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
)
def test_every_path_and_method(client, method, path, query):
    check(client.request(method, path, params=query))


@FUZZ
@given(
    data=st.binary(max_size=600),
    head=st.sampled_from(
        [
            b"",
            b"POST /api/predict HTTP/1.1\r\nHost: x\r\n",
            b"GET / HTTP/1.1\r\n",
            b"POST /api/predict HTTP/1.1"
            b"\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n",
        ]
    ),
)
def test_raw_http_bytes(client, data, head):
    """Bytes straight on the socket: the server answers (never 5xx) or closes the connection, in time."""
    SENT["requests"] += 1
    with socket.create_connection(("127.0.0.1", client.base_url.port), timeout=TIMEOUT) as sock:
        sock.sendall(head + data + b"\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    if answer:
        assert answer.startswith(b"HTTP/1.1 ") and int(answer.split(b" ", 2)[1]) < 500, answer[:300]


def test_the_fuzz_suite_sent_enough_requests(client, request):
    """Runs last: the suite above sent at least 2,000 requests (only checked when it all ran)."""
    ran = {item.name for item in request.session.items if item.module is request.module}
    if ran != {name for name in globals() if name.startswith("test_")}:
        pytest.skip("only part of the fuzz suite ran")
    assert SENT["requests"] >= 2000
    assert client.get("/api/health").json()["status"] == "ok"  # and the server still answers
