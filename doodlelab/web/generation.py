"""The generation endpoints: `POST /api/generate` answers when the drawings are done; the jobs API shows
progress (`POST /api/generate/jobs`, then poll `GET /api/generate/jobs/{id}`; `DELETE` cancels it).
Both run in the same per-model queues (`jobs`), one request at a time per model.
"""

from __future__ import annotations

import secrets
import time

import numpy as np
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from doodlelab.data.categories import resolve
from doodlelab.web import schemas, sketching
from doodlelab.web.inference import error_answer
from doodlelab.web.jobs import ABANDONED, KEEP, Cancelled, Generation, Job, submit
from doodlelab.web.limits import read_json

# Samples x steps of one diffusion request. In the server's one-thread ONNX session DDIM took 12.9 s for
# 16 samples x 125 steps on the 2-core Xeon host when idle (6.5 ms a sample-step), so 400 keeps one request
# under ~3 s: 16 x 25, 4 x 100, 1 x 400.
MAX_WORK = 400
# Priors of the backlog estimate, in seconds per (samples + 1) x steps, until the server measures its own.
# sketch: a request of n drawings is n + 1 units (one pass of the stroke model over up to max_len rows).
SECONDS_PER_UNIT = {"diffusion": 6e-3, "gan": 2e-4, "sketch": 0.5}  # diffusion: 12.9 s / (17 x 125), above
WAITING = 4  # requests queued per model behind the running one
NICE = {"diffusion": 10}  # the expensive model's thread yields the CPU to the cheap ones (jobs.ModelQueue)
GAN_HAS_NO = {"steps": "sampling steps", "guidance": "guidance scale"}  # diffusion-only settings
SKETCH_ONLY = ("temperature", "top_p")


def generation() -> Generation:
    return Generation(SECONDS_PER_UNIT, WAITING, NICE)


def serving(generators: dict) -> dict:
    """The loaded generators, set up to share the CPU: a diffusion model sampling through ONNX Runtime gets
    a session of one intra-op thread that does not busy-wait (`OnnxUNet.for_serving`), so the GAN's and the
    event loop's work finds a core free while it samples. `doodlelab generate` keeps the fast default."""
    for generator in generators.values():
        if getattr(generator, "engine", None) == "onnx":
            generator.eps_model = generator.eps_model.for_serving()
    return generators


class Limits(BaseModel):
    max_n: int = Field(description="Drawings per request.")
    max_steps: int = Field(description="Diffusion sampling steps per request.")
    max_work: int = Field(description="Diffusion: n x steps per request, at most (about 3 s of work).")


class JobStatus(BaseModel):
    id: str = Field(description="The job's id (unguessable: only its client can read or cancel it).")
    model: str = Field(description="The generator.")
    status: str = Field(description="`queued`, `running`, `done`, `failed` or `cancelled`.")
    done: int = Field(description="Sampling steps done.")
    total: int = Field(description="Sampling steps in all (1 for the GAN).")
    ahead: int = Field(description="Requests ahead of this one in its model's queue.")
    seconds_left: float = Field(description="Estimated seconds until done (from the queue's backlog).")
    result: schemas.GenerateResponse | None = Field(None, description="The drawings, once `done`.")
    ready: list[schemas.Strokes | None] | None = Field(
        None,
        description="The stroke model, while queued or running: each doodle's strokes as soon as it is "
        "finished (null for those still being drawn), so a page can start drawing them.",
    )
    detail: str | None = Field(None, description="What went wrong, when `failed`.")


def plan(request: Request, body: dict, polled: bool) -> tuple[Job, callable]:
    """Validate a generate request (4xx with a message naming what is wrong) -> its job and its work."""
    options = schemas.GenerateRequest.model_validate(body)
    category = resolve(options.category)
    generator = getattr(request.app.state, "generators", {}).get(options.model)
    if generator is None:
        raise HTTPException(503, f"{options.model} model not available yet")
    diffusion = options.model == "diffusion"
    given = sorted(
        GAN_HAS_NO.keys() & options.model_fields_set - ({"guidance"} if options.model == "sketch" else set())
    )
    if not diffusion and given:
        how = (
            "the GAN draws in one pass" if options.model == "gan" else "the stroke model draws point by point"
        )
        raise HTTPException(
            422, f"{given[0]}: {how} and has no {GAN_HAS_NO[given[0]]}; leave it out (a diffusion setting)"
        )
    given = sorted(set(SKETCH_ONLY) & options.model_fields_set)
    if options.model != "sketch" and given:
        raise HTTPException(422, f"{given[0]}: a setting of the stroke model (model sketch); leave it out")
    if options.model == "sketch":
        return sketching.generate_job(request, options, polled)
    steps, guidance = (options.steps, options.guidance) if diffusion else (None, None)
    if diffusion and options.n * options.steps > MAX_WORK:
        raise HTTPException(
            422,
            f"n x steps must be at most {MAX_WORK:,} per request (got {options.n} x "
            f"{options.steps} = {options.n * options.steps:,}): lower n or steps",
        )
    seed = options.seed if options.seed is not None else secrets.randbelow(2**32)
    if hasattr(generator, "check"):  # a DoodleGenerator: its own limits (steps <= its T, ...) up front
        generator.check(category, options.n, seed, steps, guidance)
    stepwise = getattr(generator, "kind", None) == "diffusion"  # reports each step (and can stop there)

    def run(job: Job) -> schemas.GenerateResponse:
        start = time.perf_counter()
        frames: list = []
        keep = set(np.linspace(0, job.total - 1, options.frames).round().astype(int).tolist())

        def step(i: int, x0: np.ndarray) -> None:
            if i in keep:
                frames.append(x0.tolist())
            job.progress(i + 1)

        extra = {"frames": step} if stepwise else {}
        images = generator(category, n=options.n, seed=seed, steps=steps, guidance=guidance, **extra)
        return schemas.GenerateResponse(
            model=options.model,
            category=category,
            seed=seed,
            frames=frames if diffusion else [],
            images=np.asarray(images, np.uint8).tolist(),
            server_ms=round((time.perf_counter() - start) * 1000, 3),
        )

    total = options.steps if diffusion else 1
    return Job(options.model, (options.n + 1) * total, total, polled), run


