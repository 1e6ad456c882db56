"""The noise scheduler: schedules, the forward process and the DDPM/DDIM updates, as plain NumPy math
(add_noise also on the torch tensors of training)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from doodlelab.generative.config import DiffusionConfig
from doodlelab.generative.scheduler import NoiseScheduler, make_betas

RNG = np.random.default_rng(0)


def rand(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape, dtype=np.float32)


def test_shipped_schedule_ends_in_pure_noise():
    config = DiffusionConfig()
    ab = NoiseScheduler(config.schedule, config.timesteps).alphas_cumprod
    assert ab[0] == 1.0 and ab[-1] < 1e-4 and ab.dtype == np.float64
    assert np.all(ab[1:] < ab[:-1])  # signal strictly decreases


def test_seed_failure_mode_reproduced_and_fixed_by_rescaling():
    # The seed's setting: the linear schedule made for T=1000 used at T=300 keeps 5% of the signal at T.
    assert NoiseScheduler("linear", 300).alphas_cumprod[-1] == pytest.approx(0.048, abs=0.002)
    assert NoiseScheduler("rescaled-linear", 300).alphas_cumprod[-1] < 1e-4
    assert NoiseScheduler("linear", 1000).alphas_cumprod[-1] < 1e-4


def test_cosine_betas_follow_nichol_dhariwal():
    betas = make_betas("cosine", 1000)
    assert betas.max() <= 0.999 and betas.min() > 0
    s = 0.008
    f = lambda t: np.cos((t / 1000 + s) / (1 + s) * np.pi / 2) ** 2  # noqa: E731
    ab = NoiseScheduler("cosine", 1000).alphas_cumprod
    assert float(ab[500]) == pytest.approx(f(500) / f(0), rel=1e-9)


def test_add_noise_at_t0_returns_input_and_matches_eq4():
    sched = NoiseScheduler("cosine", 100)
    x0, noise = np.clip(rand(4, 1, 28, 28), -1, 1), rand(4, 1, 28, 28)
    assert np.array_equal(sched.add_noise(x0, noise, 0), x0)
    t = np.array([1, 30, 70, 100])
    ab = sched.alphas_cumprod[t].astype(np.float32).reshape(-1, 1, 1, 1)
    got = sched.add_noise(x0, noise, t)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, np.sqrt(ab) * x0 + np.sqrt(1 - ab) * noise, atol=1e-6)


def test_add_noise_on_torch_tensors_as_training_calls_it():
    torch = pytest.importorskip("torch")
    sched = NoiseScheduler("cosine", 100)
    x0, noise = np.clip(rand(4, 1, 28, 28), -1, 1), rand(4, 1, 28, 28)
    t = np.array([1, 30, 70, 100])
    got = sched.add_noise(torch.from_numpy(x0), torch.from_numpy(noise), torch.from_numpy(t))
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), sched.add_noise(x0, noise, t), atol=1e-6)


def test_predict_x0_inverts_add_noise_on_tensors_without_numpy_warnings():
    torch = pytest.importorskip("torch")
    sched = NoiseScheduler("cosine", 100)
    x0, noise = torch.from_numpy(np.clip(rand(2, 1, 8, 8), -1, 1)), torch.from_numpy(rand(2, 1, 8, 8))
    x_t = sched.add_noise(x0, noise, 50)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # np.sqrt of a tensor warned (__array_wrap__) under NumPy 2
        got = sched.predict_x0(x_t, noise, 50)
    assert isinstance(got, torch.Tensor)
    torch.testing.assert_close(got, x0, atol=1e-5, rtol=0)


def test_timesteps_start_at_T_and_end_at_0():
    sched = NoiseScheduler("cosine", 1000)
    pairs = sched.timesteps(50)
    assert pairs[0][0] == 1000 and pairs[-1][1] == 0 and len(pairs) == 50
    assert all(a > b for a, b in pairs)
    assert [p[0] for p in sched.timesteps(1000)] == list(range(1000, 0, -1))
    exact_half = [t for t, _ in NoiseScheduler("cosine", 300).timesteps(72)]  # 300·21/72 = 87.5
    assert 88 in exact_half and 87 not in exact_half  # rounded half to even, not by float error
    for bad in (0, 1001):
        with pytest.raises(ValueError, match="steps must be in"):
            sched.timesteps(bad)


def test_ddim_with_the_true_noise_recovers_x0_exactly():
    sched = NoiseScheduler("cosine", 1000)
    x0, eps = np.clip(rand(3, 1, 28, 28), -1, 1), rand(3, 1, 28, 28)
    xt = sched.add_noise(x0, eps, 600)
    x_prev, x0_pred = sched.step(eps, 600, 0, xt, eta=0.0)
    np.testing.assert_allclose(x0_pred, x0, atol=1e-5, rtol=0)
    np.testing.assert_allclose(x_prev, x0, atol=1e-5, rtol=0)
    # and to an intermediate time: exactly the forward process with the same noise (Song et al. eq. 12)
    x_mid, _ = sched.step(eps, 600, 300, xt, eta=0.0)
    np.testing.assert_allclose(x_mid, sched.add_noise(x0, eps, 300), atol=1e-5, rtol=0)
    assert x_mid.dtype == np.float32


def test_eta1_single_step_is_ddpm_posterior():
    """eta = 1 and t_prev = t - 1: mean and variance of q(x_{t-1} | x_t, x_0) (Ho et al. eqs. 6-7)."""
    sched = NoiseScheduler("linear", 1000)
    t = 400
    x0, eps = np.clip(rand(1, 1, 28, 28), -1, 1), rand(1, 1, 28, 28)
    xt = sched.add_noise(x0, eps, t)
    ab, ab_prev, beta = (
        float(v) for v in (sched.alphas_cumprod[t], sched.alphas_cumprod[t - 1], sched.betas[t - 1])
    )
    mean = (ab_prev**0.5 * beta / (1 - ab)) * x0 + ((1 - beta) ** 0.5 * (1 - ab_prev) / (1 - ab)) * xt
    var = (1 - ab_prev) / (1 - ab) * beta
    draws = np.stack(
        [sched.step(eps, t, t - 1, xt, eta=1.0, rng=np.random.default_rng(i))[0] for i in range(400)]
    )
    np.testing.assert_allclose(draws.mean(0), mean, atol=4 * var**0.5 / 20 + 1e-4, rtol=0)
    assert float(draws.var(0).mean()) == pytest.approx(var, rel=0.1)


def test_step_clips_predicted_x0_to_data_range():
    sched = NoiseScheduler("cosine", 1000)
    xt = np.full((1, 1, 4, 4), 5.0, dtype=np.float32)
    _, x0 = sched.step(np.zeros_like(xt), 10, 9, xt)
    assert x0.max() <= 1 and x0.min() >= -1


def test_unknown_schedule_is_refused():
    with pytest.raises(ValueError, match="unknown schedule"):
        make_betas("quadratic", 10)
