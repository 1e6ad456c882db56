"""A bounded load test on loopback: 8 keep-alive clients send 25 requests each at once (real test drawings
as a canvas sends them, a few malformed ones among them) to the real server with the shipped model. Every
request is answered, each exactly as the model answers in-process. (Speed is measured in benchmarks/.)
"""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from doodlelab.classifier.evaluate import to_raw
from doodlelab.classifier.recognizer import SHIPPED, Recognizer
from doodlelab.data import formats, strokes

pytest.importorskip("httpx")
pytest.importorskip("uvicorn")
from doodlelab.web.app import create_app  # noqa: E402
from doodlelab.web.local import run_client, run_load, serving, within  # noqa: E402

if not SHIPPED.is_file():
    pytest.skip("no shipped classifier weights", allow_module_level=True)

CLIENTS, PER_CLIENT, TOP = 8, 25, 3
TIME_LIMIT = 300  # seconds for the whole run: a hang fails the test, slowness does not
CATEGORIES = ("cat", "bicycle", "house plant", "The Eiffel Tower", "apple", "car", "fish", "star")
MALFORMED = [[[[0, 1], [0]]], [[["1", 2], [3, 4]]], [], [[[1e300, 0], [0, 1]]]]  # each a 400


@pytest.fixture(scope="module")
def drawings(quickdraw_root) -> list[object]:
    """JSON drawings: 5 per category, alternately as simplified strokes and as raw canvas strokes with
    timestamps (what the page sends), then the malformed ones."""
    rng = np.random.default_rng(0)
    out: list[object] = []
    for category in CATEGORIES:
        for i, drawing in enumerate(
            formats.iter_ndjson(quickdraw_root / "simplified" / f"{category}.ndjson", limit=5)
        ):
            if i % 2:
                out.append(strokes.to_json(drawing.strokes))
            else:
                raw, times = to_raw(drawing.strokes, rng)
                out.append(
                    [
                        [s[:, 0].round(1).tolist(), s[:, 1].round(1).tolist(), t.round().tolist()]
                        for s, t in zip(raw, times)
                    ]
                )
    return out + MALFORMED


def expected(recognizer: Recognizer, drawing: object) -> dict | None:
    """What the model says about a drawing in this process (None when the drawing is malformed)."""
    try:
        parsed = strokes.parse_strokes(drawing)
    except Exception:
        return None
    if np.abs(np.concatenate(parsed)).max() > 1e6:
        return None
    bitmap = recognizer.rasterize(parsed, raw=True if strokes.has_timestamps(drawing) else None)
    top = recognizer.top(recognizer.probabilities(bitmap[None])[0], TOP)
    return {"predictions": [{"category": c, "probability": p} for c, p in top], "bitmap": bitmap.tolist()}


def test_concurrent_clients_get_every_answer_right(drawings):
    recognizer = Recognizer()
    answers = [expected(recognizer, d) for d in drawings]
    assert sum(a is None for a in answers) == len(MALFORMED)
    bodies = [json.dumps({"drawing": d, "top": TOP}).encode() for d in drawings]
    app = create_app(generators={})
    with serving(app) as client:
        load = run_load(
            client.base_url.port, bodies, CLIENTS, requests=PER_CLIENT, timeout=60, keep_bodies=True
        )
        samples = run_client(within(TIME_LIMIT, load))  # as the benchmarks run it: uvloop where installed
        assert client.get("/api/health").status_code == 200
    assert len(samples) == CLIENTS * PER_CLIENT
    assert {s.client for s in samples} == set(range(CLIENTS))
    for sample in samples:
        want, got = answers[sample.request], json.loads(sample.body)
        if want is None:
            assert sample.status == 400 and got["detail"], got
        else:
            assert sample.status == 200, got
            assert got.pop("server_ms") > 0 and got == want  # the very same bits as in-process
    assert sum(s.status == 400 for s in samples) >= 1  # bad requests were mixed into the batches


def test_a_request_past_its_time_limit_is_a_timeout():
    async def main() -> str:
        with pytest.raises(asyncio.TimeoutError):
            await within(0.05, asyncio.sleep(5))
        return await within(5, asyncio.sleep(0, "in time"))

    assert run_client(main()) == "in time"
