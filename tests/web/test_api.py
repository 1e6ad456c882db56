"""The web API on a real uvicorn server (loopback, free port): predictions from strokes, raw strokes and
images, digits, the generate hook, and clean 4xx answers (never a 500) for malformed or oversized input.
"""

from __future__ import annotations

import asyncio
import io
import os
import pickle
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from doodlelab.cli.common import Parser
from doodlelab.data import strokes
from doodlelab.data.categories import categories
from doodlelab.errors import DataError
from doodlelab.modelfile import ModelFileError
from tests.classifier.conftest import shape

httpx = pytest.importorskip("httpx")
uvicorn = pytest.importorskip("uvicorn")
pytest.importorskip("fastapi")
pytest.importorskip("multipart")

from doodlelab.cli import serve  # noqa: E402
from doodlelab.web.app import create_app  # noqa: E402
from doodlelab.web.limits import JSON_LIMIT, UPLOAD_LIMIT  # noqa: E402
from doodlelab.web.local import loopback_socket, serving  # noqa: E402

SQUARE = shape("square", np.random.default_rng(5))  # the tiny model names it in all three forms


@pytest.fixture(scope="module")
def client(tiny_model) -> Iterator[httpx.Client]:
    with serving(create_app(classifier_weights=tiny_model, generators={})) as c:
        yield c


def error_detail(response: httpx.Response, status: int) -> str:
    """Assert a 4xx JSON answer with a one-line message; the message."""
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail
    return detail


def png(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


def test_health_and_categories(client):
    assert client.get("/api/health").json() == {
        "status": "ok",
        "models": {"classifier": True, "digits": True, "diffusion": False, "gan": False, "sketch": True},
    }
    names = client.get("/api/categories").json()["categories"]
    assert len(names) == 345 and names == list(categories())


def test_openapi_documents_both_input_forms(client):
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/api/predict"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "multipart/form-data"}
    assert body["application/json"]["schema"]["properties"]["drawing"]["description"]
    assert "/api/generate" in spec["paths"] and client.get("/docs").status_code == 200


def test_predict_from_simplified_strokes(client):
    answer = client.post("/api/predict", json={"drawing": strokes.to_json(SQUARE), "top": 3}).json()
    guesses = answer["predictions"]
    assert len(guesses) == 3 and guesses[0]["category"] == "square"
    probabilities = [g["probability"] for g in guesses]
    assert probabilities == sorted(probabilities, reverse=True) and 0 < sum(probabilities) <= 1 + 1e-6
    assert np.array_equal(np.array(answer["bitmap"]), strokes.render(SQUARE, 28))  # what the network saw
    assert answer["server_ms"] > 0
    everything = client.post("/api/predict", json={"drawing": strokes.to_json(SQUARE), "top": 345}).json()
    assert len(everything["predictions"]) == 345  # only the four shapes get a probability above 0
    assert {g["category"] for g in everything["predictions"][:4]} == {"circle", "line", "square", "triangle"}


def test_predict_from_raw_strokes_with_timestamps(client):
    drawing, t = [], 0
    for s in SQUARE:
        times = list(range(t, t + 15 * len(s), 15))
        t = times[-1] + 300
        drawing.append([(s[:, 0] * 2.5 + 100).tolist(), (s[:, 1] * 2.5 + 100).tolist(), times])
    answer = client.post("/api/predict", json={"drawing": drawing}).json()
    assert answer["predictions"][0]["category"] == "square" and len(answer["predictions"]) == 5  # default


def test_predict_from_an_uploaded_image(client):
    image = png(255 - strokes.render(SQUARE, size=280))  # dark ink on white paper, ten times larger
    answer = client.post(
        "/api/predict", files={"image": ("square.png", image, "image/png")}, data={"top": "2"}
    ).json()
    assert answer["predictions"][0]["category"] == "square" and len(answer["predictions"]) == 2
    bitmap = np.array(answer["bitmap"])
    assert bitmap.shape == (28, 28) and bitmap.min() >= 0 and 200 <= bitmap.max() <= 255


def test_digits_from_strokes_and_image(client):
    answer = client.post("/api/digits", json={"drawing": [[[100, 100], [0, 255]]]}).json()
    assert answer["predictions"][0]["category"] == "1" and len(answer["predictions"]) == 3
    assert np.array(answer["bitmap"]).shape == (28, 28)
    paper = np.full((200, 200), 255, np.uint8)
    paper[30:170, 95:107] = 0  # a dark vertical bar on white paper
    answer = client.post("/api/digits", files={"image": ("one.png", png(paper), "image/png")}).json()
    assert answer["predictions"][0]["category"] == "1"


def test_concurrent_requests(client):
    body = {"drawing": strokes.to_json(SQUARE), "top": 1}
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: client.post("/api/predict", json=body), range(8)))
    assert all(a.status_code == 200 and a.json()["predictions"][0]["category"] == "square" for a in answers)


