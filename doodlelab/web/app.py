"""The web app's JSON API: name drawn or uploaded doodles and digits. `create_app()` builds it; the models
are loaded once, when the server starts (the FastAPI lifespan), and kept on `app.state`.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ValidationError
from starlette.datastructures import Headers, UploadFile
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from doodlelab import __version__
from doodlelab.data import strokes as pipeline
from doodlelab.data.categories import categories, resolve
from doodlelab.data.images import MAX_PIXELS
from doodlelab.errors import DataError, DoodleError
from doodlelab.web import schemas

log = logging.getLogger("doodlelab.web")

JSON_LIMIT = 2 * 1024 * 1024  # bytes of a JSON request body
UPLOAD_LIMIT = 10 * 1024 * 1024  # bytes of a multipart upload
MAX_COORDINATE = 1e6  # canvas coordinates beyond this are not a drawing
MIN_EXTENT = 1e-3  # a drawing spans 0 (a dot) or at least this many units
MAX_INK_LENGTH = 500_000  # total stroke length once scaled to the 255 box: bounds the resampling work
GENERATORS = ("diffusion", "gan")
UPLOAD = (f"An image of the drawing (PNG, JPEG, ...), dark on light or light on dark; at most "
          f"{UPLOAD_LIMIT // (1024 * 1024)} MB and {MAX_PIXELS / 1e6:g} megapixels.")
DIGITS = re.compile(r"[0-9]{1,18}")
STATIC = Path(__file__).resolve().parent / "static"  # the page: index.html, app.js, style.css


class BodyLimit:
    """ASGI middleware: 413 for request bodies over the limit, from Content-Length before reading any of
    it, or as soon as the bytes received pass it (chunked uploads). Multipart uploads get a larger limit."""

    def __init__(self, app: ASGIApp, json_limit: int = JSON_LIMIT, upload_limit: int = UPLOAD_LIMIT):
        self.app, self.json_limit, self.upload_limit = app, json_limit, upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        upload = headers.get("content-type", "").lower().startswith("multipart/form-data")
        limit = self.upload_limit if upload else self.json_limit
        too_large = HTTPException(413, f"request body too large (limit {limit // (1024 * 1024)} MB)")
        length = headers.get("content-length")
        if length is not None and not DIGITS.fullmatch(length):
            return await _error(400, "invalid Content-Length")(scope, receive, send)
        if length is not None and int(length) > limit:
            return await _error(413, too_large.detail)(scope, receive, send)
        received, started = 0, False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise too_large
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except HTTPException as exc:  # raised outside the exception handlers' reach
            if exc is not too_large or started:
                raise
            await _error(413, exc.detail)(scope, receive, send)


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def load_classifier(weights: str | Path | None):
    """The Recognizer for `weights`; None (unavailable) when no path is given and none is shipped.
    Explicit weights that cannot be loaded raise ModelFileError."""
    from doodlelab.classifier.recognizer import SHIPPED, Recognizer

    if weights is None and not SHIPPED.is_file():
        log.warning("no classifier weights at %s: /api/predict will answer 503", SHIPPED)
        return None
    return Recognizer(weights)


def load_digits(weights: str | Path | None):
    from doodlelab.scratch.digits import WEIGHTS, DigitClassifier, shipped

    if weights is None:
        return shipped() if WEIGHTS.is_file() else None
    return DigitClassifier.load(weights)


def create_app(classifier_weights: str | Path | None = None,
               digits_weights: str | Path | None = None) -> FastAPI:
    """The API app; None means the shipped weights (a missing shipped model is reported unavailable)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.recognizer = load_classifier(classifier_weights)
        app.state.digits = load_digits(digits_weights)
        # Generators, once shipped: name -> f(category, n=, seed=, steps=, guidance=) -> (n, 28, 28) uint8.
        app.state.generators = {}
        yield

    app = FastAPI(title="doodlelab", version=__version__, lifespan=lifespan,
                  description="Recognize Quick, Draw! doodles and handwritten digits.")
    app.add_middleware(BodyLimit)
    app.add_exception_handler(DoodleError, _bad_input)
    app.add_exception_handler(ValidationError, _invalid)
    app.add_exception_handler(Exception, _internal_error)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    return app


