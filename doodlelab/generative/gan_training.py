"""Training the class-conditional GAN (networks in `gan`): the hinge loss, PacGAN packing, an auxiliary
classifier and its twin (TAC-GAN), mode seeking, DiffAugment, TTUR, an EMA of G and warm starts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from doodlelab import checkpoints, modelfile
from doodlelab.config import ConfigError
from doodlelab.data.categories import categories
from doodlelab.generative import files, sampling, training
from doodlelab.generative.config import GANConfig
from doodlelab.generative.gan import Discriminator, build


def packed(x: torch.Tensor, pack: int) -> torch.Tensor:
    """(B, 1, H, W) -> (B / pack, pack, H, W): rows i, i + B/pack, ... become the channels of input i."""
    return torch.cat(x.chunk(pack), dim=1) if pack > 1 else x


def build_parts(config: GANConfig) -> dict[str, checkpoints.Part]:
    """Everything a run trains and checkpoints: G, D, the twin classifier, G's EMA and their optimizers."""
    g = build(config).to(training.device())
    d = Discriminator(len(categories()), config.d_width, config.pack, config.pair_weight > 0)
    d = d.to(training.device())
    twin, opt_twin = twin_classifier(config)
    opt_g = torch.optim.Adam(g.parameters(), lr=config.lr, betas=(0.0, 0.9))  # TTUR (Heusel et al. 2017)
    opt_d = torch.optim.Adam(d.parameters(), lr=config.d_lr, betas=(0.0, 0.9))
    return {
        "g": g,
        "d": d,
        "twin": twin,
        "ema": training.EMA(g, config.ema),
        "opt_g": opt_g,
        "opt_d": opt_d,
        "opt_twin": opt_twin,
    }


