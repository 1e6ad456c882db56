"""The web app's JSON API: name drawn or uploaded doodles and digits. `create_app()` builds it; the models
are loaded once, when the server starts (the FastAPI lifespan), and kept on `app.state`; predictions are
answered in batches by worker processes (`batching`, `inference`), generation in bounded queues, one per
model, with progress and cancelling (`generation`, `jobs`).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from doodlelab import __version__
from doodlelab.data.categories import categories
from doodlelab.data.images import MAX_PIXELS
from doodlelab.errors import DoodleError
from doodlelab.modelfile import ModelFileError
from doodlelab.web import generation, inference, schemas, sketching
from doodlelab.web.batching import MicroBatcher
from doodlelab.web.lane import DoodleAPI, answer
from doodlelab.web.limits import DIGITS, UPLOAD_LIMIT, BodyLimit, error, require_json
from doodlelab.web.workers import CLASSIFIER_MODULES, ProcessWorkers, fork_server

log = logging.getLogger("doodlelab.web")

# Most of a prediction's cost is per drawing (parsing, the stroke pipeline), which a batch does not share;
# small batches keep both workers busy in a burst instead of one working through it alone (measured at
# 512 requests/s: p99 about 50 ms with batches of 4 or 8, 80-140 ms with batches of up to 64; on
# 2026-12-04, alternating 25 s runs: 12-17 ms with batches of up to 8 or 2, 28-34 ms one at a time).
PREDICT_BATCH = 8
GENERATORS = ("diffusion", "gan")
UPLOAD = (
    f"An image of the drawing (PNG, JPEG, ...), dark on light or light on dark; at most "
    f"{UPLOAD_LIMIT // (1024 * 1024)} MiB and {MAX_PIXELS / 1e6:g} megapixels."
)
STATIC = Path(__file__).resolve().parent / "static"  # the page: index.html, app.js, style.css
SWAGGER_UI = "/static/vendor/swagger-ui"  # vendored by scripts/vendor_swagger_ui.py: /docs works offline


def load_classifier(weights: str | Path | None):
    """The Recognizer for `weights`; None (unavailable) when no path is given and none is shipped.
    Weights that cannot be loaded, or that differ from what their ONNX export recorded, raise
    ModelFileError."""
    from doodlelab.classifier.recognizer import SHIPPED, Recognizer

    if weights is None and not SHIPPED.is_file():
        log.warning("no classifier weights at %s: /api/predict will answer 503", SHIPPED)
        return None
    recognizer = Recognizer(weights)
    check_export(recognizer.weights)
    return recognizer


def check_export(weights: Path) -> None:
    """Refuse weights whose ONNX cards (beside them: float and 8-bit) record other contents: the weights
    or an export were modified after `doodlelab export onnx` (the hashes are what the card stored)."""
    from doodlelab.classifier.export import exports_of

    for onnx in exports_of(weights).values():
        _check_onnx_card(weights, onnx)


def _check_onnx_card(weights: Path, onnx: Path) -> None:
    from doodlelab.classifier.export import onnx_card_path, sha256

    card_file = onnx_card_path(onnx)
    if not card_file.is_file():
        return
    try:
        card = json.loads(card_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"{card_file}: unreadable ONNX card ({exc})") from None
    if not isinstance(card, dict):
        raise ModelFileError(f"{card_file}: ONNX card must be a JSON object")
    for path, key in ((weights, "weights_sha256"), (onnx, "onnx_sha256")):
        if key in card and (not path.is_file() or sha256(path) != card[key]):
            raise ModelFileError(
                f"{path}: contents differ from the sha256 recorded in "
                f"{card_file.name} (modified or corrupted); export it again "
                "(doodlelab export onnx) or restore the file"
            )


def browser_model(state, name: str, digits_weights: str | Path | None = None) -> Path:
    """The file served at /models/NAME for recognition in the browser: an ONNX export of the served
    classifier (classifier.int8.onnx, classifier.onnx) or its card (NAME.json) for doodlelab.js, the
    served digits network (mlp_digits.npz) for mlp.js; 404 when there is none."""
    from doodlelab.classifier.export import exports_of, onnx_card_path

    files, recognizer = {}, getattr(state, "recognizer", None)
    for path in exports_of(recognizer.weights).values() if recognizer is not None else ():
        served = "classifier" + path.name.removeprefix(recognizer.weights.stem)
        files[served], files[served + ".json"] = path, onnx_card_path(path)
    if getattr(state, "digits", None) is not None:
        from doodlelab.scratch.digits import WEIGHTS

        files["mlp_digits.npz"] = Path(digits_weights) if digits_weights is not None else WEIGHTS
    if name not in files or not files[name].is_file():
        raise HTTPException(404, f"no model file {name!r}")
    return files[name]


def load_digits(weights: str | Path | None):
    from doodlelab.scratch.digits import WEIGHTS, DigitClassifier, shipped

    if weights is None:
        return shipped() if WEIGHTS.is_file() else None
    return DigitClassifier.load(weights)


def default_workers() -> int:
    """Worker processes that name doodles: one per CPU core, at most 4."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(4, cores))


