"""Noise schedules and the DDPM/DDIM update rules: plain NumPy math, no network inside (as in diffusers'
schedulers), so sampling runs without PyTorch. Time runs t = 0 (data) .. T (noise), as in Ho et al. 2020."""

from __future__ import annotations

import numpy as np

SCHEDULES = ("linear", "rescaled-linear", "cosine")


def make_betas(schedule: str, steps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> np.ndarray:
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
        return np.linspace(beta_start, beta_end, steps, dtype=np.float64)
    if schedule == "rescaled-linear":
        scale = 1000 / steps
        return np.linspace(scale * beta_start, scale * beta_end, steps, dtype=np.float64)
    if schedule == "cosine":
        s = 0.008
        t = np.arange(steps + 1, dtype=np.float64) / steps
        f = np.cos((t + s) / (1 + s) * np.pi / 2) ** 2
        return np.minimum(1 - f[1:] / f[:-1], 0.999)
    raise ValueError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")


class NoiseScheduler:
    """The forward process q(x_t | x_0) and the reverse updates for a schedule of T steps.

    `alphas_cumprod[t]` is alpha_bar_t for t = 0..T (float64, shape (T + 1,); index 0 is the clean image,
    alpha_bar_0 = 1). `step` works on NumPy arrays (sampling); `add_noise` also on torch tensors (training).
    """

    def __init__(self, schedule: str = "cosine", steps: int = 1000) -> None:
        self.schedule, self.num_steps = schedule, steps
        self.betas = make_betas(schedule, steps)
        self.alphas_cumprod = np.concatenate([[1.0], np.cumprod(1 - self.betas)])

    def log_snr(self) -> np.ndarray:
        """log(alpha_bar_t / (1 - alpha_bar_t)) for t = 1..T, shape (T,): the signal-to-noise ratio."""
        ab = self.alphas_cumprod[1:]
        return np.log(ab) - np.log1p(-ab)

    def _ab(self, t, like):
        """alpha_bar_t as an array of `like`'s kind, dtype and device (NumPy or torch), shaped to broadcast
        against it: t an int gives a scalar, t of shape (B,) gives (B, 1, 1, 1)."""
        if isinstance(like, np.ndarray):
            ab = self.alphas_cumprod[np.asarray(t)].astype(like.dtype)
        else:  # a torch tensor (training): the same table on its device
            import torch

            ab = torch.as_tensor(self.alphas_cumprod, device=like.device)[t].to(like.dtype)
        return ab.reshape(-1, *([1] * (like.ndim - 1))) if ab.ndim else ab

    def add_noise(self, x0, noise, t):
        """x_t = sqrt(ab_t) x_0 + sqrt(1 - ab_t) eps (Ho et al. 2020 eq. 4). x0, noise: (B, C, H, W) arrays
        or tensors; t: an int or (B,) of them."""
        ab = self._ab(t, x0)
        return ab**0.5 * x0 + (1 - ab) ** 0.5 * noise

    def timesteps(self, steps: int) -> list[tuple[int, int]]:
        """`steps` (t, t_prev) pairs from T down to 0, evenly spaced ("trailing": the first t is T itself,
        where alpha_bar_T ~ 0, so sampling starts from the distribution it was trained on): t_i is
        round(T·(steps - i) / steps), computed exactly, halves to even."""
        if not 1 <= steps <= self.num_steps:
            raise ValueError(f"steps must be in [1, {self.num_steps}], got {steps}")
        ts = np.rint(np.arange(steps, -1, -1) * self.num_steps / steps).astype(int).tolist()
        return list(zip(ts[:-1], ts[1:]))

    def predict_x0(self, x_t, eps, t):
        """x_0 from x_t and the predicted noise: (x_t - sqrt(1 - ab_t) eps) / sqrt(ab_t) (eq. 4 solved).
        x_t, eps: (B, C, H, W) arrays or tensors, as `add_noise` takes them; t: an int or (B,) of them."""
        ab = self._ab(t, x_t)
        return (x_t - (1 - ab) ** 0.5 * eps) / ab**0.5

    def step(
        self,
        eps: np.ndarray,
        t: int,
        t_prev: int,
        x_t: np.ndarray,
        eta: float = 0.0,
        rng: np.random.Generator | None = None,
        clip: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """One reverse update x_t -> x_{t_prev}; returns (x_{t_prev}, predicted x_0), both (B, C, H, W).

        This is DDIM (Song et al. 2021 eq. 12):
            x_prev = sqrt(ab_prev) x0 + sqrt(1 - ab_prev - sigma²) eps + sigma z,
            sigma  = eta · sqrt((1 - ab_prev) / (1 - ab_t)) · sqrt(1 - ab_t / ab_prev)   (their eq. 16).
        eta = 0 is the deterministic DDIM sampler; eta = 1 with t_prev = t - 1 is exactly DDPM's ancestral
        step with the posterior variance beta~_t (Ho et al. 2020 eqs. 6-7 and 11). z ~ N(0, I) comes from
        `rng` (needed when eta > 0).
        x0 is clipped to the data range [-1, 1] and eps recomputed from it, as improved-diffusion does.
        """
        ab, ab_prev = self._ab(t, x_t), self._ab(t_prev, x_t)
        x0 = self.predict_x0(x_t, eps, t)
        if clip:
            x0 = np.clip(x0, -1, 1)
            eps = (x_t - np.sqrt(ab) * x0) / np.sqrt(1 - ab)
        sigma = eta * np.sqrt(np.maximum((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev), 0))
        x_prev = np.sqrt(ab_prev) * x0 + np.sqrt(np.maximum(1 - ab_prev - sigma**2, 0)) * eps
        if eta > 0 and t_prev > 0:
            x_prev = x_prev + sigma * rng.standard_normal(x_t.shape, dtype=x_t.dtype)
        return x_prev.astype(x_t.dtype), x0
