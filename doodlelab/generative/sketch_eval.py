"""The stroke model measured: the bitmap generators' yardstick on the pipeline's renderings of its doodles
(`renderer` for `evaluate.evaluate_generator`), and completion: split drawings cut at half their ink, finished
by the model with and without their category, and named by the classifier before and after.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from doodlelab.data import cache
from doodlelab.data import strokes as pipeline
from doodlelab.data.categories import categories
from doodlelab.data.prefix import cut, ink_clock
from doodlelab.generative.evaluate import Judge, balanced_sample


def renderer(
    sketcher, temperature: float | None = None, top_p: float | None = None, guidance: float | None = None
) -> Callable:
    """generate(category, n, seed) -> (n, 28, 28) uint8: the model's doodles through the one pipeline."""

    def generate(category: str, n: int, seed: int) -> np.ndarray:
        drawings = sketcher.generate(category, n, seed, temperature, top_p, guidance)
        return np.stack([pipeline.render(d) for d in drawings])

    return generate


def half_ink(drawing: list[np.ndarray]) -> list[np.ndarray]:
    """A simplified drawing up to half of its ink length: whole strokes, then the stroke in progress cut
    mid-way (stroke order kept), rounded to the simplified format's integers."""
    clocks = ink_clock(drawing)
    return [np.round(s) for s in cut(drawing, clocks, float(clocks[-1][-1]) / 2)]


def evaluate_completion(
    sketcher,
    per_category: int = 10,
    names: list[str] | None = None,
    judge: Judge | None = None,
    root: Path | None = None,
    cache_root: Path | None = None,
    seed: int = 0,
    split: str = "test",
    temperature: float | None = None,
    top_p: float | None = None,
    guidance: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Up to `per_category` stroke drawings of each category from `split`, cut at half their ink and
    completed once with the true category and once without: the judge's top-1 on the prefix, on prefix +
    completion (both ways) and on the whole human drawing. A completion is the prefix unchanged with the
    model's new strokes after it."""
    judge = judge or Judge()
    names = names or [c for c in categories() if c in sketcher.classes]
    split_arrays = cache.load_split_arrays(split, names, root=root, cache_root=cache_root)
    has_strokes = np.flatnonzero(split_arrays.drawing >= 0)
    official = list(categories())
    picks = has_strokes[
        balanced_sample(
            split_arrays.labels[has_strokes], per_category, [official.index(n) for n in names], seed
        )
    ]
    images: dict[str, list[np.ndarray]] = {"prefix": [], "with": [], "without": [], "whole": []}
    targets = []
    for k, i in enumerate(picks.tolist()):
        name = official[int(split_arrays.labels[i])]
        whole = split_arrays.strokes_of(i)
        prefix = half_ink(whole)
        for key, category in (("with", name), ("without", None)):
            new = sketcher.complete(prefix, False, category, 1, [seed, k], temperature, top_p, guidance)[0]
            images[key].append(pipeline.render(prefix + new))
        images["prefix"].append(pipeline.render(prefix))
        images["whole"].append(pipeline.render(whole))
        targets.append(judge.classes.index(name))
        if progress:
            progress(k + 1, len(picks))
    target = np.asarray(targets, np.int64)
    top1 = {
        key: float((judge.run(np.stack(v))[0] == target).mean()) if v else float("nan")
        for key, v in images.items()
    }
    return {
        "split": split,
        "drawings": len(picks),
        "cut": "half of the ink length, stroke order kept, the last stroke cut mid-way",
        "prefix_top1": top1["prefix"],
        "completed_with_category_top1": top1["with"],
        "completed_without_category_top1": top1["without"],
        "whole_drawing_top1": top1["whole"],
        "gain_with_category_points": 100 * (top1["with"] - top1["prefix"]),
        "gain_without_category_points": 100 * (top1["without"] - top1["prefix"]),
    }
