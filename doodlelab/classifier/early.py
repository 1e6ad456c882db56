"""How early a classifier names a drawing: replay stroke drawings in time (real timestamps when they have
them, else time approximated by ink length), classify what the canvas held at each share of the drawing.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from doodlelab import plots
from doodlelab.data import strokes as pipeline
from doodlelab.data.prefix import ink_prefix, time_prefix

SHARES = tuple(round(k / 20, 2) for k in range(1, 21))  # 5%, 10%, ..., 100% of the drawing
REPORTED = (0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class Replay:
    """Drawings to replay: strokes, per-point times (ms) or None to use ink length, true labels (N,)."""

    drawings: list[pipeline.Strokes]
    times: list[list[np.ndarray] | None]
    labels: np.ndarray


def from_split(data, limit: int = 0, seed: int = 0) -> Replay:
    """The stroke drawings of a cached split (`cache.SplitArrays`; bitmaps have no stroke order), all
    or `limit` of them drawn at random (seeded)."""
    index = np.flatnonzero(data.drawing >= 0)
    if 0 < limit < len(index):
        index = np.sort(np.random.default_rng(seed).choice(index, limit, replace=False))
    return Replay([data.strokes_of(int(i)) for i in index], [None] * len(index), data.labels[index])


def from_files(paths: Sequence[Path]) -> Replay:
    """Labelled drawings from ndjson files (raw with timestamps or simplified; `word` names the
    category). A line that cannot be used raises DataError naming file and line."""
    from doodlelab.data import formats
    from doodlelab.data.categories import category_index, resolve
    from doodlelab.errors import DataError, UnknownCategoryError

    drawings, times, labels = [], [], []
    for path in paths:
        for line, entry in formats.numbered_entries(Path(path)):
            if isinstance(entry, DataError):
                raise entry
            try:
                labels.append(category_index(resolve(entry.word)))
            except UnknownCategoryError as exc:
                raise DataError(str(exc), Path(path), line) from None
            drawings.append(entry.strokes)
            times.append(entry.timestamps)
    return Replay(drawings, times, np.asarray(labels, dtype=np.int64))


def prefixes(
    drawing: pipeline.Strokes, times: list[np.ndarray] | None, shares: Sequence[float] = SHARES
) -> list[pipeline.Strokes]:
    """What the canvas held at each share (0..1] of the drawing's time, in order."""
    if times is None:
        return [ink_prefix(drawing, s) for s in shares]
    return [time_prefix(drawing, times, s) for s in shares]


def _render(job: tuple) -> np.ndarray:
    drawing, times, shares = job
    return np.stack([pipeline.rasterize(p, raw=True) for p in prefixes(drawing, times, shares)])


def replay_images(replay: Replay, shares: Sequence[float] = SHARES, workers: int = 0) -> np.ndarray:
    """(N, F, 28, 28) uint8: drawing n at share f through the one pipeline, as the live canvas sends it
    (every prefix is simplified afresh: aligned, scaled to the box, resampled, RDP)."""
    jobs = [(d, t, tuple(shares)) for d, t in zip(replay.drawings, replay.times)]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            images = list(pool.map(_render, jobs, chunksize=64))
    else:
        images = [_render(job) for job in jobs]
    return np.stack(images) if images else np.zeros((0, len(shares), 28, 28), np.uint8)


def first_stable(correct: np.ndarray, shares: Sequence[float] = SHARES) -> np.ndarray:
    """(N,) the share from which every later guess is right (the first correct guess that stays
    correct); inf where the finished drawing is not named. correct: (N, F) bool."""
    wrong_after = np.flip(np.cumsum(np.flip(~correct, axis=1), axis=1), axis=1)  # wrong guesses from f on
    stable = wrong_after == 0
    first = np.argmax(stable, axis=1)
    out = np.asarray(shares, dtype=np.float64)[first]
    out[~stable[:, -1]] = np.inf
    return out


def report(probs: np.ndarray, labels: np.ndarray, shares: Sequence[float] = SHARES) -> dict:
    """Top-1 at each share and the median share needed. probs: (N, F, C) calibrated probabilities."""
    correct = probs.argmax(axis=2) == labels[:, None]
    top1 = correct.mean(axis=0)
    stable = first_stable(correct, shares)
    median = float(np.median(stable)) if len(stable) else float("inf")
    target = probs[np.arange(len(labels)), :, labels]  # (N, F) probability of the true category
    return {
        "n": int(len(labels)),
        "shares": [float(s) for s in shares],
        "top1": [round(float(a), 4) for a in top1],
        "top1_at": {
            f"{int(s * 100)}%": round(float(top1[list(shares).index(s)]), 4) for s in REPORTED if s in shares
        },
        "median_share_first_stable": None if not np.isfinite(median) else round(median, 3),
        "never_named": round(float(np.isinf(stable).mean()), 4),
        "mean_target_probability": [round(float(p), 4) for p in target.mean(axis=0)],
    }


def evaluate_early(
    recognizers: dict, images: np.ndarray, labels: np.ndarray, shares: Sequence[float] = SHARES
) -> dict[str, dict]:
    """{name: report} for each Recognizer on the same replayed images (N, F, S, S)."""
    n, f = images.shape[:2]
    flat = images.reshape(n * f, *images.shape[2:])
    out = {}
    for name, recognizer in recognizers.items():
        probs = recognizer.probabilities(flat).reshape(n, f, -1) if n else np.zeros((0, f, 1))
        out[name] = report(probs, labels, shares)
    return out


def curve_png(reports: dict[str, dict], path: Path, title: str) -> None:
    """Top-1 against the share of the drawing, one line per model, written atomically."""
    fig, ax = plots.pyplot().subplots(figsize=(6.4, 4.2))
    for name, r in reports.items():
        median = r["median_share_first_stable"]
        label = f"{name} (median share to a stable guess: {median if median is not None else 'never'})"
        ax.plot([100 * s for s in r["shares"]], [100 * a for a in r["top1"]], marker="o", ms=3, label=label)
    ax.set(xlabel="share of the drawing (%)", ylabel="top-1 (%)", title=title, xlim=(0, 100), ylim=(0, 100))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")  # the curves rise to the right
    plots.save(fig, path, dpi=110)
