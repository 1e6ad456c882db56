"""The diffusion model's two short loops: training (predict the added noise, Ho et al. 2020 Algorithm 1,
with labels dropped for classifier-free guidance) and sampling (scheduler steps with guided noise)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from doodlelab import checkpoints
from doodlelab.data.categories import categories
from doodlelab.generative import files, training
from doodlelab.generative.config import DiffusionConfig
from doodlelab.generative.scheduler import NoiseScheduler
from doodlelab.generative.unet import UNet
from doodlelab.lr_schedules import lr_at

SAMPLERS = ("ddim", "ddpm")


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


def guided_eps(unet: torch.nn.Module, x: torch.Tensor, t: int, labels: torch.Tensor, guidance: float,
               bf16: bool = False) -> torch.Tensor:
    """Classifier-free guidance (Ho & Salimans 2022 eq. 6): eps~ = (1 + w) eps(x, c) - w eps(x, no label).
    Both branches run as one batch of 2B. x: (B, 1, H, W), labels: (B,) -> (B, 1, H, W)."""
    b = len(x)
    tt = torch.full((b,), t, dtype=torch.long, device=x.device)
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
        if guidance == 0:
            return unet(x, tt, labels).float()
        null = torch.full_like(labels, unet.num_classes)
        eps = unet(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([labels, null])).float()
    cond, uncond = eps.chunk(2)
    return (1 + guidance) * cond - guidance * uncond


@torch.no_grad()
def sample(unet: torch.nn.Module, scheduler: NoiseScheduler, labels: torch.Tensor, steps: int = 50,
           guidance: float = 2, sampler: str = "ddim", eta: float = 0.0, seed: int = 0,
           bf16: bool | None = None, callback: Callable[[int, torch.Tensor], None] | None = None,
           interval: tuple[float, float] = (0.0, 1.0)) -> torch.Tensor:
    """Images (B, 1, 28, 28) in [-1, 1] for `labels` (B,). DDIM with `steps` steps (eta = 0: deterministic),
    or DDPM: ancestral sampling over all T steps (`steps` ignored). `callback(i, x0)` sees each step's
    predicted clean image (the denoising animation). The same seed gives the same images.

    Guidance applies only while lo <= t/T <= hi for `interval` (lo, hi) (Kynkäänniemi et al. 2024,
    "Applying guidance in a limited interval"): at the noisiest steps it pulls every sample of a class
    towards one layout, at the cleanest it only sharpens; elsewhere the conditional model runs alone
    (one batch of B instead of 2B)."""
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)}, not {sampler!r}")
    if sampler == "ddpm":
        steps, eta = scheduler.num_steps, 1.0
    dev = next((p.device for p in unet.parameters()), torch.device("cpu"))  # OnnxUNet: none, the CPU
    bf16 = training.bf16_supported(dev.type) if bf16 is None else bf16
    generator = torch.Generator().manual_seed(seed)
    unet.eval()
    labels = labels.to(dev)
    x = torch.randn((len(labels), 1, 28, 28), generator=generator).to(dev)  # x_T ~ N(0, I)
    lo, hi = interval[0] * scheduler.num_steps, interval[1] * scheduler.num_steps
    for i, (t, t_prev) in enumerate(scheduler.timesteps(steps)):
        eps = guided_eps(unet, x, t, labels, guidance if lo <= t <= hi else 0.0, bf16)
        x, x0 = scheduler.step(eps, t, t_prev, x, eta=eta, generator=generator)
        if callback is not None:
            callback(i, x0)
    return x.clamp(-1, 1)


def train(config: DiffusionConfig, out_dir: str | Path, root: Path | None = None,
          cache_root: Path | None = None, progress: bool = True, resume: bool = True,
          until_step: int | None = None, measure: Callable[[training.SampleFn], float] | None = None) -> dict:
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
        x = sample(ema.model, scheduler, torch.from_numpy(labels), steps=25, guidance=config.guidance,
                   eta=config.eta, seed=0, interval=config.guidance_interval)
        return files.to_uint8(x.cpu())

    return training.fit("diffusion", config, out_dir, parts, ema.model, step_fn, sample_fn, root, cache_root,
                        progress, resume, until_step, measure)