def mode_seeking(
    x1: torch.Tensor, x2: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor, eps: float = 0.05
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mode-seeking loss (Mao et al. 2019 eq. 3), per pair: drawings G(z1, y), G(z2, y) (B, 1, 28, 28) of one
    label should differ as much as their noise (B, z_dim) does. Averaging 1/(r + eps) over the pairs, rather
    than taking 1/r of the batch's mean ratio, weighs most the labels whose drawings have collapsed.
    Returns (loss, mean ratio r), both scalars."""
    ratio = (x1 - x2).float().abs().mean((1, 2, 3)) / (z1 - z2).float().abs().mean(1)
    return (1 / (ratio + eps)).mean(), ratio.mean()


def diff_augment(x: torch.Tensor, shift: int = 3, cut: int = 14) -> torch.Tensor:
    """Differentiable augmentation for both D's inputs (DiffAugment, Zhao et al. 2020): shift each image
    (B, 1, 28, 28) by up to `shift` px and blank a random `cut`×`cut` square to the background (-1). With
    only ~450 drawings per category, D would otherwise memorise them and G collapse onto a few."""
    b, _, h, w = x.shape
    i, j = torch.arange(h, device=x.device).view(1, h, 1), torch.arange(w, device=x.device).view(1, 1, w)
    dy, dx = (torch.randint(-shift, shift + 1, (2, b, 1, 1), device=x.device)).unbind(0)
    padded = F.pad(x, (shift,) * 4, value=-1.0)[:, 0]
    batch = torch.arange(b, device=x.device).view(b, 1, 1)
    shifted = padded[batch, i + dy + shift, j + dx + shift].unsqueeze(1)
    top, left = (torch.randint(-cut // 2, h - cut // 2, (2, b, 1, 1), device=x.device)).unbind(0)
    inside = (i >= top) & (i < top + cut) & (j >= left) & (j < left + cut)
    return torch.where(inside.unsqueeze(1), torch.full_like(shifted, -1.0), shifted)


def twin_classifier(config: GANConfig) -> tuple[nn.Linear, torch.optim.Adam]:
    """The twin classifier C' on D's features phi (B, 4w) -> logits (B, num_classes), and its optimizer.
    AC-GAN's CE(C(G(z, y)), y) alone rewards the easiest drawing of each label; G also maximizing the
    twin's loss cancels that pull (TAC-GAN, Gong et al. 2019 eq. 6)."""
    twin = nn.Linear(4 * config.d_width, len(categories())).to(training.device())
    return twin, torch.optim.Adam(twin.parameters(), lr=config.d_lr, betas=(0.0, 0.9))


def warm_start(checkpoint: str | Path, out_dir: str | Path, **changes: float) -> Path:
    """Begin a run in `out_dir` from another run's checkpoint with new loss settings (`changes`, e.g.
    twin=1.0): networks, optimizer states and history carry over, a twin classifier the old run lacked
    starts fresh, and the change is recorded in the run state (`warm_starts`). Returns the new checkpoint."""
    stored, meta = checkpoints.read(checkpoint, "gan")
    old = dict(meta["config"])
    config = GANConfig.from_dict(old | changes)
    if (config.pair_weight > 0) != (GANConfig.from_dict(old).pair_weight > 0):
        raise ConfigError("a warm start can reweigh D's pair head but not add or remove it")
    arrays, groups, state = dict(stored), dict(meta["param_groups"]), dict(meta["state"])
    if not any(k.startswith("twin.") for k in arrays):
        twin, opt_twin = twin_classifier(config)
        arrays.update(checkpoints.arrays(twin.state_dict(), "twin."))
        groups["opt_twin"] = opt_twin.state_dict()["param_groups"]
    was = {k: old.get(k) for k in changes}
    state["warm_starts"] = [
        *state.get("warm_starts", []),
        {"step": state["step"], "from": str(checkpoint), "was": was, "now": changes},
    ]
    target = Path(out_dir) / training.LAST
    modelfile.save(
        target, arrays, metadata=meta | {"config": config.to_dict(), "state": state, "param_groups": groups}
    )
    return target


def start_from_generator(weights: str | Path, out_dir: str | Path, config: GANConfig) -> Path:
    """Begin a run in `out_dir` whose G (live and EMA) is a trained generator file's (e.g. the shipped one,
    whose D was not kept), with a fresh D for `config`: a fine-tune with new D settings such as `pack`.
    `config.d_warmup` steps then train D alone. Returns the new checkpoint; refuses another G layout."""
    torch.manual_seed(config.seed)
    keep = ("z_dim", "embed_dim", "g_width", "categories")
    return training.start_from_file("gan", weights, out_dir, config, build_parts(config), "g", keep)


def train(
    config: GANConfig,
    out_dir: str | Path,
    root: Path | None = None,
    cache_root: Path | None = None,
    progress: bool = True,
    resume: bool = True,
    until_step: int | None = None,
    measure: Callable[[training.SampleFn], float] | None = None,
) -> dict:
    """Alternate one discriminator and one generator step with the hinge loss (Lim & Ye 2017):
    L_D = E[relu(1 - D(x, y))] + E[relu(1 + D(G(z, y), y))] + a·CE(C(x), y),  L_C' = CE(C'(G(z, y)), y),
    L_G = -E[D(G(z, y), y)] + a·(CE(C(G(z, y)), y) - t·CE(C'(G(z, y)), y)) + m·E[1/(r + 0.05)], r the
    mode-seeking ratio below. The auxiliary classifier C learns from real drawings, its twin C' from fakes.
    With pack = 2, D, C and C' see same-label pairs: two real drawings, or G(z1, y) with G(z2, y). With
    pair_weight p > 0, D's pair head P adds p·(E[relu(1 - P(x1, x2))] + E[relu(1 + P(G(z1, y), G(z2, y)))])
    to L_D and -p·E[P(G(z1, y), G(z2, y))] to L_G."""
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    parts = build_parts(config)
    g, d, twin, ema = parts["g"], parts["d"], parts["twin"], parts["ema"]
    opt_g, opt_d, opt_twin = parts["opt_g"], parts["opt_d"], parts["opt_twin"]
    aug = diff_augment if config.augment else nn.Identity()

    def see(x: torch.Tensor) -> torch.Tensor:  # what D is shown of a batch (B, 1, 28, 28)
        return packed(aug(x), config.pack)

    def step_fn(step: int, real: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        g.train()
        d.train()
        z = torch.randn(len(y), config.z_dim, device=y.device)
        half = len(y) // 2
        y_fake = torch.cat([y[:half], y[:half], y[2 * half :]])  # pairs: one label, two noise vectors
        y_real, y_seen = y[: len(y) // config.pack], y_fake[: len(y) // config.pack]  # labels of D's inputs
        warming = step < config.d_warmup  # a fresh D first catches up with a trained G: G waits
        with training.autocast(config.bf16):
            with torch.set_grad_enabled(not warming):
                fake = g(z, y_fake)
            seen_real, seen_fake = see(real), see(fake)
            h_real, h_fake = d.features(seen_real), d.features(seen_fake.detach())
            adv_d = F.relu(1 - d.score(h_real, y_real)).mean() + F.relu(1 + d.score(h_fake, y_seen)).mean()
            aux_d = F.cross_entropy(d.classify(h_real).float(), y_real)
            if config.pair_weight:
                adv_d = adv_d + config.pair_weight * (
                    F.relu(1 - d.pair_score(h_real, y_real)).mean()
                    + F.relu(1 + d.pair_score(h_fake, y_seen)).mean()
                )
            twin_d = F.cross_entropy(twin(h_fake.detach()).float(), y_seen)  # C' alone learns from this
        opt_d.zero_grad(set_to_none=True)
        opt_twin.zero_grad(set_to_none=True)
        (adv_d.float() + config.aux_weight * aux_d + twin_d).backward()
        opt_d.step()
        opt_twin.step()
        with training.autocast(config.bf16), torch.set_grad_enabled(not warming):
            h_fake = d.features(seen_fake)
            adv_g = -d.score(h_fake, y_seen).mean()
            if config.pair_weight:
                adv_g = adv_g - config.pair_weight * d.pair_score(h_fake, y_seen).mean()
            aux_g = F.cross_entropy(d.classify(h_fake).float(), y_seen)
            twin_g = F.cross_entropy(twin(h_fake).float(), y_seen)
        seek, ratio = mode_seeking(fake[:half], fake[half : 2 * half], z[:half], z[half : 2 * half])
        opt_g.zero_grad(set_to_none=True)
        if not warming:
            aux = config.aux_weight * (aux_g - twin_g * config.twin)
            (adv_g.float() + aux + config.mode_seeking * seek).backward()
            opt_g.step()
            ema.update(g)
        losses = {
            "loss_d": adv_d,
            "loss_g": adv_g,
            "aux_real": aux_d,
            "aux_fake": aux_g,
            "twin": twin_d,
            "pair_gap": ratio,
        }
        return {k: float(v.detach()) for k, v in losses.items()}

    def sample_fn(labels: np.ndarray) -> np.ndarray:
        g = training.OnNumpy(ema.model, bf16=False)
        return files.to_uint8(sampling.sample_gan(g, config.z_dim, labels, seed=0))

    return training.fit(
        "gan",
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
        pairs=config.pack > 1 or config.pair_weight > 0,
    )
