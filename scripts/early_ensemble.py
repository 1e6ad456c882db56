"""Does averaging a classifier trained on finished drawings with a prefix-trained one guess early and
keep finished drawings? How the shipped average's shares were chosen (docs/experiments, early guessing).

    python scripts/early_ensemble.py PREFIX_MODEL.safetensors [--split val] [--limit 2000] [--base WEIGHTS]
        [--shipped-weight 0 0.2 0.3 0.4 0.5 1] [--backend onnx] [--out results.json] [--curve PNG]

With the default backend both models run through their float ONNX exports; make the prefix model's with
`doodlelab export onnx --weights PREFIX_MODEL.safetensors --out PREFIX_MODEL.onnx` (the base's, judge.onnx,
is in the package). A bad option or a missing file: one line on stderr, exit code 2.

Stroke drawings of the split (--limit of them drawn at random, seed 0; 0: all) are replayed at 5%, 10%, ...,
100% of their ink (`classifier.early`, time = ink length). Each model gives calibrated probabilities
(N, F, C); the ensemble is p = a · p_shipped + (1 − a) · p_prefix for each weight a. Reported per a: top-1
at 25/50/75/100% of the drawing, the median share to a stable guess, and top-1 on every finished drawing of
the split (stroke drawings and Google bitmaps, as the model card's test figure). Choose a on validation.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from doodlelab.classifier import early
from doodlelab.classifier.recognizer import Recognizer
from doodlelab.data import cache
from doodlelab.errors import DoodleError
from doodlelab.generative.evaluate import JUDGE


def mixtures(p_shipped: np.ndarray, p_prefix: np.ndarray, labels: np.ndarray, weights) -> dict:
    """{a: early report of a · p_shipped + (1 − a) · p_prefix}; p_*: (N, F, C) probabilities."""
    return {a: early.report(a * p_shipped + (1 - a) * p_prefix, labels) for a in weights}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prefix_model", type=Path)
    parser.add_argument("--split", choices=("val", "test"), default="val")
    parser.add_argument("--limit", type=int, default=2000, help="stroke drawings replayed (0: all)")
    parser.add_argument("--shipped-weight", type=float, nargs="+", default=[0, 0.2, 0.3, 0.4, 0.5, 1])
    parser.add_argument(
        "--base",
        type=Path,
        default=JUDGE,
        help="the model trained on finished drawings, called shipped below (default: judge.safetensors, "
        "the classifier shipped until 2026-12-04)",
    )
    parser.add_argument("--backend", choices=("onnx", "int8", "torch"), default="onnx", help="engine of both")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    parser.add_argument("--curve", type=Path, default=None, help="write the top-1 curves (PNG)")
    args = parser.parse_args()
    if args.limit < 0 or not all(0 <= a <= 1 for a in args.shipped_weight):
        parser.error("--limit must be >= 0 and every --shipped-weight in [0, 1]")
    models = {
        "shipped": Recognizer(args.base, backend=args.backend),
        "prefix": Recognizer(args.prefix_model, backend=args.backend),
    }
    data = cache.load_split_arrays(args.split)
    replay = early.from_split(data, args.limit)
    images = early.replay_images(replay, workers=2)
    n, f = images.shape[:2]
    flat = images.reshape(n * f, *images.shape[2:])
    replayed = {k: m.probabilities(flat).reshape(n, f, -1) for k, m in models.items()}
    finished = {k: m.probabilities(data.images) for k, m in models.items()}
    reports = mixtures(replayed["shipped"], replayed["prefix"], replay.labels, args.shipped_weight)
    out = {"split": args.split, "replayed": int(n), "finished_drawings": len(data.labels), "weights": {}}
    print(
        f"{args.split}: {n} stroke drawings replayed (time = ink length); "
        f"{len(data.labels)} finished drawings"
    )
    for a, r in reports.items():
        p = a * finished["shipped"] + (1 - a) * finished["prefix"]
        top1 = float((p.argmax(1) == data.labels).mean())
        out["weights"][str(a)] = r | {"finished_top1_all": top1}
        median = r["median_share_first_stable"]
        print(
            f"  shipped weight {a:4.2f}: "
            + " ".join(f"{k} {v:6.1%}" for k, v in r["top1_at"].items())
            + f"  stable at {'never' if median is None else f'{median:.0%}'}"
            + f"  every finished drawing {top1:.2%}"
        )
    if args.curve:
        names = {1.0: "shipped", 0.0: args.prefix_model.name}
        curves = {names.get(a, f"{a:g} shipped + {1 - a:g} prefix"): r for a, r in reports.items()}
        early.curve_png(curves, args.curve, f"{args.split}: {n} drawings, time = ink length")
    if args.out:
        args.out.write_text(json.dumps(out, indent=1), encoding="utf-8")


if __name__ == "__main__":
    try:
        main()
    except DoodleError as exc:
        print(f"early_ensemble: error: {exc}", file=sys.stderr)
        sys.exit(2)
