"""Sample grids for the README: the same categories and seeds from each generator, side by side.

    python scripts/sample_grids.py [--per-category 8] [--out PATH]     # shipped diffusion | GAN
    python scripts/sample_grids.py --models base=runs/a/gan.safetensors pack=runs/b/gan.safetensors \
        --categories star face door --out docs/gan_packing.png
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
from PIL import Image

from doodlelab.generative.generator import DoodleGenerator, load

OUT = Path(__file__).resolve().parent.parent / "docs" / "generated.png"
CATEGORIES = (
    "cat",
    "apple",
    "bicycle",
    "house",
    "tree",
    "fish",
    "airplane",
    "clock",
    "star",
    "umbrella",
    "face",
    "car",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-category", type=int, default=8)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--models", nargs="+", metavar="TITLE=PATH", help="generator files (default: the shipped ones)"
    )
    parser.add_argument("--categories", nargs="+", default=CATEGORIES)
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if args.models:
        titles, paths = zip(*(m.split("=", 1) for m in args.models))
        models = [DoodleGenerator(Path(path)) for path in paths]
    else:
        models = [load("diffusion"), load("gan")]
        c = models[0].config
        titles = (f"diffusion (DDIM 50 steps, η = {c.eta:g}, w = {c.guidance:g})", "GAN")
    n, categories = args.per_category, args.categories
    fig, axes = plt.subplots(
        len(categories), len(models), figsize=(len(models) * n * 0.55, len(categories) * 0.62), squeeze=False
    )
    for row, category in enumerate(categories):
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
                ax.set_title(titles[col], fontsize=10)
    fig.tight_layout(pad=0.3)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    Image.open(buffer).convert("L").save(args.out, optimize=True)  # grey: a third of the RGBA file's size
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