def predictor(recognizer, workers: int) -> MicroBatcher:
    """Batches for the classifier: in `workers` processes (each with the model loaded once), or in one
    thread of this process when `workers` is 0."""
    if workers == 0:
        return MicroBatcher(partial(inference.predict_batch, recognizer), lambda: ThreadPoolExecutor(1))
    context = fork_server(CLASSIFIER_MODULES)  # see there: each worker forked from a clean process
    pool = partial(
        ProcessWorkers,
        workers,
        mp_context=context,
        initializer=inference.init_worker,
        initargs=(recognizer.weights,),
    )
    return MicroBatcher(inference.predict_in_worker, pool, concurrency=workers, max_batch=PREDICT_BATCH)


def load_generators(weights: dict[str, str | Path] | None) -> dict:
    """name -> DoodleGenerator: the given files, or (None) every shipped generator that is present.
    Given files that cannot be loaded raise ModelFileError."""
    if weights == {}:
        return {}  # none asked for: the generators' code is not even imported
    from doodlelab.generative.generator import MODELS, DoodleGenerator, shipped

    if weights is None:
        weights = {name: shipped(name) for name in MODELS if shipped(name).is_file()}
    unknown = set(weights) - set(GENERATORS)
    if unknown:
        raise DoodleError(f"unknown generator {sorted(unknown)}; choose from {', '.join(GENERATORS)}")
    return {name: DoodleGenerator(path) for name, path in weights.items()}


