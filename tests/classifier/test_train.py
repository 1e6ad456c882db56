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
    first = train(
        tiny_config(), tmp_path / "split", root=root, cache_root=cache, progress=False, until_epoch=1
    )
    assert first.history["epoch"] == [1]
    resumed = train(tiny_config(), tmp_path / "split", root=root, cache_root=cache, progress=False)
    assert resumed.history["epoch"] == [1, 2]
    assert resumed.history["val_loss"] == whole.history["val_loss"]
    a, _ = modelfile.load(tmp_path / "whole" / LAST)
    b, _ = modelfile.load(tmp_path / "split" / LAST)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_a_compiled_network_trains_as_the_plain_one_and_saves_plain_weights(shapes_data, tmp_path):
    """--compile eager: TorchDynamo traces the step (what inductor would compile) and runs it as is, so the
    run must match the plain one; the checkpoint holds the module's own names (no `_orig_mod.`), and a
    plain run resumes it."""
    root, cache = _root(shapes_data)
    plain = train(tiny_config(epochs=1), tmp_path / "plain", root=root, cache_root=cache, progress=False)
    import torch._dynamo

    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    compiled = train(
        tiny_config(epochs=1, compile="eager"),
        tmp_path / "compiled",
        root=root,
        cache_root=cache,
        progress=False,
    )
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 1  # the step went through TorchDynamo
    np.testing.assert_allclose(compiled.history["train_loss"], plain.history["train_loss"], rtol=1e-5)
    np.testing.assert_allclose(compiled.history["val_loss"], plain.history["val_loss"], rtol=1e-5)
    a, _ = modelfile.load(tmp_path / "plain" / LAST)
    b, _ = modelfile.load(tmp_path / "compiled" / LAST)
    assert a.keys() == b.keys()
    resumed = train(tiny_config(epochs=2), tmp_path / "compiled", root=root, cache_root=cache, progress=False)
    assert resumed.history["epoch"] == [1, 2]  # compile is a setting a resumed run may change


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
    flags = [
        "--categories",
        "circle",
        "line",
        "square",
        "triangle",
        "--widths",
        "8",
        "16",
        "--blocks",
        "1",
        "1",
        "--epochs",
        "4",
        "--lr",
        "0.01",
        "--batch-size",
        "32",
        "--workers",
        "0",
        "--threads",
        "1",
        "--bf16",
        "false",
    ]  # float32 as tiny_config: bfloat16 on an AMX CPU trains another network
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "doodlelab",
        "train",
        "classifier",
        "--out",
        str(tmp_path),
        "--no-export",
        *flags,
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "test top-1" in result.stdout
    state = modelfile.load(tmp_path / LAST)[1]["state"]
    assert state["epoch"] == 4 and max(state["history"]["val_accuracy"]) > 0.5  # chance is 0.25
    card = modelfile.load_card(tmp_path / "classifier.safetensors")
    assert card["test"]["n"] > 0 and card["temperature"] > 0


KILL_EPOCHS = 3
KILL_FLAGS = [
    "--categories",
    *SHAPES,
    "--widths",
    "8",
    "16",
    "--blocks",
    "1",
    "1",
    "--epochs",
    str(KILL_EPOCHS),
    "--lr",
    "0.01",
    "--batch-size",
    "2",
    "--warmup-epochs",
    "0.2",
    "--patience",
    "0",
    "--workers",
    "0",
    "--threads",
    "1",
    "--seed",
    "3",
    "--bf16",
    "false",
]
HANG = 600  # seconds: a run taking longer than this has hung
PROGRESS = re.compile(r"epoch 2/\d+:\s*\d+%\|[^|\r]*\|\s*(\d+)/(\d+)")  # the tqdm bar of epoch 2


def start_training(out: Path, env: dict, log: Path) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "doodlelab",
        "train",
        "classifier",
        "--out",
        str(out),
        "--no-export",
        *KILL_FLAGS,
    ]
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
    env = os.environ | {
        "DOODLELAB_DATA": str(data),
        "DOODLELAB_CACHE": str(cache),
        "OMP_NUM_THREADS": "1",
        "DOODLELAB_PROGRESS": "1",
    }  # progress bars on stderr even without a terminal
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


def _plan_split(shapes_data):
    from doodlelab.data import stream

    data, cache = shapes_data
    return stream.open_split("train", list(SHAPES), root=data / "quickdraw", cache_root=cache)


