"""The game's settings (doodlelab/web/static/game.json), measured with a classifier on the validation split:
the probability threshold for "Oh, I know, it's X!" and the "easy" list of categories to draw.

    python scripts/game_settings.py [--weights PATH] [--out PATH] [--per-category 12] [--seed 0]
        [--precision 0.95] [--easy 50] [--workers 2]

Validation stroke drawings (a seeded sample of --per-category per category) are replayed as the canvas
holds them while they are drawn: prefixes at 10%, 20%, ..., 100% of their ink, each sent through the live
pipeline (simplified afresh, as the server does). The game (static/game.js) calls "Oh, I know, it's X!" at
the first prefix where the target X is the top guess and its calibrated probability reaches the threshold t.
A call names the target, so it can only be early by luck: it is right when the network also names X on the
finished drawing. precision(t) = right calls / calls; recall(t) = calls / drawings that are top-1 at some
prefix (the calls a perfectly timed game could make); win rate = calls / drawings. The threshold is
the lowest t on a 0.01 grid such that t and every higher t have precision >= --precision. Rerun it after
shipping a new classifier: game.json records the model file's sha256. Never the test split.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

import numpy as np

from doodlelab.errors import DoodleError

SHARES = tuple(k / 10 for k in range(1, 11))
GRID = np.round(np.arange(0.05, 1.0, 0.01), 2)
OUT = Path(__file__).resolve().parents[1] / "doodlelab" / "web" / "static" / "game.json"


def sample(labels: np.ndarray, drawing: np.ndarray, per_category: int, seed: int) -> np.ndarray:
    """Indices of up to `per_category` stroke drawings (drawing >= 0) per label, drawn at random (seeded),
    sorted. labels, drawing: (N,)."""
    rng = np.random.default_rng(seed)
    picked = []
    for label in np.unique(labels):
        index = np.flatnonzero((labels == label) & (drawing >= 0))
        picked.append(rng.choice(index, min(per_category, len(index)), replace=False))
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, np.int64)


def calls(target: np.ndarray, right: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
    """Where the game calls at threshold t: (called (N,) bool, right call (N,) bool). target: (N, F) the
    target's probability at each prefix; right: (N, F) whether the target is the top-1 guess there (the
    last prefix is the finished drawing)."""
    called = ((target >= t) & right).any(axis=1)
    return called, called & right[:, -1]


def scores(target: np.ndarray, right: np.ndarray, t: float) -> dict:
    """precision, recall and win rate of the call at threshold t (see the module docstring), and the
    median share of the ink drawn when the game calls."""
    called, good = calls(target, right, t)
    nameable = right.any(axis=1)
    first = ((target >= t) & right).argmax(axis=1)
    share = np.asarray(SHARES)[first[called]]
    return {
        "precision": round(float(good.sum() / called.sum()), 4) if called.any() else None,
        "recall": round(float(called.sum() / max(nameable.sum(), 1)), 4),
        "win_rate": round(float(called.mean()) if len(called) else 0.0, 4),
        "median_share_at_call": round(float(np.median(share)), 2) if len(share) else None,
        "drawings": int(len(called)),
    }


def choose_threshold(target: np.ndarray, right: np.ndarray, precision: float) -> float | None:
    """The lowest t of GRID such that t and every higher t of GRID have precision >= `precision` (a t that
    calls nothing passes); None when no such t makes a call."""
    measured = [scores(target, right, float(t))["precision"] for t in GRID]
    ok = [p is None or p >= precision for p in measured]
    lowest = len(GRID)
    while lowest > 0 and ok[lowest - 1]:
        lowest -= 1
    if lowest == len(GRID) or measured[lowest] is None:
        return None
    return float(GRID[lowest])


def easy_list(
    target: np.ndarray, right: np.ndarray, labels: np.ndarray, finished: dict[int, float], t: float, size: int
) -> list[int]:
    """The `size` labels the game names best: highest win rate at t, then highest top-1 on the finished
    validation drawings (`finished`: label -> accuracy), then the earliest median call."""
    rows = []
    for label in np.unique(labels):
        mine = labels == label
        s = scores(target[mine], right[mine], t)
        rows.append((-s["win_rate"], -finished[int(label)], s["median_share_at_call"] or 1.0, int(label)))
    return [label for *_, label in sorted(rows)[:size]]


def measure(args: argparse.Namespace) -> dict:
    from doodlelab.classifier import early
    from doodlelab.classifier.export import sha256
    from doodlelab.classifier.recognizer import Recognizer
    from doodlelab.data.cache import load_split_arrays

    recognizer = Recognizer(args.weights)
    data = load_split_arrays("val")
    finished_right = recognizer.probabilities(data.images).argmax(axis=1) == data.labels
    finished = {int(c): float(finished_right[data.labels == c].mean()) for c in np.unique(data.labels)}
    index = sample(data.labels, data.drawing, args.per_category, args.seed)
    replay = early.Replay([data.strokes_of(int(i)) for i in index], [None] * len(index), data.labels[index])
    images = early.replay_images(replay, SHARES, workers=args.workers)  # (N, F, 28, 28)
    n, f = images.shape[:2]
    probs = recognizer.probabilities(images.reshape(n * f, 28, 28)).reshape(n, f, -1)
    labels = replay.labels
    target = probs[np.arange(n), :, labels]  # (N, F)
    right = probs.argmax(axis=2) == labels[:, None]
    t = choose_threshold(target, right, args.precision)
    if t is None:
        raise ValueError(f"no threshold reaches precision {args.precision} on validation")
    easy = easy_list(target, right, labels, finished, t, args.easy)
    in_easy = np.isin(labels, easy)
    return {
        "threshold": t,
        "precision_target": args.precision,
        "validation": scores(target, right, t),
        "validation_easy": scores(target[in_easy], right[in_easy], t),
        "easy": sorted(recognizer.classes[i] for i in easy),
        "easy_finished_top1": round(float(np.mean([finished[i] for i in easy])), 4),
        "all_finished_top1": round(float(finished_right.mean()), 4),
        "model": {"file": recognizer.weights.name, "sha256": sha256(recognizer.weights)},
        "date": datetime.date.today().isoformat(),
        "method": {
            "split": "val",
            "per_category": args.per_category,
            "seed": args.seed,
            "shares": list(SHARES),
            "prefix": "ink length",
            "backend": recognizer.backend,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=None, help="classifier file (default: shipped)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write (default: {OUT.name})")
    parser.add_argument("--per-category", type=int, default=12, help="drawings replayed per category")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", type=float, default=0.95, help="precision the call must reach")
    parser.add_argument("--easy", type=int, default=50, help="categories in the easy list")
    parser.add_argument("--workers", type=int, default=2, help="processes that render the prefixes")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        if args.per_category < 1 or args.easy < 6 or not 0 < args.precision <= 1:
            raise ValueError(
                "need --per-category >= 1, --easy >= 6 (a game has 6 rounds) and 0 < --precision <= 1"
            )
        settings = measure(args)
    except (ValueError, OSError, DoodleError) as exc:  # a bad option, data or model file
        print(f"game_settings: {exc}", file=sys.stderr)
        return 2
    settings["method"]["seconds"] = round(time.perf_counter() - started, 1)
    args.out.write_text(json.dumps(settings, indent=1) + "\n", encoding="utf-8")
    v = settings["validation"]
    print(
        f"threshold {settings['threshold']}: precision {v['precision']}, recall {v['recall']}, "
        f"win rate {v['win_rate']} on {v['drawings']} validation drawings; easy list of "
        f"{len(settings['easy'])} -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
