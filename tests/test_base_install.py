"""The base install (`pip install doodlelab`, no extras) in a fresh virtual environment: PyTorch is absent,
and `serve`, `predict`, `generate` and every command's `--help` work there, with this install's answers.

Slow: the environment is built once per session (about a minute with pip's cache; PyPI or a local index
must be reachable). This process has PyTorch (the `[test]` extra) and gives the answers to compare.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from doodlelab import settings
from tests.test_without_torch import command_paths, parser_at

pytestmark = pytest.mark.slow
ROOT = settings.REPO_ROOT
SOURCES = ("pyproject.toml", "README.md", "doodlelab")  # what pip builds the package from
ENV = {**os.environ, "COLUMNS": "100", "DOODLELAB_PROGRESS": "0", "PYTHONPATH": ""}


def build_venv(where: Path, extras: str = "") -> Path:
    """A fresh venv at `where` with this repository installed (a copy of its sources, so the build leaves
    nothing in the tree), plus `extras` (e.g. "[train]"); its bin/ folder."""
    source = where / "source"
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            source.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "venv", str(where / "venv")], check=True)
    bin_dir = where / "venv" / "bin"
    subprocess.run(
        [
            bin_dir / "python",
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"{source}{extras}",
        ],
        check=True,
        env=ENV,
        timeout=1800,
    )
    shutil.rmtree(source)
    return bin_dir


@pytest.fixture(scope="session")
def base(tmp_path_factory) -> Path:
    """bin/ of a fresh venv with the base install only."""
    return build_venv(tmp_path_factory.mktemp("base-install"))


def run(bin_dir: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(bin_dir / "doodlelab"), *args], capture_output=True, text=True, env=ENV, cwd=cwd, timeout=600
    )


def here(*args: str) -> subprocess.CompletedProcess:
    """The same command in this (PyTorch) install."""
    return subprocess.run(
        [sys.executable, "-m", "doodlelab", *args],
        capture_output=True,
        text=True,
        env={**ENV, "PYTHONPATH": str(ROOT)},
        timeout=600,
    )


@pytest.fixture(scope="module")
def drawings(tmp_path_factory, quickdraw_root) -> Path:
    """An ndjson file of real stroke drawings of the test split: 4 of each of 8 categories (skipped, through
    `quickdraw_root`, where the data is absent)."""
    from doodlelab.data import cache
    from doodlelab.data import strokes as pipeline
    from doodlelab.data.categories import categories

    names = list(categories())[::45]
    try:
        a = cache.load_split_arrays("test", names)
    except Exception as exc:  # no data on this machine
        pytest.skip(f"no Quick, Draw! data ({exc})")
    lines = []
    for label in np.unique(a.labels):  # labels index the 345 categories
        for i in np.flatnonzero((a.labels == label) & (a.drawing >= 0))[:4]:
            record = {"word": categories()[label], "drawing": pipeline.to_json(a.strokes_of(int(i)))}
            lines.append(json.dumps(record))
    path = tmp_path_factory.mktemp("drawings") / "test.ndjson"
    path.write_text("\n".join(lines) + "\n")
    return path


def top5(output: str) -> list[list[str]]:
    return [[g["category"] for g in json.loads(line)["top"]] for line in output.splitlines()]


def test_the_base_install_has_no_torch(base):
    done = subprocess.run([str(base / "python"), "-c", "import torch"], capture_output=True, text=True)
    assert done.returncode == 1 and "No module named 'torch'" in done.stderr
    listed = subprocess.run(
        [str(base / "python"), "-m", "pip", "list", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
        env=ENV,
    ).stdout
    names = {p["name"].lower() for p in json.loads(listed)}
    assert "onnxruntime" in names and not names & {"torch", "onnx", "onnxscript"}


def test_help_of_every_command(base, monkeypatch):
    from doodlelab.cli.main import build_parser

    monkeypatch.setenv("COLUMNS", ENV["COLUMNS"])  # argparse wraps help to the terminal's width
    full = build_parser()
    for words in command_paths(full):
        done = run(base, *words, "--help")
        assert done.returncode == 0, (words, done.stderr[-2000:])
        assert done.stdout == parser_at(full, words).format_help(), words


def test_predict_gives_the_torch_installs_answers(base, drawings):
    done = run(base, "predict", "--json", "--top", "5", str(drawings))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == here("predict", "--json", "--top", "5", str(drawings)).stdout  # same engine
    float_onnx = run(base, "predict", "--json", "--top", "5", "--backend", "onnx", str(drawings))
    torch_path = here("predict", "--json", "--top", "5", "--backend", "torch", str(drawings))
    assert float_onnx.returncode == torch_path.returncode == 0, float_onnx.stderr + torch_path.stderr
    assert top5(float_onnx.stdout) == top5(torch_path.stdout)  # the float export computes as PyTorch does
    assert len(top5(done.stdout)) == 32


def test_generate_every_shipped_model(base, tmp_path, monkeypatch):
    from doodlelab.generative import training
    from doodlelab.generative.generator import MODELS, DoodleGenerator, shipped

    # PyTorch in float32, as ONNX Runtime computes (with AVX-512 BF16 it would sample in bfloat16)
    monkeypatch.setattr(training, "bf16_supported", lambda kind: False)

    for model in MODELS:
        out = tmp_path / f"{model}.npy"
        done = run(
            base,
            "generate",
            "--model",
            model,
            "--category",
            "cat",
            "--n",
            "4",
            "--seed",
            "3",
            "--out",
            str(out),
        )
        assert done.returncode == 0, done.stderr[-2000:]
        torch_path = DoodleGenerator(shipped(model), engine="torch")
        a, b = np.load(out).astype(int), torch_path("cat", n=4, seed=3).astype(int)
        assert a.shape == b.shape == (4, 28, 28) and a.std() > 10  # real drawings, not a blank page
        assert np.abs(a - b).max() <= 1, (model, np.abs(a - b).max())  # the same samples up to a grey level


def test_serve(base, drawings):
    """`doodlelab serve` (uvicorn, worker processes) names a drawing as this install's predict does."""
    from doodlelab.web.local import loopback_socket

    with loopback_socket() as sock:
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [str(base / "doodlelab"), "serve", "--port", str(port)],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/health", timeout=10) as answer:
                    health = json.loads(answer.read())
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, server.stderr.read()[-3000:]
                time.sleep(0.1)
        loaded = {name for name, ok in health["models"].items() if ok}
        assert loaded == set(health["models"]), health  # every shipped model, the stroke model too
        line = drawings.read_text().splitlines()[0]
        request = urllib.request.Request(
            f"{url}/api/predict",
            data=json.dumps({"drawing": json.loads(line)["drawing"], "top": 5}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            served = [g["category"] for g in json.loads(answer.read())["predictions"]]
        with urllib.request.urlopen(f"{url}/", timeout=10) as page:
            assert b"<canvas" in page.read()
    finally:
        server.terminate()
        server.wait(30)
    assert served == top5(here("predict", "--json", "--top", "5", str(drawings)).stdout)[0]
