"""Fixtures of the generator tests: tiny diffusion and GAN models trained once per session on the synthetic
four-shape data (real files, real training loop; a few steps, so they run without the dataset)."""

from __future__ import annotations

import pytest

from doodlelab.generative.config import DiffusionConfig, GANConfig
from tests.classifier.conftest import SHAPES, shapes_data  # noqa: F401, F811


def tiny_diffusion(**changes) -> DiffusionConfig:
    values = dict(
        categories=SHAPES,
        widths=(8, 8, 16),
        emb_dim=16,
        timesteps=50,
        steps=6,
        batch_size=16,
        warmup=2,
        checkpoint_every=3,
        threads=1,
    )
    return DiffusionConfig(**(values | changes))


def tiny_gan(**changes) -> GANConfig:
    values = dict(
        categories=SHAPES,
        z_dim=8,
        embed_dim=4,
        g_width=16,
        d_width=8,
        steps=6,
        batch_size=16,
        checkpoint_every=3,
        threads=1,
    )
    return GANConfig(**(values | changes))


@pytest.fixture
def float32_torch(monkeypatch):
    """PyTorch sampling in float32, as the ONNX export runs (on a CPU with AVX-512 BF16 it would use
    bfloat16, whose rounding moves samples far more than float32's)."""
    from doodlelab.generative import training

    monkeypatch.setattr(training, "bf16_supported", lambda kind: False)


def _trained(kind: str, config, data_dirs, tmp_path_factory):
    """Train `kind` (diffusion or gan) on the shapes for `config`; the path of its model file."""
    import importlib

    data, cache = data_dirs
    out = tmp_path_factory.mktemp(kind)
    module = "diffusion" if kind == "diffusion" else "gan_training"
    importlib.import_module(f"doodlelab.generative.{module}").train(
        config, out, root=data / "quickdraw", cache_root=cache, progress=False
    )
    return out / f"{kind}.safetensors"


@pytest.fixture(scope="session")
def diffusion_file(shapes_data, tmp_path_factory):  # noqa: F811
    """Path of a tiny trained diffusion model file (diffusion.safetensors + card)."""
    return _trained("diffusion", tiny_diffusion(), shapes_data, tmp_path_factory)


@pytest.fixture(scope="session")
def gan_file(shapes_data, tmp_path_factory):  # noqa: F811
    """Path of a tiny trained GAN file (gan.safetensors + card)."""
    return _trained("gan", tiny_gan(), shapes_data, tmp_path_factory)
