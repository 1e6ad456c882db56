"""The answer bytes of `/api/predict`, written without pydantic, are exactly the documented schema's."""

from __future__ import annotations

import numpy as np
import orjson

from doodlelab.web import inference, schemas


def test_the_answer_is_the_schemas_own_json_byte_for_byte():
    rng = np.random.default_rng(0)
    for _ in range(200):
        probs = rng.random(5) ** rng.integers(1, 40)  # tiny ones too: 1e-30 is written as pydantic writes it
        top = [(f"class {i}", float(p)) for i, p in enumerate([*probs, 0.0, 1.0, 1.0000001, -1e-9])]
        bitmap = rng.integers(0, 256, (28, 28)).astype(np.uint8)
        seconds = float(rng.random() / 100)
        got = inference.response(top, bitmap, seconds)
        clamped = [schemas.Prediction(category=c, probability=min(max(p, 0.0), 1.0)) for c, p in top]
        want = schemas.PredictResponse(
            predictions=clamped, bitmap=bitmap.tolist(), server_ms=round(seconds * 1000, 3)
        ).model_dump_json()
        assert got == want.encode()
        assert schemas.PredictResponse.model_validate(orjson.loads(got)).bitmap == bitmap.tolist()


def test_a_non_contiguous_bitmap_is_written_as_its_values():
    bitmap = np.arange(28 * 28 * 2, dtype=np.uint16).reshape(28, 56)[:, ::2] % 256  # a strided view
    got = orjson.loads(inference.response([("cat", 0.5)], bitmap, 0.001))
    assert got["bitmap"] == bitmap.tolist() and got["predictions"] == [
        {"category": "cat", "probability": 0.5}
    ]
