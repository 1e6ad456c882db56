"""Training: learns the shapes, checkpoints every epoch, resumes to the same result (also after a SIGKILL in
the middle of an epoch), DDP over gloo."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from doodlelab import modelfile
from doodlelab.classifier import checkpoint
from doodlelab.classifier.train import BEST, CURVES, LAST, train
from doodlelab.lr_schedules import lr_at
from tests.classifier.conftest import SHAPES, tiny_config


def _root(shapes_data):
    data, cache = shapes_data
    return data / "quickdraw", cache


def test_training_learns_and_writes_checkpoint_curves_and_best(shapes_data, tmp_path):
    root, cache = _root(shapes_data)
    result = train(tiny_config(epochs=5), tmp_path, root=root, cache_root=cache, progress=False)
    assert result.history["epoch"] == [1, 2, 3, 4, 5]
    assert result.best_val_accuracy >= 0.8  # four shapes are easy
    assert result.history["train_loss"][-1] < result.history["train_loss"][0]
    for name in (LAST, BEST, CURVES):
        assert (tmp_path / name).stat().st_size > 0
    model, config, card = checkpoint.load_model(tmp_path / BEST)
    assert config == tiny_config(epochs=5) and card["epoch"] == result.best_epoch
    assert card["attribution"] == "Quick, Draw! dataset, Google Inc., CC BY 4.0"


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(shapes_data, tmp_path):
    root, cache = _root(shapes_data)
    whole = train(tiny_config(), tmp_path / "whole", root=root, cache_root=cache, progress=False)
    first = train(tiny_config(), tmp_path / "split", root=root, cache_root=cache, progress=False,
                  until_epoch=1)
    assert first.history["epoch"] == [1]
    resumed = train(tiny_config(), tmp_path / "split", root=root, cache_root=cache, progress=False)
    assert resumed.history["epoch"] == [1, 2]
    assert resumed.history["val_loss"] == whole.history["val_loss"]
    a, _ = modelfile.load(tmp_path / "whole" / LAST)
    b, _ = modelfile.load(tmp_path / "split" / LAST)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_a_checkpoint_from_other_settings_is_refused(shapes_data, tmp_path):
    root, cache = _root(shapes_data)
    train(tiny_config(epochs=1), tmp_path, root=root, cache_root=cache, progress=False)
    with pytest.raises(checkpoint.CheckpointError, match="lr"):
        train(tiny_config(lr=3e-2), tmp_path, root=root, cache_root=cache, progress=False)


def test_truncated_checkpoint_is_a_clear_error(shapes_data, tmp_path):
    root, cache = _root(shapes_data)
    train(tiny_config(epochs=1), tmp_path, root=root, cache_root=cache, progress=False)
    data = (tmp_path / LAST).read_bytes()
    (tmp_path / LAST).write_bytes(data[: len(data) // 2])
    with pytest.raises(modelfile.ModelFileError, match="not a valid safetensors"):
        train(tiny_config(), tmp_path, root=root, cache_root=cache, progress=False)


def test_learning_rate_warms_up_then_decays_to_zero():
    rates = [lr_at(s, 100, 1.0, "cosine", warmup_steps=10) for s in range(100)]
    assert rates[0] == pytest.approx(0.1) and rates[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(rates[9:], rates[10:])) and rates[-1] < 0.01


def test_two_processes_under_torchrun_on_gloo(shapes_data, tmp_path):
    data, cache = shapes_data
    env = os.environ | {"DOODLELAB_DATA": str(data), "DOODLELAB_CACHE": str(cache), "OMP_NUM_THREADS": "1"}
    flags = ["--categories", "circle", "line", "square", "triangle", "--widths", "8", "16",
             "--blocks", "1", "1",
             "--epochs", "4", "--lr", "0.01", "--batch-size", "32", "--workers", "0", "--threads", "1",
             "--bf16", "false"]  # float32 as tiny_config: bfloat16 on an AMX CPU trains another network
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               "-m", "doodlelab", "train", "classifier", "--out", str(tmp_path), "--no-export", *flags]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "test top-1" in result.stdout
    state = modelfile.load(tmp_path / LAST)[1]["state"]
    assert state["epoch"] == 4 and max(state["history"]["val_accuracy"]) > 0.5  # chance is 0.25
    card = modelfile.load_card(tmp_path / "classifier.safetensors")
    assert card["test"]["n"] > 0 and card["temperature"] > 0


KILL_EPOCHS = 3
KILL_FLAGS = ["--categories", *SHAPES, "--widths", "8", "16", "--blocks", "1", "1", "--epochs",
              str(KILL_EPOCHS), "--lr", "0.01", "--batch-size", "2", "--warmup-epochs", "0.2", "--patience",
              "0", "--workers", "0", "--threads", "1", "--seed", "3", "--bf16", "false"]
HANG = 600  # seconds: a run taking longer than this has hung
PROGRESS = re.compile(r"epoch 2/\d+:\s*\d+%\|[^|\r]*\|\s*(\d+)/(\d+)")  # the tqdm bar of epoch 2


def start_training(out: Path, env: dict, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "doodlelab", "train", "classifier", "--out", str(out), "--no-export",
               *KILL_FLAGS]
    with log.open("ab") as stderr:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)


def kill_mid_epoch_two(run: subprocess.Popen, log: Path) -> tuple[int, int]:
    """Wait for epoch 1's line (its checkpoint is written), then for epoch 2's progress bar to show some
    batches done but not all, and SIGKILL the run there; (batches done, batches per epoch)."""
    assert run.stdout is not None
    for line in run.stdout:
        if line.startswith("epoch 1:"):
            break
    deadline, seen = time.monotonic() + HANG, (0, 0)
    while time.monotonic() < deadline and run.poll() is None and seen[0] == 0:
        bars = PROGRESS.findall(log.read_text(errors="replace"))
        seen = (int(bars[-1][0]), int(bars[-1][1])) if bars else seen
        time.sleep(0.005)
    run.send_signal(signal.SIGKILL)
    run.wait(HANG)
    return seen


def test_a_run_killed_mid_epoch_resumes_to_the_same_weights(shapes_data, tmp_path):
    data, cache = shapes_data
    env = os.environ | {"DOODLELAB_DATA": str(data), "DOODLELAB_CACHE": str(cache), "OMP_NUM_THREADS": "1",
                        "DOODLELAB_PROGRESS": "1"}  # progress bars on stderr even without a terminal
    whole = start_training(tmp_path / "whole", env, tmp_path / "whole.log")
    killed = start_training(tmp_path / "killed", env, tmp_path / "killed.log")
    done, total = kill_mid_epoch_two(killed, tmp_path / "killed.log")
    assert killed.returncode == -signal.SIGKILL and 0 < done < total

    arrays, meta = modelfile.load(tmp_path / "killed" / LAST)  # whole, and from the first epoch
    assert meta["state"]["epoch"] == 1 and meta["state"]["history"]["epoch"] == [1]
    assert all(np.isfinite(a).all() for a in arrays.values() if a.dtype.kind == "f")

    resumed = start_training(tmp_path / "killed", env, tmp_path / "resumed.log")
    out, _ = resumed.communicate(timeout=HANG)
    assert resumed.returncode == 0, (tmp_path / "resumed.log").read_text()[-3000:]
    epochs = [int(m) for m in re.findall(r"^epoch (\d+):", out, re.M)]
    assert epochs == list(range(2, KILL_EPOCHS + 1))  # continued after epoch 1, redid none of it
    assert whole.wait(HANG) == 0, (tmp_path / "whole.log").read_text()[-3000:]

    for name in (LAST, "classifier.safetensors"):
        a, b = modelfile.load(tmp_path / "whole" / name)[0], modelfile.load(tmp_path / "killed" / name)[0]
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a), name
    histories = [modelfile.load(tmp_path / run / LAST)[1]["state"]["history"] for run in ("whole", "killed")]
    assert histories[0] | {"seconds": None} == histories[1] | {"seconds": None}  # all but wall-clock times
    leftovers = [p.name for p in (tmp_path / "killed").iterdir() if p.name.endswith(".tmp")]
    assert not leftovers  # no half-written file (writes go to a temporary file, then one rename)
