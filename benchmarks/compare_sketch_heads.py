"""The stroke model's design choice, measured: the categorical offset head against Sketch-RNN's
mixture-density head (`--head tokens|mixture`), the same transformer body, data, steps, optimiser and seed,
judged on the validation split by loss per point and by the generators' yardstick (recognizability,
Fréchet, variety).

    python benchmarks/compare_sketch_heads.py [--every 10] [--steps 2000] [--width 128] [--layers 3]
        [--heads tokens mixture] [--per-category 10] [--temperatures 0.5 0.7] [--threads 2] [--runs DIR]

`--every K` takes every K-th category with stroke data (35 of the 345 at K = 10). Each head is a run of
`doodlelab train sketch` in DIR/HEAD (AdamW, warm-up and cosine decay, bf16 autocast, EMA, the same batches
drawn from (seed, step)): rerun the same command after a stop and it resumes. The doodles are drawn by the
shipped sampling path (`Sketcher`, NumPy). Writes benchmarks/results/sketch_heads.json (or --out).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def renderer(sketcher, temperature: float):
    """generate(category, n, seed) -> (n, 28, 28) uint8 through the one pipeline, for `evaluate_generator`."""
    from doodlelab.data import strokes as pipeline

    def generate(category: str, n: int, seed: int) -> np.ndarray:
        drawings = sketcher.generate(category, n, seed, temperature)
        return np.stack([pipeline.render(d) for d in drawings])

    return generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--heads", nargs="+", default=["tokens", "mixture"], choices=["tokens", "mixture"])
    parser.add_argument("--per-category", type=int, default=10)
    parser.add_argument("--temperatures", type=float, nargs="+", default=[0.5, 0.7])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=Path, default=Path("runs/sketch_heads"))
    parser.add_argument("--out", default="sketch_heads")
    args = parser.parse_args()

    import common

    from doodlelab.generative.evaluate import evaluate_generator
    from doodlelab.generative.sketch_config import SketchConfig
    from doodlelab.generative.sketch_sample import load
    from doodlelab.generative.sketch_train import class_names, train

    names = class_names(SketchConfig(), None)[:: args.every]
    report: dict = {"categories": names, "runs": {}}
    for head in args.heads:
        config = SketchConfig(
            categories=tuple(names),
            head=head,
            width=args.width,
            layers=args.layers,
            steps=args.steps,
            warmup=min(500, args.steps // 10),
            checkpoint_every=max(1, args.steps // 8),
            val_size=512,
            threads=args.threads,
        )
        state = train(config, args.runs / head, progress=False)
        sketcher = load(args.runs / head / "sketch.safetensors")
        scores = {}
        for t in args.temperatures:
            got = evaluate_generator(renderer(sketcher, t), args.per_category, names, split="val")
            scores[str(t)] = {k: v for k, v in got.items() if not isinstance(v, (list, dict))}
            print(head, t, scores[str(t)], flush=True)
        report["config"] = config.to_dict() | {"head": None}
        report["runs"][head] = {"history": state["history"], "seconds": state["seconds"], "yardstick": scores}
    path = common.write(args.out, report)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