JSON = {"content-type": "application/json"}
BAD_JSON = [
    ("/api/predict", {"content": b'{"drawing": [[[1, 2', "headers": JSON}, 400),  # malformed
    ("/api/predict", {"json": {"drawing": "abc"}}, 400),
    ("/api/predict", {"json": {"drawing": []}}, 400),
    ("/api/predict", {"json": {"drawing": [[[], []]]}}, 400),
    ("/api/predict", {"json": {"drawing": [[[True, False], [1, 2]]]}}, 400),
    ("/api/predict", {"json": {"drawing": [[["1"], [2]]]}}, 400),
    ("/api/predict", {"json": {"drawing": [[[[[[1]]]], [2]]]}}, 400),  # nested junk
    ("/api/predict", {"json": {"drawing": [[[1, 2], [3]]]}}, 400),  # unequal lengths
    ("/api/predict", {"json": {"drawing": [[[1], [2], "t"]]}}, 400),
    ("/api/predict", {"content": b'{"drawing": [[[NaN], [1]]]}', "headers": JSON}, 400),
    ("/api/predict", {"content": b'{"drawing": [[[1e400], [1]]]}', "headers": JSON}, 400),
    ("/api/predict", {"json": {"drawing": [[[10**400], [1]]]}}, 400),  # too large for a float
    ("/api/predict", {"json": {"drawing": [[[0, 5e-324], [0, 0]]]}}, 400),  # would overflow when scaled
    ("/api/predict", {"json": {"drawing": [[[0, 255] * 5000, [0, 255] * 5000]]}}, 400),  # too much ink
    ("/api/predict", {"content": b"[" * 100_000, "headers": JSON}, 400),  # nested too deeply
    (
        "/api/predict",
        {"content": b'{"drawing": ' + b"[" * 500_000 + b"]" * 500_000 + b"}", "headers": JSON},
        400,
    ),  # nested too deeply, and well-formed: a parser without a depth limit overflows its stack
    ("/api/predict", {"content": b"\xff\xfe\x00", "headers": JSON}, 400),  # not UTF-8
    ("/api/predict", {"json": {"drawing": [[[0], [0]]], "top": 0}}, 422),
    ("/api/predict", {"json": {"drawing": [[[0], [0]]], "top": 1000}}, 422),
    ("/api/predict", {"json": {"drawing": [[[0], [0]]], "top": "5"}}, 422),
    ("/api/predict", {"json": {"drawing": [[[0], [0]]], "top": True}}, 422),
    ("/api/predict", {"json": {"drawing": [[[0], [0]]], "colour": "red"}}, 422),
    ("/api/predict", {"json": {}}, 422),
    ("/api/predict", {"json": [[[0], [0]]]}, 422),  # not an object
    (
        "/api/predict",
        {"content": b'{"drawing": [[[0], [0]]]}', "headers": {"content-type": "text/plain"}},
        415,
    ),
    ("/api/digits", {"json": {"drawing": [[[0], [0]]], "top": 11}}, 422),
    ("/api/digits", {"json": {"drawing": "abc"}}, 400),
    ("/api/generate", {"json": {"category": "not a category"}}, 400),
    ("/api/generate", {"json": {"category": "cat", "model": "vae"}}, 422),
    ("/api/generate", {"json": {"category": "cat", "n": 0}}, 422),
    ("/api/generate", {"content": b'{"category": "cat", "guidance": NaN}', "headers": JSON}, 400),  # not JSON
    ("/api/generate", {"content": b"{", "headers": JSON}, 400),
]


