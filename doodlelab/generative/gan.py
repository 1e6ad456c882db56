"""A class-conditional DCGAN for doodles: a generator with conditional batch norm (de Vries et al. 2017),
a projection discriminator with spectral norm (Miyato & Koyama 2018; Miyato et al. 2018) that can judge
same-label pairs (PacGAN) or their feature difference, an auxiliary classifier and its twin, the hinge loss,
TTUR and an EMA of G."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from doodlelab import checkpoints, modelfile
from doodlelab.config import ConfigError
from doodlelab.data.categories import categories
from doodlelab.generative import files, training
from doodlelab.generative.config import GANConfig


class CondBatchNorm(nn.Module):
    """BatchNorm without its own affine; the scale and shift come from the class (de Vries et al. 2017)."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.embed = nn.Embedding(num_classes, 2 * channels)
        nn.init.ones_(self.embed.weight[:, :channels])
        nn.init.zeros_(self.embed.weight[:, channels:])

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W), y: (B,) -> (B, C, H, W)."""
        gamma, beta = self.embed(y)[:, :, None, None].chunk(2, dim=1)
        return gamma * self.bn(x) + beta


class Generator(nn.Module):
    """G(z, y): (B, z_dim) noise and (B,) labels -> (B, 1, 28, 28) images in [-1, 1].
    DCGAN layout (pytorch/examples): a linear map to 7x7, then two transposed convs up to 28x28. With
    `embed_dim` > 0 a class embedding is also joined to z at the input (as BigGAN joins its shared one)."""

    def __init__(self, num_classes: int, z_dim: int = 128, width: int = 256, embed_dim: int = 0) -> None:
        super().__init__()
        self.num_classes, self.z_dim, self.width = num_classes, z_dim, width
        self.embed = nn.Embedding(num_classes, embed_dim) if embed_dim else None
        self.fc = nn.Linear(z_dim + embed_dim, width * 7 * 7)
        self.bn0 = CondBatchNorm(width, num_classes)
        self.up1 = nn.ConvTranspose2d(width, width // 2, 4, 2, 1)  # 7 -> 14
        self.bn1 = CondBatchNorm(width // 2, num_classes)
        self.up2 = nn.ConvTranspose2d(width // 2, width // 4, 4, 2, 1)  # 14 -> 28
        self.bn2 = CondBatchNorm(width // 4, num_classes)
        self.out = nn.Conv2d(width // 4, 1, 3, padding=1)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """z: (B, z_dim), y: (B,) -> (B, 1, 28, 28)."""
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], dim=1)
        h = F.relu(self.bn0(self.fc(z).view(-1, self.width, 7, 7), y))
        h = F.relu(self.bn1(self.up1(h), y))
        h = F.relu(self.bn2(self.up2(h), y))
        return torch.tanh(self.out(h))


class Discriminator(nn.Module):
    """D(x, y) = psi(phi(x)) + <embed(y), phi(x)> (the projection discriminator, Miyato & Koyama 2018 eq. 3),
    every layer spectrally normalised (Miyato et al. 2018). x: (B, pack, 28, 28), y: (B,) -> (B,) scores;
    with pack = 2 each input is two drawings of label y as channels (PacGAN, Lin et al. 2018), so two
    near-identical fakes are told from two people's drawings. `classify(phi(x))` is the auxiliary
    classifier's logits (B, num_classes) (AC-GAN, Odena et al. 2017). With `pair_head`, `pair_score`
    also judges how far apart two single drawings of one label are in phi."""

    def __init__(self, num_classes: int, width: int = 64, pack: int = 1, pair_head: bool = False) -> None:
        super().__init__()
        w = width
        layers = [(pack, w, 3, 1), (w, w, 4, 2), (w, 2 * w, 3, 1), (2 * w, 2 * w, 4, 2), (2 * w, 4 * w, 3, 1)]
        self.convs = nn.ModuleList(spectral_norm(nn.Conv2d(a, b, k, s, 1)) for a, b, k, s in layers)
        self.psi = spectral_norm(nn.Linear(4 * w, 1))
        self.embed = spectral_norm(nn.Embedding(num_classes, 4 * w))
        self.classify = nn.Linear(4 * w, num_classes)
        if pair_head:
            self.pair_psi = spectral_norm(nn.Linear(4 * w, 1))
            self.pair_embed = spectral_norm(nn.Embedding(num_classes, 4 * w))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """phi(x): (B, pack, 28, 28) -> (B, 4w), convolutions then global sum pooling."""
        h = x
        for conv in self.convs:
            h = F.leaky_relu(conv(h), 0.1)
        return h.sum(dim=(2, 3))

    def score(self, h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """psi(h) + <embed(y), h>: (B, 4w), (B,) -> (B,)."""
        return self.psi(h).squeeze(1) + (self.embed(y) * h).sum(1)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x: (B, pack, 28, 28), y: (B,) -> (B,)."""
        return self.score(self.features(x), y)

    def pair_score(self, h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The pair head, a projection score of |phi(x_i) - phi(x_i+B/2)| (minibatch discrimination,
        Salimans et al. 2016, on same-label pairs as PacGAN's): two people's drawings of one label differ,
        a collapsed G's do not. h: (B, 4w) features of single drawings whose rows i and i + B/2 share the
        label y[i]; y: (B,) -> (B/2,) scores."""
        half = len(h) // 2
        gap = (h[:half] - h[half : 2 * half]).abs()
        return self.pair_psi(gap).squeeze(1) + (self.pair_embed(y[:half]) * gap).sum(1)


def packed(x: torch.Tensor, pack: int) -> torch.Tensor:
    """(B, 1, H, W) -> (B / pack, pack, H, W): rows i, i + B/pack, ... become the channels of input i."""
    return torch.cat(x.chunk(pack), dim=1) if pack > 1 else x


def build(config: GANConfig) -> Generator:
    return Generator(len(categories()), config.z_dim, config.g_width, config.embed_dim)


def build_parts(config: GANConfig) -> dict[str, checkpoints.Part]:
    """Everything a run trains and checkpoints: G, D, the twin classifier, G's EMA and their optimizers."""
    g = build(config).to(training.device())
    d = Discriminator(len(categories()), config.d_width, config.pack, config.pair_weight > 0)
    d = d.to(training.device())
    twin, opt_twin = twin_classifier(config)
    opt_g = torch.optim.Adam(g.parameters(), lr=config.lr, betas=(0.0, 0.9))  # TTUR (Heusel et al. 2017)
    opt_d = torch.optim.Adam(d.parameters(), lr=config.d_lr, betas=(0.0, 0.9))
    return {"g": g, "d": d, "twin": twin, "ema": training.EMA(g, config.ema), "opt_g": opt_g, "opt_d": opt_d,
            "opt_twin": opt_twin}


def noise(n: int, z_dim: int, seed: int, truncation: float = 0.0) -> torch.Tensor:
    """z (n, z_dim) from N(0, 1), each entry beyond ±truncation drawn again (the truncation trick, Brock
    et al. 2019: a smaller bound trades variety for fidelity; 0 keeps the plain normal)."""
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn((n, z_dim), generator=rng)
    while truncation > 0 and (outside := z.abs() > truncation).any():
        z = torch.where(outside, torch.randn((n, z_dim), generator=rng), z)
    return z


@torch.no_grad()
def sample(generator: Generator, labels: torch.Tensor, seed: int = 0,
           truncation: float = 0.0) -> torch.Tensor:
    """Images (B, 1, 28, 28) in [-1, 1] for labels (B,); the same seed gives the same images."""
    z = noise(len(labels), generator.z_dim, seed, truncation)
    dev = next(generator.parameters()).device
    return generator.eval()(z.to(dev), labels.to(dev)).cpu()


def mode_seeking(x1: torch.Tensor, x2: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor, eps: float = 0.05
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
    state["warm_starts"] = [*state.get("warm_starts", []),
                            {"step": state["step"], "from": str(checkpoint), "was": was, "now": changes}]
    target = Path(out_dir) / training.LAST
    modelfile.save(target, arrays, metadata=meta | {"config": config.to_dict(), "state": state,
                                                     "param_groups": groups})
    return target


def start_from_generator(weights: str | Path, out_dir: str | Path, config: GANConfig) -> Path:
    """Begin a run in `out_dir` whose G (live and EMA) is a trained generator file's (e.g. the shipped one,
    whose D was not kept), with a fresh D for `config`: a fine-tune with new D settings such as `pack`.
    `config.d_warmup` steps then train D alone. Returns the new checkpoint; refuses another G layout."""
    torch.manual_seed(config.seed)
    keep = ("z_dim", "embed_dim", "g_width", "categories")
    return training.start_from_file("gan", weights, out_dir, config, build_parts(config), "g", keep)


def train(config: GANConfig, out_dir: str | Path, root: Path | None = None, cache_root: Path | None = None,
          progress: bool = True, resume: bool = True, until_step: int | None = None,
          measure: Callable[[training.SampleFn], float] | None = None) -> dict:
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
        y_fake = torch.cat([y[:half], y[:half], y[2 * half:]])  # pairs: one label, two noise vectors
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
                adv_d = adv_d + config.pair_weight * (F.relu(1 - d.pair_score(h_real, y_real)).mean()
                                                      + F.relu(1 + d.pair_score(h_fake, y_seen)).mean())
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
        losses = {"loss_d": adv_d, "loss_g": adv_g, "aux_real": aux_d, "aux_fake": aux_g, "twin": twin_d,
                  "pair_gap": ratio}
        return {k: float(v.detach()) for k, v in losses.items()}

    def sample_fn(labels: np.ndarray) -> np.ndarray:
        return files.to_uint8(sample(ema.model, torch.from_numpy(labels), seed=0))

    return training.fit("gan", config, out_dir, parts, ema.model, step_fn, sample_fn, root, cache_root,
                        progress, resume, until_step, measure,
                        pairs=config.pack > 1 or config.pair_weight > 0)