def status(request: Request, job: Job) -> JobStatus:
    queue = request.app.state.generation.queues[job.model]
    detail = error_answer(job.error)[1] if job.error is not None else None
    return JobStatus(
        id=job.id,
        model=job.model,
        status=job.state,
        done=job.done,
        total=job.total,
        ahead=queue.ahead_of(job),
        seconds_left=round(queue.seconds_until_done(job), 3),
        result=job.result,
        ready=list(job.ready) if job.ready is not None and job.result is None else None,
        detail=detail,
    )


router = APIRouter(prefix="/api")
GENERATE_BODY = schemas.request_body(schemas.GenerateRequest)
JOB_ERRORS = {404: {"model": schemas.ErrorResponse}}


@router.post(
    "/generate",
    response_model=schemas.GenerateResponse,
    responses=schemas.ERRORS,
    openapi_extra=GENERATE_BODY,
)
async def generate(request: Request) -> schemas.GenerateResponse:
    """Draw new doodles of a category and answer when they are done (503 until a generator is shipped;
    503 with Retry-After, the estimated seconds of queued work, while that model's queue is full). A
    client that disconnects cancels its request. For progress and a cancel button, use the jobs below."""
    job, run = plan(request, await read_json(request), polled=False)
    try:
        return await request.app.state.generation.wait(
            submit(request.app.state.generation, job, run), request.is_disconnected
        )
    except Cancelled:  # its client went away (or the server is stopping): nobody reads this
        raise HTTPException(499, "request cancelled") from None


@router.post(
    "/generate/jobs",
    status_code=202,
    response_model=JobStatus,
    responses=schemas.ERRORS,
    openapi_extra=GENERATE_BODY,
)
async def start_job(request: Request) -> JSONResponse:
    """Queue the same request as `POST /api/generate` and answer at once (202) with the job's id. Poll
    `GET /api/generate/jobs/{id}` (every 100-500 ms) for `done` of `total` steps and, once `status` is
    `done`, the `result`; `DELETE` it to cancel. A job not polled for 30 s is cancelled; a finished one is
    kept 60 s."""
    job, run = plan(request, await read_json(request), polled=True)
    answer = status(request, submit(request.app.state.generation, job, run))
    return JSONResponse(
        answer.model_dump(), status_code=202, headers={"Location": f"/api/generate/jobs/{job.id}"}
    )


def find(request: Request, job_id: str) -> Job:
    job = request.app.state.generation.get(job_id)
    if job is None:
        raise HTTPException(
            404,
            f"no job {job_id!r} (jobs are dropped {KEEP:g} s after they finish, or "
            f"after {ABANDONED:g} s without a poll)",
        )
    return job


@router.get("/generate/jobs/{job_id}", response_model=JobStatus, responses=JOB_ERRORS)
def job_status(request: Request, job_id: str) -> JobStatus:
    """A job's progress (`done` of `total` steps, requests `ahead`, estimated `seconds_left`), and its
    `result` (the `POST /api/generate` answer) once `status` is `done`."""
    return status(request, find(request, job_id))


@router.delete("/generate/jobs/{job_id}", response_model=JobStatus, responses=JOB_ERRORS)
def cancel_job(request: Request, job_id: str) -> JobStatus:
    """Cancel a job: a queued one leaves the queue at once, a running one stops after its current step
    (status `cancelled`). A finished job is left as it is."""
    job = find(request, job_id)
    if not job.finished:
        request.app.state.generation.cancel(job)
        job.state = "cancelled"
    return status(request, job)


@router.get("/generate/limits", response_model=Limits)
def limits() -> Limits:
    """The largest request the server takes (the page checks its form against them before sending)."""
    return Limits(max_n=_most("n"), max_steps=_most("steps"), max_work=MAX_WORK)


def _most(name: str) -> int:
    """The upper bound (`le`) of a GenerateRequest field."""
    return next(m.le for m in schemas.GenerateRequest.model_fields[name].metadata if hasattr(m, "le"))