@pytest.mark.parametrize("world", [1, 2, 3])
def test_each_rank_takes_a_disjoint_share_and_together_the_whole_epoch(shapes_data, world):
    from doodlelab.classifier.data import BLOCK, EpochPlan

    split = _plan_split(shapes_data)
    blocks = split.blocks(BLOCK)
    groups = split.labels_of(blocks[:, 0])
    plan = EpochPlan(blocks, 16 // world, world, seed=5, epoch=1, window=200, groups=groups)
    per_batch = (16 // world) * world
    assert plan.n == len(split) and plan.steps == len(split) // per_batch
    order = plan.positions(0, plan.n)
    assert sorted(order.tolist()) == list(range(len(split)))  # a permutation of the split
    taken = [plan.batch(b, r) for b in range(plan.steps) for r in range(world)]
    flat = np.concatenate(taken)
    assert len(set(flat.tolist())) == len(flat) == plan.steps * per_batch  # disjoint
    assert np.array_equal(flat, order[: len(flat)])  # and complete, in the epoch's order
    labels = split.take(order)[1]
    assert len(np.unique(labels[:200])) == len(SHAPES)  # a window mixes categories (shards are per category)
    other = EpochPlan(blocks, 16 // world, world, seed=5, epoch=2, window=200, groups=groups)
    assert not np.array_equal(other.positions(0, plan.n), order)  # each epoch has its own order


def test_the_epoch_order_spreads_every_category_over_every_window():
    # 120 categories of 8 blocks each, windows of 160 blocks: a plain permutation of the blocks leaves
    # categories out of a window (seen in training: 84 of 345 missing from the last window of an epoch,
    # so its final steps at peak learning rate pushed those categories down); spread by category, none.
    from doodlelab.classifier.data import EpochPlan, stratified_order

    groups = np.repeat(np.arange(120), 8)
    blocks = np.stack([np.arange(960) * 64, np.arange(960) * 64 + 64], axis=1)
    for seed in range(4):
        plain = EpochPlan(blocks, 64, 1, seed, epoch=0, window=160 * 64)
        mixed = EpochPlan(blocks, 64, 1, seed, epoch=0, window=160 * 64, groups=groups)
        for plan, everywhere in ((plain, False), (mixed, True)):
            present = [len(np.unique(plan.window(w) // 512)) for w in range(len(plan.window_ends))]
            assert (min(present) == 120) is everywhere
        order = stratified_order(groups, 960, seed, 0)
        assert sorted(order.tolist()) == list(range(960))  # a permutation of the blocks
        assert not np.array_equal(order, stratified_order(groups, 960, seed, 1))  # new order each epoch


def test_loader_workers_each_take_their_own_batches_and_together_all(shapes_data):
    from torch.utils.data import DataLoader

    from doodlelab.classifier.data import BLOCK, AugmentedBatches, EpochPlan

    split = _plan_split(shapes_data)
    plan = EpochPlan(split.blocks(BLOCK), 32, 1, seed=0, epoch=0, window=128)
    aug = tiny_config().augment
    alone = [(x.numpy(), y.numpy()) for x, y in AugmentedBatches(split, plan, aug)]
    loader = DataLoader(AugmentedBatches(split, plan, aug), batch_size=None, num_workers=2)
    shared = [(x.numpy(), y.numpy()) for x, y in loader]
    assert len(shared) == len(alone) == plan.steps
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(alone, shared))
    later = AugmentedBatches(split, plan, aug, first=3)  # a resumed epoch starts at its batch 3
    assert len(later) == plan.steps - 3 and np.array_equal(later[0][0].numpy(), alone[3][0])


def test_a_run_paused_by_max_steps_mid_epoch_resumes_to_the_same_weights(shapes_data, tmp_path):
    root, cache = _root(shapes_data)
    whole = train(tiny_config(), tmp_path / "whole", root=root, cache_root=cache, progress=False)
    paused = train(tiny_config(max_steps=5), tmp_path / "split", root=root, cache_root=cache, progress=False)
    assert paused.stopped_at_step == 5 and paused.history == {}  # paused inside epoch 1
    meta = modelfile.load(tmp_path / "split" / LAST)[1]
    assert meta["state"]["epoch"] == 0 and meta["state"]["step"] == 5
    resumed = train(tiny_config(), tmp_path / "split", root=root, cache_root=cache, progress=False)
    assert resumed.history | {"seconds": None} == whole.history | {"seconds": None}
    a, _ = modelfile.load(tmp_path / "whole" / LAST)
    b, _ = modelfile.load(tmp_path / "split" / LAST)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_float16_loss_scale_is_kept_in_the_checkpoint_and_resumed(shapes_data, tmp_path, monkeypatch):
    # GPUs without bfloat16 train in float16 with a GradScaler, whose scale adapts during the run; a resumed
    # run must continue from that scale (a fresh 65536 would skip other steps and train other weights).
    # Float16 autocast runs on a CPU too, so the CPU plays that GPU here; the scale grows every 2 steps
    # (not every 2,000) so that a few steps move it.
    import functools

    import torch

    from doodlelab.classifier import train as train_module

    monkeypatch.setattr(train_module, "autocast_dtype", lambda device, bf16: torch.float16 if bf16 else None)
    monkeypatch.setattr(torch.amp, "GradScaler", functools.partial(torch.amp.GradScaler, growth_interval=2))
    root, cache = _root(shapes_data)
    config = dict(bf16=True, epochs=1)
    whole = train(tiny_config(**config), tmp_path / "whole", root=root, cache_root=cache, progress=False)
    train(tiny_config(**config, max_steps=4), tmp_path / "split", root=root, cache_root=cache, progress=False)
    scale = modelfile.load(tmp_path / "split" / LAST)[1]["state"]["scaler"]["scale"]
    assert scale != 65536.0  # the scale has moved from its start: there is something to keep
    resumed = train(tiny_config(**config), tmp_path / "split", root=root, cache_root=cache, progress=False)
    assert resumed.history | {"seconds": None} == whole.history | {"seconds": None}
    (a, meta_a), (b, meta_b) = (modelfile.load(tmp_path / run / LAST) for run in ("whole", "split"))
    assert meta_a["state"]["scaler"] == meta_b["state"]["scaler"]
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_device_choice_and_autocast_types():
    import torch

    from doodlelab.config import ConfigError
    from doodlelab.devices import autocast_dtype, pick_device

    assert autocast_dtype(torch.device("cpu"), True) == torch.bfloat16
    assert autocast_dtype(torch.device("cpu"), False) is None
    if torch.cuda.is_available():
        assert pick_device("auto").type == "cuda"
    else:  # this machine: the CPU path, and a clear error when a GPU is asked for
        assert pick_device("auto") == torch.device("cpu")
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            pick_device("cuda")
    with pytest.raises(ConfigError, match="device must be one of"):
        tiny_config(device="tpu")