def create_app(
    classifier_weights: str | Path | None = None,
    digits_weights: str | Path | None = None,
    workers: int | None = None,
    generators: dict[str, str | Path] | None = None,
    sketch_weights: str | Path | None = None,
) -> FastAPI:
    """The API app; None means the shipped weights (a missing shipped model is reported unavailable).
    `generators`: name ("diffusion", "gan") -> weights file; None for the shipped ones, {} for none.
    `sketch_weights`: the stroke model of `/api/complete` and `/api/generate` with model `sketch`.

    `workers`: processes that name doodles, started with the server (default: `default_workers()`; 0 for
    one thread of the server's own process). They are spawned, so a script that serves the app needs the
    usual `if __name__ == "__main__":` guard, as with any code that starts processes."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = app.state
        state.recognizer = load_classifier(classifier_weights)
        state.predictor = state.digits_batcher = state.generation = None
        if state.recognizer is not None:  # the workers start now, and load while this process goes on
            state.predictor = predictor(state.recognizer, default_workers() if workers is None else workers)
        try:
            state.digits = load_digits(digits_weights)
            # name -> f(category, n=, seed=, steps=, guidance=[, frames=]) -> (n, 28, 28) uint8
            state.generators = generation.serving(load_generators(generators))
            sketcher = sketching.load_sketch(sketch_weights)
            if sketcher is not None:
                state.generators["sketch"] = sketcher
            state.generation = generation.generation()  # a queue per model: see `generation`, `jobs`
            if state.digits is not None:
                state.digits_batcher = MicroBatcher(
                    partial(inference.digits_batch, state.digits), lambda: ThreadPoolExecutor(1)
                )
            if state.predictor is not None:
                await state.predictor.warm_up(inference.worker_ready)  # models loaded before serving
            inference.settle_heap()
            yield
        finally:
            for batcher in (state.predictor, state.digits_batcher):
                if batcher is not None:
                    batcher.close()
            if state.generation is not None:
                state.generation.close()

    app = DoodleAPI(  # FastAPI, with a short path for drawings to name: see `lane`
        title="doodlelab",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        description="Recognize Quick, Draw! doodles and handwritten digits.",
    )
    app.add_middleware(BodyLimit)
    app.add_exception_handler(DoodleError, _client_error)
    app.add_exception_handler(ValidationError, _client_error)
    app.add_exception_handler(Exception, _internal_error)
    app.include_router(router)
    app.include_router(generation.router)
    app.include_router(sketching.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/models/{name}", include_in_schema=False)
    def model_file(name: str) -> FileResponse:  # for recognition in the browser (static/doodlelab.js)
        kind = "application/json" if name.endswith(".json") else "application/octet-stream"
        return FileResponse(browser_model(app.state, name, digits_weights), media_type=kind)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:  # FastAPI's own page, with Swagger UI from the package instead of a CDN
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} API",
            swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_UI}/favicon-32x32.png",
        )

    return app


async def _client_error(request: Request, exc: Exception) -> JSONResponse:
    return error(*inference.error_answer(exc))


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error(500, "internal server error")


async def read_input(request: Request, options: type[BaseModel]) -> inference.Input:
    """A JSON body (parsed and validated later, off the event loop) or a multipart upload with field
    `image` and the fields of `options`."""
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        require_json(request)
        return inference.Input(body=await request.body())
    async with request.form(max_files=1, max_fields=4) as form:
        upload, top = form.get("image"), form.get("top")
        if not isinstance(upload, UploadFile):
            raise HTTPException(422, "the upload must have a file field 'image'")
        if top is not None and (not isinstance(top, str) or not DIGITS.fullmatch(top.strip())):
            raise HTTPException(422, "top: must be an integer")
        chosen = options.model_validate({} if top is None else {"top": int(top)})
        return inference.Input(image=await upload.read(), top=chosen.top)


router = APIRouter(prefix="/api")


@router.get("/health", response_model=schemas.HealthResponse)
def health(request: Request) -> schemas.HealthResponse:
    """Whether the server is up, and which models it loaded."""
    state = request.app.state
    generators = getattr(state, "generators", {})
    models = schemas.ModelsAvailable(
        classifier=getattr(state, "recognizer", None) is not None,
        digits=getattr(state, "digits", None) is not None,
        **{name: name in generators for name in (*GENERATORS, "sketch")},
    )
    return schemas.HealthResponse(status="ok", models=models)


@router.get("/categories", response_model=schemas.CategoriesResponse)
def list_categories() -> schemas.CategoriesResponse:
    """The 345 category names."""
    return schemas.CategoriesResponse(categories=list(categories()))


@router.post(
    "/predict",
    response_model=schemas.PredictResponse,
    responses=schemas.ERRORS,
    openapi_extra=schemas.request_body(schemas.PredictRequest, schemas.PredictOptions, UPLOAD),
)
async def predict(request: Request) -> Response:
    """Name a doodle: strokes as JSON, or an uploaded image (multipart field `image`)."""
    batcher = getattr(request.app.state, "predictor", None)
    if batcher is None:
        raise HTTPException(503, "classifier not available")
    return await answer(batcher, await read_input(request, schemas.PredictOptions))


@router.post(
    "/digits",
    response_model=schemas.PredictResponse,
    responses=schemas.ERRORS,
    openapi_extra=schemas.request_body(schemas.DigitsRequest, schemas.DigitsOptions, UPLOAD),
)
async def digits(request: Request) -> Response:
    """Read a handwritten digit with the NumPy network: strokes as JSON, or an uploaded image."""
    batcher = getattr(request.app.state, "digits_batcher", None)
    if batcher is None:
        raise HTTPException(503, "digits model not available")
    return await answer(batcher, await read_input(request, schemas.DigitsOptions))
