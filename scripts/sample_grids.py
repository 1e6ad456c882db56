"""Sample grids of the shipped generators for the README: the same categories and seeds, diffusion next
to the GAN (docs/generated.png).   python scripts/sample_grids.py [--per-category 8] [--out PATH]"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from doodlelab.generative.generator import load

OUT = Path(__file__).resolve().parent.parent / "docs" / "generated.png"
CATEGORIES = ("cat", "apple", "bicycle", "house", "tree", "fish", "airplane", "clock", "star", "umbrella",
              "face", "car")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-category", type=int, default=8)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = [load("diffusion"), load("gan")]
    n = args.per_category
    fig, axes = plt.subplots(len(CATEGORIES), 2, figsize=(2 * n * 0.55, len(CATEGORIES) * 0.62))
    for row, category in enumerate(CATEGORIES):
        for col, model in enumerate(models):
            images = model(category, n=n, seed=row)
            strip = np.concatenate([np.pad(255 - im, 1, constant_values=255) for im in images], axis=1)
            ax = axes[row, col]
            ax.imshow(strip, cmap="gray", vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(category, rotation=0, ha="right", va="center", fontsize=9)
            if row == 0:
                label = f"diffusion (DDIM 50 steps, w = {model.config.guidance:g})" if col == 0 else "GAN"
                ax.set_title(label, fontsize=10)
    fig.tight_layout(pad=0.3)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