@pytest.mark.parametrize("path, request_args, status", BAD_JSON)
def test_bad_json_gets_a_4xx_message(client, path, request_args, status):
    error_detail(client.post(path, **request_args), status)


def test_error_messages_say_what_is_wrong(client):
    assert "finite" in error_detail(
        client.post("/api/predict", content=b'{"drawing": [[[NaN], [1]]]}', headers=JSON), 400
    )
    assert "no points" in error_detail(client.post("/api/predict", json={"drawing": [[[], []]]}), 400)
    assert error_detail(
        client.post("/api/predict", json={"drawing": [[[0], [0]]], "top": 0}), 422
    ).startswith("top: ")
    detail = error_detail(client.post("/api/generate", json={"category": "kat"}), 400)
    assert "unknown category 'kat'" in detail and "cat" in detail


@pytest.mark.parametrize("path", ["/api/predict", "/api/digits"])
def test_bad_uploads_get_a_4xx_message(client, png_header_only, path):
    upload = lambda data: client.post(path, files={"image": ("x.png", data, "image/png")})  # noqa: E731
    assert "too large" in error_detail(upload(png_header_only(20000, 20000)), 400)  # decompression bomb
    assert "not an image" in error_detail(upload(b"GIF89a but not really"), 400)
    error_detail(upload(b""), 400)
    assert "blank" in error_detail(upload(png(np.full((50, 50), 255, np.uint8))), 400)
    error_detail(client.post(path, files={"picture": ("x.png", b"data", "image/png")}), 422)
    error_detail(
        client.post(
            path,
            files={"image": ("x.png", png(np.eye(50, dtype=np.uint8) * 255), "image/png")},
            data={"top": "many"},
        ),
        422,
    )
    files = {"image": ("x.png", b"x", "image/png"), "image2": ("y.png", b"y", "image/png")}
    error_detail(client.post(path, files=files), 400)  # one file per request


