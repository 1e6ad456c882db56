"""Ship a trained stroke model: its weights into the package as doodlelab/weights/sketch.safetensors, and
its evaluation (the generators' yardstick and completion at half the ink, all 345 categories) in the card.

    python scripts/ship_sketch.py runs/sketch/sketch.safetensors [--per-category 10]
    python scripts/ship_sketch.py doodlelab/weights/sketch.safetensors --report eval.json
`--report` reuses the JSON that `doodlelab evaluate generator --model FILE --json` printed for these very
weights (checked by the weights' sha256) instead of measuring again (about half an hour on 2 cores).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

from doodlelab import modelfile
from doodlelab.generative.sketch_config import SHIPPED


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def measure(weights: Path, per_category: int) -> dict:
    """What `doodlelab evaluate generator --model WEIGHTS --json` reports, run in this process."""
    from doodlelab.cli.main import build_parser
    from doodlelab.cli.sketch import evaluate

    args = build_parser().parse_args(
        ["evaluate", "generator", "--model", str(weights), "--per-category", str(per_category)]
    )
    return evaluate(args, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights", type=Path, help="a sketch.safetensors written by doodlelab train sketch")
    parser.add_argument("--per-category", type=int, default=10, help="samples and completions per category")
    parser.add_argument("--report", type=Path, default=None, help="a saved evaluate generator --json report")
    args = parser.parse_args()
    if args.weights.resolve() != SHIPPED:
        shutil.copyfile(args.weights, SHIPPED)
        shutil.copyfile(modelfile.card_path(args.weights), modelfile.card_path(SHIPPED))
    if args.report is None:
        report = measure(SHIPPED, args.per_category)
    else:
        report = json.loads(args.report.read_text())
        if sha256(Path(report["weights"])) != sha256(SHIPPED):
            sys.exit(f"{args.report} measured {report['weights']}, not the weights shipped now")
    sampling = {k: report[k] for k in ("temperature", "top_p", "guidance")}
    keep = {k: v for k, v in report.items() if k not in ("per_category", "model", "weights", *sampling)}
    card = modelfile.load_card(SHIPPED)
    card.pop("note", None)  # "not evaluated yet": it is now
    modelfile.save_card(
        SHIPPED,
        card
        | {
            "evaluation": keep
            | {"sampling": sampling, "command": "doodlelab evaluate generator --model sketch"},
            "per_category_recognizability": report["per_category"],
        },
    )
    completion = report["completion"]
    print(
        f"wrote {SHIPPED}: recognizability {report['recognizability']:.4f} (judge on real test "
        f"{report['classifier_accuracy_real_test']:.4f}), Fréchet ratio {report['frechet_ratio']:.2f}, "
        f"variety median {report['variety_median']:.2f}; completion at half the ink: prefix "
        f"{completion['prefix_top1']:.4f} -> {completion['completed_with_category_top1']:.4f} with the "
        f"category, {completion['completed_without_category_top1']:.4f} without"
    )


if __name__ == "__main__":
    main()
