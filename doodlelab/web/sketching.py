"""The stroke model on the web API: `POST /api/complete` continues a drawing in its own coordinates, and
`POST /api/generate` with `"model": "sketch"` draws new doodles as strokes (`generate_job`). Both run in the
stroke model's generation queue (`jobs`), one request at a time.
"""

from __future__ import annotations

import logging
import secrets
import time
from pathlib import Path

import numpy as np
from fastapi import APIRouter, HTTPException, Request

from doodlelab.data import strokes as pipeline
from doodlelab.data.categories import resolve
from doodlelab.generative.sketch_config import MAX_GUIDANCE
from doodlelab.web import schemas
from doodlelab.web.inference import parse_drawing
from doodlelab.web.jobs import Cancelled, Job, submit
from doodlelab.web.limits import read_json

log = logging.getLogger("doodlelab.web")


def load_sketch(weights: str | Path | None):
    """The stroke model (`sketch_sample.Sketcher`, NumPy: no PyTorch needed) of `weights`, or the shipped
    one; None when no path is given and none is shipped. A given file that cannot be loaded raises
    ModelFileError."""
    from doodlelab.generative.sketch_config import SHIPPED
    from doodlelab.generative.sketch_sample import load

    if weights is None and not SHIPPED.is_file():
        log.info("no sketch model at %s: /api/complete will answer 503", SHIPPED)
        return None
    return load("sketch" if weights is None else weights)


def sketcher_of(request: Request):
    sketcher = getattr(request.app.state, "generators", {}).get("sketch")
    if sketcher is None:
        raise HTTPException(503, "sketch model not available yet")
    return sketcher


def known(sketcher, category: str | None) -> str | None:
    """The official spelling of `category` (None stays None: unconditional); 422 when the model lacks it."""
    if category is None:
        return None
    name = resolve(category)
    if name not in sketcher.classes:
        raise HTTPException(422, f"category: the sketch model was not trained on {name!r}")
    return name


def generate_job(request: Request, options: schemas.GenerateRequest, polled: bool) -> tuple[Job, callable]:
    """A generate request for the stroke model -> its job and its work: n drawings (strokes in the
    simplified format) and the pipeline's 28 x 28 renderings of them."""
    sketcher = sketcher_of(request)
    category = known(sketcher, options.category)
    if options.guidance is not None and options.guidance > MAX_GUIDANCE:
        raise HTTPException(422, f"guidance: at most {MAX_GUIDANCE:g} for the stroke model")
    seed = options.seed if options.seed is not None else secrets.randbelow(2**32)
    settings = (options.temperature, options.top_p, options.guidance)

    def run(job: Job) -> schemas.GenerateResponse:
        start = time.perf_counter()
        job.ready = [None] * options.n

        def finished(i: int, drawing: list) -> None:  # read by the jobs API's polls (a list item: atomic)
            job.ready[i] = pipeline.to_json(drawing)

        drawings = sketcher.generate(category, options.n, seed, *settings, on_drawing=finished)
        job.progress(1)
        return schemas.GenerateResponse(
            model="sketch",
            category=category,
            seed=seed,
            images=np.stack([pipeline.render(d) for d in drawings]).tolist(),
            strokes=[pipeline.to_json(d) for d in drawings],
            server_ms=round((time.perf_counter() - start) * 1000, 3),
        )

    return Job("sketch", options.n + 1, 1, polled), run


router = APIRouter(prefix="/api")


@router.post(
    "/complete",
    response_model=schemas.CompleteResponse,
    responses=schemas.ERRORS,
    openapi_extra=schemas.request_body(schemas.CompleteRequest),
)
async def complete(request: Request) -> schemas.CompleteResponse:
    """Finish a drawing with the stroke model: `n` continuations of the strokes so far, each only the new
    strokes, in the drawing's own coordinates (canvas units for a canvas drawing). With a `category` the
    model steers toward it; without, it continues as it sees fit. 503 until a stroke model is loaded, and
    with Retry-After while its queue is full; a client that disconnects cancels its request."""
    options = schemas.CompleteRequest.model_validate(await read_json(request))
    sketcher = sketcher_of(request)
    drawing, raw = parse_drawing(options.drawing)  # 400 beyond the shared input limits
    category = known(sketcher, options.category)
    seed = options.seed if options.seed is not None else secrets.randbelow(2**32)

    def run(job: Job) -> schemas.CompleteResponse:
        start = time.perf_counter()
        settings = (options.temperature, options.top_p, options.guidance)
        new = sketcher.complete(drawing, raw, category, options.n, seed, *settings)
        job.progress(1)
        return schemas.CompleteResponse(
            category=category,
            seed=seed,
            completions=[pipeline.to_json(strokes) for strokes in new],
            server_ms=round((time.perf_counter() - start) * 1000, 3),
        )

    job = submit(request.app.state.generation, Job("sketch", options.n + 1, 1, False), run)
    try:
        return await request.app.state.generation.wait(job, request.is_disconnected)
    except Cancelled:  # its client went away (or the server is stopping): nobody reads this
        raise HTTPException(499, "request cancelled") from None
