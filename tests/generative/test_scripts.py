"""The generator scripts as a user runs them: warm_start_gan.py (from a run or a generator file) and
sample_grids.py with chosen models and categories."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PIL import Image

from doodlelab import modelfile

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def run(script: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPTS / script), *map(str, args)], capture_output=True,
                          text=True, timeout=300)


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
    done = run("sample_grids.py", "--models", f"one={gan_file}", f"two={gan_file}", "--categories", "square",
               "circle", "--per-category", "4", "--out", out)
    assert done.returncode == 0, done.stderr
    image = Image.open(out)
    assert image.mode == "L" and image.width > image.height  # two columns of 4 samples, two rows