def test_oversized_bodies_get_413_before_being_read(client):
    big = b'{"drawing": "' + b"x" * JSON_LIMIT + b'"}'
    assert (
        error_detail(client.post("/api/predict", content=big, headers=JSON), 413)
        == "request body too large (limit 2 MiB)"
    )  # 2 * 1024 * 1024 bytes: MiB, not MB
    chunks = (b"x" * 65536 for _ in range(JSON_LIMIT // 65536 + 2))  # chunked: no Content-Length
    error_detail(client.post("/api/predict", content=chunks, headers=JSON), 413)
    image = b"\x89PNG" + b"\0" * UPLOAD_LIMIT
    files = {"image": ("big.png", image, "image/png")}
    detail = error_detail(client.post("/api/predict", files=files), 413)
    assert detail == "request body too large (limit 10 MiB)"
    assert client.get("/api/health").status_code == 200  # still serving


def test_generate_without_generators_answers_503(client):
    body = {"model": "diffusion", "category": "Cat", "n": 2, "seed": 1, "steps": 10, "guidance": 3}
    assert error_detail(client.post("/api/generate", json=body), 503) == "diffusion model not available yet"
    body["model"] = "gan"
    assert error_detail(client.post("/api/generate", json=body), 503) == "gan model not available yet"


def test_without_shipped_classifier_predict_answers_503():
    from doodlelab.classifier.recognizer import SHIPPED

    with serving(create_app()) as client:
        shipped = SHIPPED.is_file()
        assert client.get("/api/health").json()["models"]["classifier"] is shipped
        if not shipped:
            answer = client.post("/api/predict", json={"drawing": [[[0, 9], [0, 9]]]})
            assert error_detail(answer, 503) == "classifier not available"


def start_up(app) -> None:
    """Run the app's startup (loading the models) and shutdown, without serving."""

    async def start() -> None:
        async with app.router.lifespan_context(app):
            pass

    asyncio.run(start())


def test_explicit_bad_weights_fail_at_startup_not_at_import(tmp_path):
    app = create_app(classifier_weights=tmp_path / "missing.safetensors")  # nothing is loaded yet
    with pytest.raises(ModelFileError):
        start_up(app)


class Payload:
    """Unpickling this makes a directory: the proof that a loader ran code from a weights file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


@pytest.fixture
def model_copy(tiny_model, tmp_path) -> Path:
    """A copy of the tiny model's files (weights, card, ONNX export and its card) to damage."""
    for path in tiny_model.parent.glob(tiny_model.stem + ".*"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path / tiny_model.name


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "tampered":  # one byte of the tensors changed: still a well-formed file
        path.write_bytes(data[:-100] + bytes([data[-100] ^ 0x40]) + data[-99:])
    else:  # a pickle under the expected name
        path.write_bytes(pickle.dumps(Payload(path.parent / "pwned")))


@pytest.mark.parametrize(
    "how, message",
    [
        ("truncated", "not a valid safetensors"),
        ("tampered", "differ from the sha256"),
        ("pickle", "not a valid safetensors"),
    ],
)
def test_damaged_classifier_weights_are_refused_at_startup(model_copy, how, message):
    start_up(create_app(classifier_weights=model_copy, workers=0))  # whole: starts
    damage(model_copy, how)
    with pytest.raises(ModelFileError, match=message) as error:
        start_up(create_app(classifier_weights=model_copy))
    assert str(model_copy) in str(error.value) and "\n" not in str(error.value)
    assert not (model_copy.parent / "pwned").exists()


def test_a_tampered_onnx_export_is_refused_at_startup(model_copy):
    damage(model_copy.with_suffix(".onnx"), "tampered")
    with pytest.raises(ModelFileError, match="differ from the sha256"):
        start_up(create_app(classifier_weights=model_copy))


def test_digit_weights_holding_pickles_are_refused_unread(tmp_path):
    from doodlelab.scratch.digits import WEIGHTS

    raw, inside = tmp_path / "raw.npz", tmp_path / "inside.npz"
    raw.write_bytes(pickle.dumps(Payload(tmp_path / "pwned")))
    with np.load(WEIGHTS) as shipped:  # a real archive, one array of which is a pickled object
        arrays = {k: shipped[k] for k in shipped.files} | {"W0": np.array([Payload(tmp_path / "pwned")])}
    np.savez(inside, **arrays)
    for path in (raw, inside):
        with pytest.raises(DataError, match="not a readable .npz"):
            start_up(create_app(digits_weights=path))
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("how", ["truncated", "tampered", "pickle"])
def test_serve_with_damaged_weights_exits_2_with_one_line(model_copy, how):
    damage(model_copy, how)
    with loopback_socket() as sock:  # a free port, in case the server did start
        port = str(sock.getsockname()[1])
    result = subprocess.run(
        [sys.executable, "-m", "doodlelab", "serve", "--port", port, "--weights", str(model_copy)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("doodlelab: error: ") and result.stderr.count("\n") == 1, result.stderr


def test_serve_listens_on_loopback_by_default(tmp_path):
    parser = Parser(prog="doodlelab")
    serve.register({"_top": parser.add_subparsers(dest="command", parser_class=Parser)})
    args = parser.parse_args(["serve"])
    assert (args.host, args.port, args.weights, args.handler) == ("127.0.0.1", 8000, None, serve.cmd_serve)
    args = parser.parse_args(["serve", "--host", "0.0.0.0", "--port", "8080", "--weights", "w.safetensors"])
    assert (args.host, args.port, str(args.weights)) == ("0.0.0.0", 8080, "w.safetensors")
    with pytest.raises(SystemExit):
        parser.parse_args(["serve", "--port", "99999"])
    args = parser.parse_args(["serve", "--weights", str(tmp_path / "missing.safetensors")])
    with pytest.raises(ModelFileError, match="no such weights file"):
        serve.cmd_serve(args)  # fails in one line, before any server starts