async def _bad_input(request: Request, exc: Exception) -> JSONResponse:
    return _error(400, str(exc))


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ValidationError)
    return _error(422, _describe(exc))


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return _error(500, "internal server error")


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(x) for x in error["loc"])
        parts.append(f"{where}: {error['msg']}" if where else error["msg"])
    return "; ".join(parts)


@dataclass
class Input:
    """One request to classify: a JSON drawing (still unchecked) or the bytes of an uploaded image."""

    top: int
    drawing: object = None
    image: bytes | None = None


async def read_json(request: Request) -> dict:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise HTTPException(415, "send a JSON body (Content-Type: application/json)")
    try:
        value = json.loads(await request.body())
    except RecursionError:
        raise DataError("invalid JSON (nested too deeply)") from None
    except ValueError as exc:
        raise DataError(f"invalid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise HTTPException(422, "the JSON body must be an object")
    return value


async def read_input(request: Request, body: type[BaseModel], options: type[BaseModel]) -> Input:
    """A JSON drawing (validated against `body`) or a multipart upload with field `image`."""
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        request_ = body.model_validate(await read_json(request))
        return Input(top=request_.top, drawing=request_.drawing)
    async with request.form(max_files=1, max_fields=4) as form:
        upload, top = form.get("image"), form.get("top")
        if not isinstance(upload, UploadFile):
            raise HTTPException(422, "the upload must have a file field 'image'")
        if top is not None and (not isinstance(top, str) or not DIGITS.fullmatch(top.strip())):
            raise HTTPException(422, "top: must be an integer")
        chosen = options.model_validate({} if top is None else {"top": int(top)})
        return Input(top=chosen.top, image=await upload.read())


def parse_drawing(drawing: object) -> tuple[list[np.ndarray], bool | None]:
    """JSON strokes -> (strokes, raw?) where timestamps mean raw canvas coordinates. Raises DataError."""
    strokes = pipeline.parse_strokes(drawing)
    points = np.concatenate(strokes)
    if np.abs(points).max() > MAX_COORDINATE:
        raise DataError(f"coordinates out of range (beyond ±{MAX_COORDINATE:g})")
    extent = float((points.max(axis=0) - points.min(axis=0)).max())
    if 0 < extent < MIN_EXTENT:  # not a drawing at any canvas resolution
        raise DataError(f"drawing too small (spans less than {MIN_EXTENT:g} units)")
    length = sum(float(np.linalg.norm(np.diff(s, axis=0), axis=1).sum()) for s in strokes)
    if extent > 0 and length * pipeline.SIMPLIFIED_MAX / extent > MAX_INK_LENGTH:
        raise DataError("drawing too long (strokes go back and forth over the canvas too many times)")
    return strokes, True if pipeline.has_timestamps(drawing) else None


def _bitmap(item: Input, from_strokes: Callable, from_image: Callable) -> np.ndarray:
    if item.image is not None:
        try:
            return from_image(item.image)
        except DoodleError:
            raise
        except (OSError, ValueError, SyntaxError, EOFError) as exc:  # odd files Pillow fails on
            raise DataError(f"cannot read image ({exc})") from None
    strokes, raw = parse_drawing(item.drawing)
    try:
        return from_strokes(strokes, raw)
    except DoodleError:
        raise
    except (ValueError, FloatingPointError) as exc:  # a pipeline corner case: a bad drawing, not a crash
        log.warning("cannot rasterize a drawing", exc_info=exc)
        raise DataError(f"cannot draw these strokes ({exc})") from None


def _answer(top: list[tuple[str, float]], bitmap: np.ndarray, start: float) -> schemas.PredictResponse:
    return schemas.PredictResponse(
        predictions=[schemas.Prediction(category=c, probability=min(max(p, 0.0), 1.0)) for c, p in top],
        bitmap=bitmap.tolist(), server_ms=round((time.perf_counter() - start) * 1000, 3))


def classify(recognizer, item: Input) -> schemas.PredictResponse:
    from doodlelab.data.doodle_image import load_doodle

    start = time.perf_counter()
    bitmap = _bitmap(item, lambda s, raw: recognizer.rasterize(s, raw=raw),
                     lambda data: load_doodle(data, recognizer.size, max_pixels=MAX_PIXELS))
    probs = recognizer.probabilities(bitmap[None])[0]
    return _answer(recognizer.top(probs, item.top), bitmap, start)


def classify_digit(classifier, item: Input) -> schemas.PredictResponse:
    from doodlelab.data.images import load_digit, mnist_layout

    start = time.perf_counter()
    bitmap = _bitmap(
        item, lambda s, raw: mnist_layout(pipeline.rasterize(s, 28, raw=raw).astype(np.float32) / 255),
        lambda data: load_digit(data, max_pixels=MAX_PIXELS))
    return _answer(classifier.top(bitmap, item.top), bitmap, start)


router = APIRouter(prefix="/api")


@router.get("/health", response_model=schemas.HealthResponse)
def health(request: Request) -> schemas.HealthResponse:
    """Whether the server is up, and which models it loaded."""
    state = request.app.state
    generators = getattr(state, "generators", {})
    models = schemas.ModelsAvailable(
        classifier=getattr(state, "recognizer", None) is not None,
        digits=getattr(state, "digits", None) is not None,
        **{name: name in generators for name in GENERATORS})
    return schemas.HealthResponse(status="ok", models=models)


@router.get("/categories", response_model=schemas.CategoriesResponse)
def list_categories() -> schemas.CategoriesResponse:
    """The 345 category names."""
    return schemas.CategoriesResponse(categories=list(categories()))


@router.post("/predict", response_model=schemas.PredictResponse, responses=schemas.ERRORS,
             openapi_extra=schemas.request_body(schemas.PredictRequest, schemas.PredictOptions, UPLOAD))
async def predict(request: Request) -> schemas.PredictResponse:
    """Name a doodle: strokes as JSON, or an uploaded image (multipart field `image`)."""
    recognizer = getattr(request.app.state, "recognizer", None)
    if recognizer is None:
        raise HTTPException(503, "classifier not available")
    item = await read_input(request, schemas.PredictRequest, schemas.PredictOptions)
    return await run_in_threadpool(classify, recognizer, item)


@router.post("/digits", response_model=schemas.PredictResponse, responses=schemas.ERRORS,
             openapi_extra=schemas.request_body(schemas.DigitsRequest, schemas.DigitsOptions, UPLOAD))
async def digits(request: Request) -> schemas.PredictResponse:
    """Read a handwritten digit with the NumPy network: strokes as JSON, or an uploaded image."""
    classifier = getattr(request.app.state, "digits", None)
    if classifier is None:
        raise HTTPException(503, "digits model not available")
    item = await read_input(request, schemas.DigitsRequest, schemas.DigitsOptions)
    return await run_in_threadpool(classify_digit, classifier, item)


@router.post("/generate", response_model=schemas.GenerateResponse, responses=schemas.ERRORS,
             openapi_extra=schemas.request_body(schemas.GenerateRequest))
async def generate(request: Request) -> schemas.GenerateResponse:
    """Draw new doodles of a category (503 until a generator is shipped)."""
    options = schemas.GenerateRequest.model_validate(await read_json(request))
    category = resolve(options.category)
    generator = getattr(request.app.state, "generators", {}).get(options.model)
    if generator is None:
        raise HTTPException(503, f"{options.model} model not available yet")

    def run() -> schemas.GenerateResponse:
        start = time.perf_counter()
        images = generator(category, n=options.n, seed=options.seed, steps=options.steps,
                           guidance=options.guidance)
        return schemas.GenerateResponse(model=options.model, category=category,
                                        images=np.asarray(images, np.uint8).tolist(),
                                        server_ms=round((time.perf_counter() - start) * 1000, 3))

    return await run_in_threadpool(run)
