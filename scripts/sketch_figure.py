"""The shipped stroke model's doodles for docs/sketch_samples.png: the README's categories, the same seeds,
guided (the default, w = 2) beside unguided (w = 0), drawn as strokes.

    python scripts/sketch_figure.py [--per-category 8] [--out PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sample_grids import CATEGORIES

from doodlelab.generative.sketch_sample import load

OUT = Path(__file__).resolve().parent.parent / "docs" / "sketch_samples.png"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-category", type=int, default=8)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sketcher, n = load("sketch"), args.per_category
    settings = [(sketcher.config.guidance, "guided"), (0.0, "without guidance")]
    fig, axes = plt.subplots(len(CATEGORIES), 2 * n, figsize=(2 * n * 0.55, len(CATEGORIES) * 0.6))
    for row, category in enumerate(CATEGORIES):
        for half, (guidance, title) in enumerate(settings):
            doodles = sketcher.generate(category, n, seed=row, guidance=guidance)
            for k, drawing in enumerate(doodles):
                ax = axes[row, half * n + k]
                for stroke in drawing:
                    ax.plot(stroke[:, 0], stroke[:, 1], color="black", linewidth=0.8, solid_capstyle="round")
                ax.set_xlim(-20, 275)
                ax.set_ylim(275, -20)
                ax.set_aspect("equal")
                ax.axis("off")
            if row == 0:
                axes[0, half * n].set_title(f"{title} (w = {guidance:g})", loc="left", fontsize=8)
        axes[row, 0].text(-40, 128, category, ha="right", va="center", fontsize=7)
    fig.subplots_adjust(left=0.06, right=0.99, top=0.95, bottom=0.01, wspace=0.05, hspace=0.05)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
