"""`POST /api/generate` and the jobs API with real (tiny) diffusion and GAN files behind a real server:
images, seeds, the denoising frames, progress, and clear 4xx answers for arguments the model cannot take
(the GAN's missing diffusion settings, the cap on n x steps)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from doodlelab.web.app import create_app
from doodlelab.web.local import serving


@pytest.fixture(scope="module")
def client(tiny_model, diffusion_file, gan_file) -> Iterator[httpx.Client]:
    app = create_app(
        classifier_weights=tiny_model, workers=0, generators={"diffusion": diffusion_file, "gan": gan_file}
    )
    with serving(app) as c:
        yield c


def test_health_lists_the_generators(client):
    models = client.get("/api/health").json()["models"]
    assert models["diffusion"] is True and models["gan"] is True


@pytest.mark.parametrize("model", ["diffusion", "gan"])
def test_images_depend_on_the_seed_only(client, model):
    body = {"model": model, "category": "Square", "n": 3, "seed": 7}
    body |= {"steps": 5, "guidance": 1.5} if model == "diffusion" else {}
    first = client.post("/api/generate", json=body)
    assert first.status_code == 200, first.text
    answer = first.json()
    images = np.array(answer["images"])
    assert images.shape == (3, 28, 28) and images.min() >= 0 and images.max() <= 255
    assert answer["category"] == "square" and answer["seed"] == 7 and answer["model"] == model
    assert client.post("/api/generate", json=body).json()["images"] == answer["images"]
    other = client.post("/api/generate", json=body | {"seed": 8}).json()["images"]
    assert other != answer["images"]
    chosen = client.post("/api/generate", json={"model": model, "category": "square", "n": 1}).json()
    assert 0 <= chosen["seed"] < 2**32  # a random seed, reported so the drawing can be made again


def test_guidance_defaults_to_the_models_own(client, diffusion_file):
    from doodlelab.generative.generator import DoodleGenerator

    own = DoodleGenerator(diffusion_file).config.guidance
    body = {"model": "diffusion", "category": "circle", "n": 2, "seed": 1, "steps": 5}
    default = client.post("/api/generate", json=body).json()["images"]
    assert default == client.post("/api/generate", json=body | {"guidance": own}).json()["images"]
    assert default != client.post("/api/generate", json=body | {"guidance": own + 3}).json()["images"]


def test_diffusion_returns_denoising_frames(client):
    body = {"model": "diffusion", "category": "circle", "n": 2, "seed": 1, "steps": 10, "frames": 4}
    answer = client.post("/api/generate", json=body).json()
    frames = np.array(answer["frames"])
    assert frames.shape == (4, 2, 28, 28)
    assert not np.array_equal(frames[0], frames[-1])  # the picture changes as noise is removed
    gan_body = {key: value for key, value in body.items() if key != "steps"} | {"model": "gan"}
    gan = client.post("/api/generate", json=gan_body).json()
    assert gan["frames"] == []  # one forward pass: nothing to animate
    assert client.post("/api/generate", json=body | {"frames": 0}).json()["frames"] == []


@pytest.mark.parametrize(
    "change, status, message",
    [
        ({"steps": 51}, 400, "steps must be an integer from 1 to 50"),  # the tiny model has T = 50
        ({"guidance": -0.5}, 422, "guidance"),
        ({"n": 17}, 422, "n"),
        ({"frames": 51}, 422, "frames"),
        ({"category": "katt"}, 400, "unknown category"),
        ({"n": 16, "steps": 26}, 422, "n x steps must be at most 400 per request (got 16 x 26 = 416)"),
        ({"model": "gan", "steps": 10}, 422, "steps: the GAN draws in one pass and has no sampling steps"),
        ({"model": "gan", "guidance": 2}, 422, "guidance: the GAN draws in one pass"),
        ({"model": "gan", "temperature": 1}, 422, "temperature: a setting of the stroke model"),
        ({"top_p": 0.5}, 422, "top_p: a setting of the stroke model"),
        ({"model": "sketch", "guidance": 11}, 422, "guidance: at most 10 for the stroke model"),
    ],
)
def test_bad_arguments_get_a_clear_4xx(client, change, status, message):
    body = {"model": "diffusion", "category": "cat", "n": 2, "seed": 1} | change
    response = client.post("/api/generate", json=body)
    assert response.status_code == status and message in response.json()["detail"]


def test_limits_are_published(client):
    assert client.get("/api/generate/limits").json() == {"max_n": 16, "max_steps": 1000, "max_work": 400}


def poll(client: httpx.Client, job_id: str, until: set[str]) -> list[dict]:
    """GET the job until its status is in `until`; every answer seen."""
    seen = [client.get(f"/api/generate/jobs/{job_id}").json()]
    while seen[-1]["status"] not in until:
        seen.append(client.get(f"/api/generate/jobs/{job_id}").json())
    return seen


@pytest.mark.parametrize("model", ["diffusion", "gan"])
def test_a_job_reports_progress_and_gives_the_waiting_answer(client, model):
    body = {"model": model, "category": "circle", "n": 2, "seed": 4}
    body |= {"steps": 30, "frames": 3} if model == "diffusion" else {}
    started = client.post("/api/generate/jobs", json=body)
    assert started.status_code == 202, started.text
    job = started.json()
    assert started.headers["location"] == f"/api/generate/jobs/{job['id']}"
    assert job["total"] == (30 if model == "diffusion" else 1) and job["status"] in ("queued", "running")
    seen = poll(client, job["id"], {"done", "failed", "cancelled"})
    assert seen[-1]["status"] == "done" and seen[-1]["done"] == seen[-1]["total"]
    counts = [s["done"] for s in seen]
    assert counts == sorted(counts)  # steps only go up
    waited = client.post("/api/generate", json=body).json()
    result = seen[-1]["result"]
    assert result["images"] == waited["images"] and result["frames"] == waited["frames"]
    assert client.get(f"/api/generate/jobs/{job['id']}").json()["status"] == "done"  # still there to read


def test_unknown_jobs_are_404(client):
    for method in ("GET", "DELETE"):
        response = client.request(method, "/api/generate/jobs/nonesuch")
        assert response.status_code == 404 and "no job 'nonesuch'" in response.json()["detail"]
