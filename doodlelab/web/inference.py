"""From a request's bytes to its answer: drawings and images named in batches, in the server's process or in
worker processes (`init_worker`, `predict_in_worker`). Nothing here needs the web framework.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException

from doodlelab.data import strokes as pipeline
from doodlelab.data.limits import MAX_PIXELS
from doodlelab.errors import DataError, DoodleError
from doodlelab.web import schemas

log = logging.getLogger("doodlelab.web")

Answer = tuple[int, bytes | str]  # (200, response JSON) or (error status, one-line message)


@dataclass
class Input:
    """One request to name: its JSON body (unparsed bytes), or an uploaded image with the `top` option."""

    body: bytes | None = None
    image: bytes | None = None
    top: int = 5


def decode_json(body: bytes) -> dict:
    """A JSON object from request bytes; DataError (400) when not JSON, 422 when not an object."""
    try:
        value = orjson.loads(body)  # a 10 kB drawing parses in a quarter of json.loads' time
    except orjson.JSONDecodeError as exc:  # a ValueError: bad syntax, numbers beyond a double
        near = str(exc.doc[exc.pos : exc.pos + 9])
        if "NaN" in near or "Infinity" in near:  # what Python's json.dumps writes for non-finite floats
            raise DataError("invalid JSON (numbers must be finite: NaN and Infinity are not JSON)") from None
        raise DataError(f"invalid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise HTTPException(422, "the JSON body must be an object")
    return value


def describe(exc: ValidationError) -> str:
    """A validation error in one line: `field: message; ...`."""

    def name(part: object) -> str:  # a field name from the request, shown safely: one line, not too long
        text = str(part)
        text = text if text.isprintable() else ascii(text)
        return text if len(text) <= 40 else text[:40] + "..."

    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(name(x) for x in error["loc"])
        parts.append(f"{where}: {error['msg']}" if where else error["msg"])
    return "; ".join(parts)


def error_answer(exc: Exception) -> tuple[int, str]:
    """(status, message) of an exception raised while answering: 400 for bad input, 422 for invalid
    fields, the status of an HTTPException, else 500 (logged)."""
    if isinstance(exc, DoodleError):
        return 400, str(exc)
    if isinstance(exc, ValidationError):
        return 422, describe(exc)
    if isinstance(exc, HTTPException):
        return exc.status_code, str(exc.detail)
    log.error("answering a request failed", exc_info=exc)
    return 500, "internal server error"


def parse_drawing(drawing: object) -> tuple[list[np.ndarray], bool | None]:
    """JSON strokes -> (strokes, raw?) where timestamps mean raw canvas coordinates. Raises DataError
    beyond the input limits (`doodlelab.data.limits`, the same as the command line's)."""
    return pipeline.parse_strokes(drawing), True if pipeline.has_timestamps(drawing) else None


def bitmap_of(
    item: Input, request_model: type[BaseModel], from_strokes: Callable, from_image: Callable
) -> tuple[np.ndarray, int]:
    """(bitmap the network sees, how many guesses to return) of one request; raises on bad input."""
    if item.image is not None:
        try:
            return from_image(item.image), item.top
        except DoodleError:
            raise
        except (OSError, ValueError, SyntaxError, EOFError) as exc:  # odd files Pillow fails on
            raise DataError(f"cannot read image ({exc})") from None
    request = request_model.model_validate(decode_json(item.body or b""))
    strokes, raw = parse_drawing(request.drawing)
    try:
        return from_strokes(strokes, raw), request.top
    except DoodleError:
        raise
    except (ValueError, FloatingPointError) as exc:  # a pipeline corner case: a bad drawing, not a crash
        log.warning("cannot rasterize a drawing", exc_info=exc)
        raise DataError(f"cannot draw these strokes ({exc})") from None


def top_k(classes: Sequence[str], probs: np.ndarray, k: int) -> list[tuple[str, float]]:
    """The k most likely (class, probability), best first."""
    order = np.argsort(-probs, kind="stable")[:k]
    return [(classes[i], float(probs[i])) for i in order]


def response(top: list[tuple[str, float]], bitmap: np.ndarray, seconds: float) -> bytes:
    """The JSON of a `schemas.PredictResponse`, byte for byte what its `model_dump_json` writes, written by
    orjson straight from the (S, S) uint8 bitmap: a tenth of pydantic's time for its 784 numbers."""
    answer = {
        "predictions": [{"category": c, "probability": min(max(p, 0.0), 1.0)} for c, p in top],
        "bitmap": np.ascontiguousarray(bitmap, dtype=np.uint8),
        "server_ms": round(seconds * 1000, 3),
    }
    return orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY)


