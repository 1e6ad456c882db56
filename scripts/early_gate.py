"""Could a learned gate join the shipped classifier (finished drawings) and a prefix model (early guesses)?
An experiment of issue 21 (docs/experiments/2026-12-02-early-guessing.md), not a shipped feature.

    python scripts/early_gate.py PREFIX_MODEL.safetensors [--fit 1500] [--val 2000]

Stroke drawings are replayed at 5%, 10%, ..., 100% of their ink (`classifier.early`). The mixture
p = g(x) p_shipped + (1 - g(x)) p_prefix, g a logistic function of both models' penultimate features,
entropies and top probabilities, is fit by its likelihood of the true category on --fit training drawings
(seed 1) and measured on --val validation drawings (seed 0), next to each model and their plain average.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from doodlelab.classifier import checkpoint, early
from doodlelab.classifier.model import to_input
from doodlelab.classifier.recognizer import SHIPPED
from doodlelab.data import cache


@torch.no_grad()
def log_probs_and_features(path, images: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Calibrated log-probabilities (N, F, C) and penultimate features (N, F, D) of replayed images."""
    model, _, card = checkpoint.load_model(path)
    model.eval()
    flat = images.reshape(-1, *images.shape[2:])
    feats = torch.cat(
        [model.features(to_input(torch.from_numpy(flat[s : s + 2048]))) for s in range(0, len(flat), 2048)]
    )
    logits = model.head(feats).float() / float(card.get("temperature", 1.0))
    shape = images.shape[:2]
    return torch.log_softmax(logits, 1).reshape(*shape, -1), feats.float().reshape(*shape, -1)


def gate_inputs(lf, lp, ff, fp) -> torch.Tensor:
    """(N, F, 2D + 4): both models' features, entropies and top log-probabilities."""
    entropy = [-(lq.exp() * lq).sum(-1, keepdim=True) for lq in (lf, lp)]
    top = [lq.max(-1, keepdim=True).values for lq in (lf, lp)]
    return torch.cat([ff, fp, *entropy, *top], -1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prefix_model")
    parser.add_argument("--fit", type=int, default=1500)
    parser.add_argument("--val", type=int, default=2000)
    args = parser.parse_args()
    sets = {}
    for name, split, n, seed in (("fit", "train", args.fit, 1), ("val", "val", args.val, 0)):
        replay = early.from_split(cache.load_split_arrays(split), n, seed)
        images = early.replay_images(replay)
        (lf, ff), (lp, fp) = (log_probs_and_features(p, images) for p in (SHIPPED, args.prefix_model))
        sets[name] = (lf, lp, gate_inputs(lf, lp, ff, fp), torch.from_numpy(replay.labels))
    lf, lp, x, y = sets["fit"]
    x, shares = x.reshape(-1, x.shape[-1]), lf.shape[1]
    mean, std = x.mean(0), x.std(0) + 1e-6
    rows = torch.arange(len(x))
    y = y[:, None].expand(-1, shares).reshape(-1)
    right = torch.stack([lf.reshape(len(x), -1)[rows, y], lp.reshape(len(x), -1)[rows, y]])  # (2, N F)
    torch.manual_seed(0)
    gate = torch.nn.Linear(x.shape[1], 1)
    optimizer = torch.optim.Adam(gate.parameters(), lr=1e-2, weight_decay=1e-4)
    for _ in range(400):
        g = torch.sigmoid(gate((x - mean) / std))[:, 0]
        loss = -torch.logsumexp(torch.stack([torch.log(g + 1e-9), torch.log(1 - g + 1e-9)]) + right, 0).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    lf, lp, x, y = sets["val"]
    with torch.no_grad():
        g = torch.sigmoid(gate((x - mean) / std))
    pf, pp = lf.exp(), lp.exp()
    for name, probs in (
        ("shipped", pf),
        ("prefix", pp),
        ("half", (pf + pp) / 2),
        ("gated", g * pf + (1 - g) * pp),
    ):
        report = early.report(probs.numpy(), y.numpy())
        print(name, report["top1_at"], "median share", report["median_share_first_stable"])
    at = [early.SHARES.index(s) for s in early.REPORTED]
    print("mean weight on the shipped model at 25/50/75/100%:", [round(float(g[:, i].mean()), 2) for i in at])


if __name__ == "__main__":
    main()
