"""Figures of the stroke pipeline for the docs, from the golden pairs in the shared data:
docs/pipeline.png (raw canvas strokes -> simplified -> 28x28, beside Google's bitmap) and
docs/canvas_mismatch.png (a canvas screenshot shrunk to 28x28 against the pipeline), with the classifier's
accuracy on both.   python scripts/docs_figures.py [--pairs 300]"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from doodlelab import settings  # noqa: E402
from doodlelab.classifier.evaluate import to_raw  # noqa: E402
from doodlelab.classifier.recognizer import Recognizer  # noqa: E402
from doodlelab.data import strokes as pipeline  # noqa: E402

DOCS = Path(__file__).resolve().parent.parent / "docs"
PEN = 4  # px: a typical canvas line width


def load_pairs() -> tuple[list[dict], np.ndarray]:
    """The golden pairs: records (word, drawing) and Google's (N, 28, 28) bitmaps of the same drawings."""
    paired = settings.quickdraw_dir() / "paired"
    with open(paired / "strokes.ndjson") as f:
        records = [json.loads(line) for line in f]
    return records, np.load(paired / "bitmaps.npy").reshape(-1, 28, 28)


def screenshot(raw: list[np.ndarray]) -> np.ndarray:
    """Raw canvas strokes drawn as a browser canvas shows them (a square canvas holding the whole drawing),
    shrunk to 28x28 as a whole: (28, 28) uint8."""
    side = int(np.ceil(np.concatenate(raw).max())) + 2 * PEN
    image = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(image)
    for stroke in raw:
        draw.line([tuple(p) for p in stroke.tolist()], fill=255, width=PEN, joint="curve")
    return np.asarray(image.resize((28, 28), Image.Resampling.BILINEAR))


def plot_strokes(ax, drawing: list[np.ndarray], title: str) -> None:
    for stroke in drawing:
        ax.plot(stroke[:, 0], stroke[:, 1], "-", lw=1.2, color="black")
        ax.plot(stroke[:, 0], stroke[:, 1], ".", ms=2.5 if len(stroke) < 100 else 1, color="tab:red")
    ax.invert_yaxis()
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def show(ax, image: np.ndarray, title: str) -> None:
    ax.imshow(image, cmap="gray_r", vmin=0, vmax=255)
    ax.set_title(title, fontsize=9)
    ax.axis("off")


def pipeline_figure(record: dict, google: np.ndarray, rng: np.random.Generator) -> None:
    strokes = pipeline.parse_strokes(record["drawing"])
    raw, _ = to_raw(strokes, rng)
    simple = pipeline.simplify(raw)
    bitmap = pipeline.render(simple)
    r = np.corrcoef(bitmap.ravel(), google.ravel())[0, 1]
    fig, axes = plt.subplots(1, 4, figsize=(11, 3.1))
    plot_strokes(axes[0], raw, f"1. raw canvas strokes\n{sum(map(len, raw))} points (float px)")
    plot_strokes(axes[1], simple, f"2. simplified: 0..255, RDP 2.0\n{sum(map(len, simple))} points")
    show(axes[2], bitmap, "3. rendered 28x28\n(strokes.render)")
    show(axes[3], google, f"Google's numpy_bitmap\n(correlation with 3: {r:.3f})")
    fig.suptitle(f"A {record['word']} through the one stroke pipeline", fontsize=10)
    fig.tight_layout()
    fig.savefig(DOCS / "pipeline.png", dpi=110)
    plt.close(fig)


def mismatch_figure(records: list[dict], rng: np.random.Generator, recognizer: Recognizer) -> tuple:
    raws = [to_raw(pipeline.parse_strokes(r["drawing"]), rng)[0] for r in records]
    shots = np.stack([screenshot(raw) for raw in raws])
    ours = np.stack([pipeline.rasterize(raw, raw=True) for raw in raws])
    labels = [recognizer.classes.index(r["word"]) for r in records]
    accuracy = [float(np.mean(recognizer.probabilities(x).argmax(1) == labels)) for x in (shots, ours)]
    fig, axes = plt.subplots(2, 6, figsize=(9, 3.4))
    for i in range(6):
        show(axes[0, i], shots[i], "screenshot" if i == 0 else "")
        show(axes[1, i], ours[i], "pipeline" if i == 0 else "")
    fig.suptitle(
        f"The same canvas strokes, {len(records)} drawings: a screenshot shrunk to 28x28 is named "
        f"right {accuracy[0]:.0%} of the time, the pipeline's bitmap {accuracy[1]:.0%}",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(DOCS / "canvas_mismatch.png", dpi=110)
    plt.close(fig)
    return tuple(accuracy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=300, help="golden pairs (random) for the accuracy")
    args = parser.parse_args()
    records, bitmaps = load_pairs()
    rng = np.random.default_rng(0)
    pipeline_figure(records[0], bitmaps[0], rng)
    order = np.random.default_rng(1).permutation(len(records))[: args.pairs]
    shot, ours = mismatch_figure([records[i] for i in order], rng, Recognizer())
    print(
        f"docs/pipeline.png, docs/canvas_mismatch.png; top-1 on {len(order)} drawings replayed as raw "
        f"canvas input: screenshot {shot:.1%}, pipeline {ours:.1%}"
    )


if __name__ == "__main__":
    main()
