"""Diffusion training and sampling: guidance as Ho & Salimans wrote it, determinism, resumable training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from doodlelab import modelfile
from doodlelab.errors import DataError
from doodlelab.generative import diffusion, files, sampling, training
from doodlelab.generative.generator import DoodleGenerator
from tests.generative.conftest import tiny_diffusion


def _net():
    torch.manual_seed(0)
    unet, sched = diffusion.build(tiny_diffusion())
    for p in unet.parameters():
        p.data.add_(torch.randn_like(p) * 0.05)
    return unet.eval(), sched


def test_guidance_combines_conditional_and_unconditional():
    unet, _ = _net()
    x, y = np.random.default_rng(0).standard_normal((2, 1, 28, 28), dtype=np.float32), np.array([3, 7])
    t = torch.full((2,), 20)
    with torch.no_grad():
        cond = unet(torch.from_numpy(x), t, torch.from_numpy(y)).numpy()
        uncond = unet(torch.from_numpy(x), t, torch.full((2,), unet.num_classes)).numpy()
    net = training.OnNumpy(unet, bf16=False)
    np.testing.assert_allclose(sampling.guided_eps(net, x, 20, y, 0.0), cond, atol=1e-6)
    np.testing.assert_allclose(
        sampling.guided_eps(net, x, 20, y, 2.5), 3.5 * cond - 2.5 * uncond, atol=1e-5, rtol=1e-4
    )


def test_sampling_is_deterministic_per_seed():
    unet, sched = _net()
    net, y = training.OnNumpy(unet, bf16=False), np.array([1, 2, 3])
    a = sampling.sample_diffusion(net, sched, y, steps=5, seed=1)
    assert a.shape == (3, 1, 28, 28) and a.dtype == np.float32 and a.min() >= -1 and a.max() <= 1
    assert np.array_equal(a, sampling.sample_diffusion(net, sched, y, steps=5, seed=1))
    assert not np.array_equal(a, sampling.sample_diffusion(net, sched, y, steps=5, seed=2))
    seen = []
    ddpm = sampling.sample_diffusion(
        net, sched, y, sampler="ddpm", seed=1, callback=lambda i, x0: seen.append(i)
    )
    assert len(seen) == sched.num_steps and not np.array_equal(ddpm, a)
    with pytest.raises(ValueError, match="sampler must be one of"):
        sampling.sample_diffusion(net, sched, y, sampler="euler")


class _Counting:
    """The U-Net on NumPy arrays, recording the batch size of every call (2B: both guidance branches,
    B: conditional alone)."""

    def __init__(self, unet):
        self.net, self.num_classes, self.batches = training.OnNumpy(unet, bf16=False), unet.num_classes, []

    def __call__(self, x, t, y):
        self.batches.append((int(t[0]), len(x)))
        return self.net(x, t, y)


def test_guidance_applies_only_within_its_interval():
    unet, sched = _net()  # T = 50; 10 DDIM steps: t = 50, 45, ..., 5
    y, net = np.array([1, 2, 3]), training.OnNumpy(unet, bf16=False)
    run = _Counting(unet)
    full = sampling.sample_diffusion(run, sched, y, steps=10, guidance=3, seed=1)
    assert [b for _, b in run.batches] == [6] * 10
    run.batches.clear()
    limited = sampling.sample_diffusion(run, sched, y, steps=10, guidance=3, seed=1, interval=(0.2, 0.7))
    assert [t for t, b in run.batches if b == 6] == [35, 30, 25, 20, 15, 10]  # 0.2·50 <= t <= 0.7·50
    assert all(b == 3 for t, b in run.batches if not 10 <= t <= 35)  # the conditional model alone
    assert np.array_equal(
        full, sampling.sample_diffusion(net, sched, y, steps=10, guidance=3, seed=1, interval=(0.0, 1.0))
    )
    nowhere = sampling.sample_diffusion(net, sched, y, steps=10, guidance=3, seed=1, interval=(0.0, 0.0))
    assert np.array_equal(nowhere, sampling.sample_diffusion(net, sched, y, steps=10, guidance=0, seed=1))
    assert not np.array_equal(limited, full) and not np.array_equal(limited, nowhere)


def test_a_generator_takes_the_interval_from_its_card_or_the_call(diffusion_file, tmp_path):
    gen = DoodleGenerator(diffusion_file, engine="torch")
    assert gen.check_interval(None) == (0.0, 1.0) == gen.config.guidance_interval
    a = gen("circle", n=4, seed=2, steps=10, guidance=3, interval=(0.3, 0.8))
    assert not np.array_equal(a, gen("circle", n=4, seed=2, steps=10, guidance=3))
    gen.config.guidance_interval = (0.3, 0.8)  # as a card stores it (ship_generator --guidance-interval)
    path = files.save_model(tmp_path / "d.safetensors", "diffusion", gen.net, gen.config)
    again = DoodleGenerator(path, engine="torch")
    assert again.config.guidance_interval == (0.3, 0.8)
    assert np.array_equal(a, again("circle", n=4, seed=2, steps=10, guidance=3))
    for bad in [(0.5, 0.2), (-0.1, 1.0), (0.0, 1.5), (0.1,), (0.0, float("nan"))]:
        with pytest.raises(DataError, match="guidance interval"):
            gen("circle", n=1, interval=bad)


def test_a_generator_takes_eta_from_its_card_or_the_call(diffusion_file, tmp_path):
    gen = DoodleGenerator(diffusion_file, engine="torch")
    assert gen.config.eta == 0.0 == gen.check_eta(None)
    deterministic = gen("circle", n=4, seed=2, steps=10)
    noisy = gen("circle", n=4, seed=2, steps=10, eta=1.0)
    assert not np.array_equal(noisy, deterministic)  # fresh noise at every step
    assert np.array_equal(noisy, gen("circle", n=4, seed=2, steps=10, eta=1.0))  # the seed fixes it too
    gen.config.eta = 1.0  # as a card stores it (ship_generator --eta)
    again = DoodleGenerator(
        files.save_model(tmp_path / "d.safetensors", "diffusion", gen.net, gen.config), engine="torch"
    )
    assert again.config.eta == 1.0 and np.array_equal(noisy, again("circle", n=4, seed=2, steps=10))
    assert np.array_equal(deterministic, again("circle", n=4, seed=2, steps=10, eta=0.0))
    for bad in (-0.1, 1.5, float("nan"), "1"):
        with pytest.raises(DataError, match="eta must be from 0 to 1"):
            gen("circle", n=1, eta=bad)


def test_training_writes_model_card_grids_and_checkpoint(diffusion_file):
    out = diffusion_file.parent
    assert (out / "samples_000003.png").is_file() and (out / "samples_000006.png").is_file()
    assert (out / "curves.png").is_file() and (out / "last.safetensors").is_file()
    card = modelfile.load_card(diffusion_file)
    assert card["kind"] == "diffusion" and card["steps_trained"] == 6 and len(card["classes"]) == 345
    assert "CC BY 4.0" in card["attribution"] and card["config"]["timesteps"] == 50
    assert len(card["history"]["loss"]) == 2


def test_resumed_training_equals_uninterrupted(shapes_data, tmp_path):
    data, cache = shapes_data
    kw = dict(root=data / "quickdraw", cache_root=cache, progress=False)
    diffusion.train(tiny_diffusion(), tmp_path / "a", **kw)
    diffusion.train(tiny_diffusion(), tmp_path / "b", until_step=3, **kw)  # a pause after one checkpoint
    diffusion.train(tiny_diffusion(), tmp_path / "b", **kw)
    a, _ = modelfile.load(tmp_path / "a" / "diffusion.safetensors")
    b, _ = modelfile.load(tmp_path / "b" / "diffusion.safetensors")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_generator_file_round_trip(diffusion_file):
    gen = DoodleGenerator(diffusion_file)
    images = gen("circle", n=3, seed=4, steps=4)
    assert images.shape == (3, 28, 28) and images.dtype == np.uint8
    assert np.array_equal(images, gen("Circle", n=3, seed=4, steps=4))
    frames = []
    gen("circle", n=2, seed=4, steps=4, frames=lambda i, x0: frames.append(x0))
    assert len(frames) == 4 and frames[-1].shape == (2, 28, 28)
    assert np.array_equal(files.to_uint8(files.from_uint8(images)), images)


def test_fine_tune_starts_from_a_model_file(diffusion_file, tmp_path):
    """The shipped file keeps only the EMA weights: a run starts from them with a fresh optimizer."""
    config = tiny_diffusion(lr=3e-4, steps=4)
    target = diffusion.start_from_model(diffusion_file, tmp_path / "run", config)
    before, _ = modelfile.load(diffusion_file)
    stored, meta = modelfile.load(target)
    assert all(
        np.array_equal(stored["unet." + k], v) and np.array_equal(stored["ema.model." + k], v)
        for k, v in before.items()
    )
    assert not any(k.startswith("optimizer.") for k in stored)  # AdamW has no moments yet
    start = meta["state"]["warm_starts"][0]
    assert meta["state"]["step"] == 0 and start["steps_trained"] == 6  # the fixture's training
    assert start["was"] == {"lr": 1e-3, "steps": 6} and start["now"] == {"lr": 3e-4, "steps": 4}
    assert start["history"] == modelfile.load_card(diffusion_file)["history"]  # its training stays on record
    assert start["history"]["step"] == [3, 6]
    with pytest.raises(modelfile.ModelFileError, match="widths"):
        diffusion.start_from_model(diffusion_file, tmp_path / "other", tiny_diffusion(widths=(8, 8, 8)))
