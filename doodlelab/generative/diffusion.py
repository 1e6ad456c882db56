"""Training the diffusion model: predict the added noise (Ho et al. 2020 Algorithm 1), with labels dropped
for classifier-free guidance. Its sampling loop, on NumPy arrays without PyTorch, is `sampling`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from doodlelab import checkpoints
from doodlelab.data.categories import categories
from doodlelab.generative import files, sampling, training
from doodlelab.generative.config import DiffusionConfig
from doodlelab.generative.scheduler import NoiseScheduler
from doodlelab.generative.unet import UNet
from doodlelab.lr_schedules import lr_at


def build(config: DiffusionConfig) -> tuple[UNet, NoiseScheduler]:
    unet = UNet(len(categories()), config.widths, config.blocks, config.emb_dim, config.dropout)
    return unet, NoiseScheduler(config.schedule, config.timesteps)


def build_parts(config: DiffusionConfig) -> tuple[dict[str, checkpoints.Part], NoiseScheduler]:
    """Everything a run trains and checkpoints (the U-Net, its EMA and AdamW), and the noise schedule."""
    unet, scheduler = build(config)
    unet.to(training.device())
    optimizer = torch.optim.AdamW(unet.parameters(), lr=config.lr, weight_decay=0.0)
    return {"unet": unet, "ema": training.EMA(unet, config.ema), "optimizer": optimizer}, scheduler


def start_from_model(weights: str | Path, out_dir: str | Path, config: DiffusionConfig) -> Path:
    """Begin a run in `out_dir` from a trained model file (e.g. the shipped one, which keeps only the EMA
    weights): a fine-tune with a fresh optimizer and `config`'s schedule of learning rates."""
    torch.manual_seed(config.seed)
    keep = ("widths", "blocks", "emb_dim", "schedule", "timesteps", "categories")
    parts, _ = build_parts(config)
    return training.start_from_file("diffusion", weights, out_dir, config, parts, "unet", keep)


def train(
    config: DiffusionConfig,
    out_dir: str | Path,
    root: Path | None = None,
    cache_root: Path | None = None,
    progress: bool = True,
    resume: bool = True,
    until_step: int | None = None,
    measure: Callable[[training.SampleFn], float] | None = None,
) -> dict:
    """Train eps_theta with the simple loss ||eps - eps_theta(sqrt(ab_t) x0 + sqrt(1 - ab_t) eps, t, y)||²
    (Ho et al. 2020 eq. 14); labels become "no label" with probability p_uncond (Ho & Salimans 2022 §3.2)."""
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    parts, scheduler = build_parts(config)
    unet, ema, optimizer = parts["unet"], parts["ema"], parts["optimizer"]

    def step_fn(step: int, x0: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        unet.train()
        lr = lr_at(step, config.steps, config.lr, "cosine", config.warmup)  # then floored at 10%
        lr = max(lr, 0.1 * config.lr) if step >= config.warmup else lr
        for group in optimizer.param_groups:
            group["lr"] = lr
        t = torch.randint(1, scheduler.num_steps + 1, (len(x0),), device=x0.device)
        noise = torch.randn_like(x0)
        y = torch.where(torch.rand(len(y), device=y.device) < config.p_uncond, unet.num_classes, y)
        with training.autocast(config.bf16):
            pred = unet(scheduler.add_noise(x0, noise, t), t, y)
        loss = F.mse_loss(pred.float(), noise)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        optimizer.step()
        ema.update(unet)
        return {"loss": float(loss.detach())}

    def sample_fn(labels: np.ndarray) -> np.ndarray:
        x = sampling.sample_diffusion(
            training.OnNumpy(ema.model),
            scheduler,
            labels,
            steps=25,
            guidance=config.guidance,
            eta=config.eta,
            seed=0,
            interval=config.guidance_interval,
        )
        return files.to_uint8(x)

    return training.fit(
        "diffusion",
        config,
        out_dir,
        parts,
        ema.model,
        step_fn,
        sample_fn,
        root,
        cache_root,
        progress,
        resume,
        until_step,
        measure,
    )
