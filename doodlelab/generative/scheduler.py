"""Noise schedules and the DDPM/DDIM update rules: plain tensor math, no network inside (as in diffusers'
schedulers). Time runs t = 0 (data) .. T (noise), as in Ho et al. 2020, so `alphas_cumprod[0] == 1`."""

from __future__ import annotations

import math

import torch

SCHEDULES = ("linear", "rescaled-linear", "cosine")


def make_betas(schedule: str, steps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """beta_1..beta_T (float64, shape (T,)) for a named schedule.

    linear: Ho et al. 2020 §4, beta from 1e-4 to 0.02, chosen for T = 1000. At a smaller T it leaves
        alpha_bar_T far from 0 (T = 300: 0.05), so sampling would start from the wrong distribution.
    rescaled-linear: the same endpoints times 1000 / T (improved-diffusion's `get_named_beta_schedule`),
        which keeps alpha_bar_T ~ 0 for any T.
    cosine: Nichol & Dhariwal 2021 eq. 17, alpha_bar(t) = f(t) / f(0), f(t) = cos²((t/T + s)/(1 + s) · π/2),
        s = 0.008; beta_t = 1 - alpha_bar(t)/alpha_bar(t-1), clipped at 0.999 (their eq. 17 and §3.2).
    """
    if steps < 1:
        raise ValueError(f"a schedule needs at least one step, got {steps}")
    if schedule == "linear":
        return torch.linspace(beta_start, beta_end, steps, dtype=torch.float64)
    if schedule == "rescaled-linear":
        scale = 1000 / steps
        return torch.linspace(scale * beta_start, scale * beta_end, steps, dtype=torch.float64)
    if schedule == "cosine":
        s = 0.008
        t = torch.arange(steps + 1, dtype=torch.float64) / steps
        f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
        return (1 - f[1:] / f[:-1]).clamp(max=0.999)
    raise ValueError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")


class NoiseScheduler:
    """The forward process q(x_t | x_0) and the reverse updates for a schedule of T steps.

    `alphas_cumprod[t]` is alpha_bar_t for t = 0..T (index 0 is the clean image, alpha_bar_0 = 1).
    """

    def __init__(self, schedule: str = "cosine", steps: int = 1000) -> None:
        self.schedule, self.num_steps = schedule, steps
        self.betas = make_betas(schedule, steps)
        self.alphas_cumprod = torch.cat(
            [torch.ones(1, dtype=torch.float64), torch.cumprod(1 - self.betas, 0)]
        )

    def log_snr(self) -> torch.Tensor:
        """log(alpha_bar_t / (1 - alpha_bar_t)) for t = 1..T, shape (T,): the signal-to-noise ratio."""
        ab = self.alphas_cumprod[1:]
        return torch.log(ab) - torch.log1p(-ab)

    def _ab(self, t: torch.Tensor | int, like: torch.Tensor) -> torch.Tensor:
        """alpha_bar_t broadcast against `like` (t: int or (B,) long)."""
        ab = self.alphas_cumprod[torch.as_tensor(t).long().cpu()].to(like.device, like.dtype)
        return ab.reshape(-1, *([1] * (like.dim() - 1))) if ab.dim() else ab

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor | int) -> torch.Tensor:
        """x_t = sqrt(ab_t) x_0 + sqrt(1 - ab_t) eps (Ho et al. 2020 eq. 4). x0, noise: (B, C, H, W)."""
        ab = self._ab(t, x0)
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def timesteps(self, steps: int) -> list[tuple[int, int]]:
        """`steps` (t, t_prev) pairs from T down to 0, evenly spaced ("trailing": the first t is T itself,
        where alpha_bar_T ~ 0, so sampling starts from the distribution it was trained on)."""
        if not 1 <= steps <= self.num_steps:
            raise ValueError(f"steps must be in [1, {self.num_steps}], got {steps}")
        ts = torch.linspace(self.num_steps, 0, steps + 1).round().long().tolist()
        return list(zip(ts[:-1], ts[1:]))

    def predict_x0(self, x_t: torch.Tensor, eps: torch.Tensor, t: int) -> torch.Tensor:
        """x_0 from x_t and the predicted noise: (x_t - sqrt(1 - ab_t) eps) / sqrt(ab_t) (eq. 4 solved)."""
        ab = self._ab(t, x_t)
        return (x_t - (1 - ab).sqrt() * eps) / ab.sqrt()

    def step(self, eps: torch.Tensor, t: int, t_prev: int, x_t: torch.Tensor, eta: float = 0.0,
             generator: torch.Generator | None = None,
             clip: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """One reverse update x_t -> x_{t_prev}; returns (x_{t_prev}, predicted x_0), both (B, C, H, W).

        This is DDIM (Song et al. 2021 eq. 12):
            x_prev = sqrt(ab_prev) x0 + sqrt(1 - ab_prev - sigma²) eps + sigma z,
            sigma  = eta · sqrt((1 - ab_prev) / (1 - ab_t)) · sqrt(1 - ab_t / ab_prev)   (their eq. 16).
        eta = 0 is the deterministic DDIM sampler; eta = 1 with t_prev = t - 1 is exactly DDPM's ancestral
        step with the posterior variance beta~_t (Ho et al. 2020 eqs. 6-7 and 11).
        x0 is clipped to the data range [-1, 1] and eps recomputed from it, as improved-diffusion does.
        """
        ab, ab_prev = self._ab(t, x_t), self._ab(t_prev, x_t)
        x0 = self.predict_x0(x_t, eps, t)
        if clip:
            x0 = x0.clamp(-1, 1)
            eps = (x_t - ab.sqrt() * x0) / (1 - ab).sqrt()
        sigma = eta * ((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev)).clamp(min=0).sqrt()
        x_prev = ab_prev.sqrt() * x0 + (1 - ab_prev - sigma**2).clamp(min=0).sqrt() * eps
        if eta > 0 and t_prev > 0:
            z = torch.randn(x_t.shape, generator=generator, dtype=x_t.dtype).to(x_t.device)
            x_prev = x_prev + sigma * z
        return x_prev, x0
