"""`doodlelab train ensemble`: trained classifiers combined into one model file (no gradient steps)."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_OUT = Path("runs") / "ensemble"
MODEL_NAME = "classifier.safetensors"


def register(groups: dict) -> None:
    train = groups["train"].add_parser(
        "ensemble",
        help="combine trained classifiers into one model (a weighted average of their probabilities)",
        description="Combine classifier model files into one: p = sum_i w_i softmax(z_i / T_i) with each "
        "member's calibration temperature T_i, output as log p. Fits the temperature of the result on the "
        f"validation split, measures the test split and writes {MODEL_NAME} with its card and a float16 "
        "ONNX export in --out. Choose the weights on validation (scripts/early_ensemble.py).",
    )
    train.add_argument("--members", type=Path, nargs="+", required=True, help="classifier model files")
    train.add_argument(
        "--weights", type=float, nargs="+", required=True, help="each member's share (> 0, sum 1)"
    )
    train.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder ({DEFAULT_OUT})")
    train.add_argument("--no-export", action="store_true", help="skip the ONNX export")
    train.set_defaults(handler=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from doodlelab.classifier.evaluate import export_beside, finish_ensemble

    out = args.out / MODEL_NAME
    card = finish_ensemble(args.members, args.weights, out)
    if not args.no_export:
        export_beside(out, float16=True)
    test = card["test"]
    print(
        f"{len(args.members)} members, validation top-1 {card['val_top1']:.4f}; test top-1 "
        f"{test['top1']:.4f} top-3 {test['top3']:.4f} MAP@3 {test['map3']:.4f} ECE {test['ece']:.4f} "
        f"(T = {card['temperature']:.3f}); wrote {out}"
    )
    return 0