def name_batch(
    items: Sequence[Input],
    classes: Sequence[str],
    prepare: Callable[[Input], tuple[np.ndarray, int]],
    probabilities: Callable[[np.ndarray], np.ndarray],
) -> list[Answer]:
    """Answer a batch: each input prepared on its own (a bad one gets its error, the others go on), the
    network run once on all the bitmaps. server_ms is the input's own preparation plus the batch's
    network time."""
    answers: list[Answer | None] = [None] * len(items)
    ready: list[tuple[int, np.ndarray, int, float]] = []
    for i, item in enumerate(items):
        start = time.perf_counter()
        try:
            bitmap, k = prepare(item)
            ready.append((i, bitmap, k, time.perf_counter() - start))
        except Exception as exc:
            answers[i] = error_answer(exc)
    if ready:
        start = time.perf_counter()
        try:
            probs = probabilities(np.stack([bitmap for _, bitmap, _, _ in ready]))
        except Exception as exc:
            failed = error_answer(exc)
            return [failed if a is None else a for a in answers]
        shared = time.perf_counter() - start
        for (i, bitmap, k, own), p in zip(ready, probs):
            answers[i] = (200, response(top_k(classes, p, k), bitmap, own + shared))
    return [a for a in answers if a is not None]


def predict_batch(recognizer, items: Sequence[Input]) -> list[Answer]:
    """Name a batch of doodles with a `Recognizer`."""
    from doodlelab.data.doodle_image import load_doodle

    def prepare(item: Input) -> tuple[np.ndarray, int]:
        return bitmap_of(
            item,
            schemas.PredictRequest,
            lambda s, raw: recognizer.rasterize(s, raw=raw),
            lambda data: load_doodle(data, recognizer.size, max_pixels=MAX_PIXELS),
        )

    return name_batch(items, recognizer.classes, prepare, recognizer.probabilities)


def digits_batch(classifier, items: Sequence[Input]) -> list[Answer]:
    """Read a batch of digits with the NumPy network (a `DigitClassifier`)."""
    from doodlelab.data.images import load_digit, mnist_layout

    def prepare(item: Input) -> tuple[np.ndarray, int]:
        return bitmap_of(
            item,
            schemas.DigitsRequest,
            lambda s, raw: mnist_layout(pipeline.rasterize(s, 28, raw=raw).astype(np.float32) / 255),
            lambda data: load_digit(data, max_pixels=MAX_PIXELS),
        )

    return name_batch(items, classifier.classes, prepare, classifier.predict_proba)


_worker_recognizer = None  # in a worker process: the Recognizer that `init_worker` loaded


def init_worker(weights: str | Path | None) -> None:
    """Process-pool initializer: load the classifier once per worker, with one thread (the workers are
    the parallelism)."""
    global _worker_recognizer
    from doodlelab.classifier.recognizer import Recognizer

    _worker_recognizer = Recognizer(weights, threads=1)
    if _worker_recognizer.backend == "torch":
        import torch

        torch.set_num_threads(1)
    _worker_recognizer.probabilities(
        np.zeros((1, _worker_recognizer.size, _worker_recognizer.size), np.uint8)
    )  # warm up
    settle_heap()


def settle_heap() -> None:
    """Move every object alive after start-up out of the garbage collector's sight (`gc.freeze`): modules
    and models live as long as the process (the server, a worker), and a full collection no longer walks
    them all while requests wait (one took 52 to 56 ms under load on a 2-core host; bench_load.py)."""
    gc.collect()
    gc.freeze()


def worker_ready() -> bool:
    return _worker_recognizer is not None


def predict_in_worker(items: Sequence[Input]) -> list[Answer]:
    return predict_batch(_worker_recognizer, items)
