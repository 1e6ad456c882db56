"""The generator scripts as a user runs them: warm_start_gan.py (from a run or a generator file),
sample_grids.py with chosen models and categories, and sweep_sampling.py on the validation split."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

from doodlelab import modelfile

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def run(script: str, *args, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPTS / script), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env=None if env is None else os.environ | env,
    )


def test_warm_start_from_a_generator_file_or_a_run(gan_file, tmp_path):
    done = run("warm_start_gan.py", gan_file, tmp_path / "pac", "--pack", "2", "--d-warmup", "4")
    assert done.returncode == 0, done.stderr
    meta = modelfile.load(tmp_path / "pac" / "last.safetensors")[1]
    assert meta["config"]["pack"] == 2 and meta["config"]["d_warmup"] == 4
    run_checkpoint = gan_file.parent / "last.safetensors"
    refused = run("warm_start_gan.py", run_checkpoint, tmp_path / "x", "--pack", "2")  # D has another shape
    assert refused.returncode == 2 and "only when starting from a generator file" in refused.stderr
    assert not (tmp_path / "x").exists()
    for bad in (["--pack", "3"], []):
        source = gan_file if bad else tmp_path / "missing.safetensors"
        failed = run("warm_start_gan.py", source, tmp_path / "y", *bad)
        assert failed.returncode == 2 and failed.stderr.count("\n") == 1 and "Traceback" not in failed.stderr


def test_sample_grids_of_chosen_models(gan_file, tmp_path):
    out = tmp_path / "grid.png"
    done = run(
        "sample_grids.py",
        "--models",
        f"one={gan_file}",
        f"two={gan_file}",
        "--categories",
        "square",
        "circle",
        "--per-category",
        "4",
        "--out",
        out,
    )
    assert done.returncode == 0, done.stderr
    image = Image.open(out)
    assert image.mode == "L" and image.width > image.height  # two columns of 4 samples, two rows


def test_sweep_sampling_rows_differ_by_setting(diffusion_file, shapes_data, tmp_path):
    data, cache = shapes_data
    env = {"DOODLELAB_DATA": str(data), "DOODLELAB_CACHE": str(cache)}
    common = ["--weights", diffusion_file, "--categories", "circle", "square", "--per-category", 4]
    settings = ["0:5:2:0:1", "1:5:2:0:1", "1:5:2:0.2:0.8"]
    done = run("sweep_sampling.py", *common, "--json", "--settings", *settings, env=env)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [(r["eta"], r["interval"]) for r in rows] == [(0, [0, 1]), (1, [0, 1]), (1, [0.2, 0.8])]
    assert all(r["samples"] == 8 and 0 <= r["recognizability"] <= 1 for r in rows)
    assert len({r["frechet_ratio"] for r in rows}) == 3  # each setting draws other samples
    table = [line for line in done.stdout.splitlines() if line.startswith("|")]
    assert len(table) == 2 + 3 and table[3].startswith("| 1 | 5 | 2 | 0–1 |")  # header, rule, 3 rows
    for bad, message in [
        ("1:5:2:0", "ETA:STEPS:W:LO:HI"),
        ("2:5:2:0:1", "eta must be from 0 to 1"),
        ("0:500:2:0:1", "steps must be an integer from 1 to 50"),
    ]:
        failed = run("sweep_sampling.py", *common, "--settings", bad, env=env)
        assert failed.returncode == 2 and message in failed.stderr and failed.stderr.count("\n") == 1
