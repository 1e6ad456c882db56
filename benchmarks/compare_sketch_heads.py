"""The stroke model's design choice, measured: the categorical offset head (shipped) against Sketch-RNN's
mixture-density head (`sketch_mdn`), the same transformer body, data, steps, optimiser and seed, judged on
the validation split by loss per point and by the generators' yardstick (recognizability, Fréchet, variety).

    python benchmarks/compare_sketch_heads.py [--every 10] [--steps 2000] [--width 128] [--layers 3]
                                              [--heads tokens mdn] [--per-category 10] [--threads 2]

`--every K` takes every K-th category with stroke data (35 of the 345 at K = 10). Both runs use the
training loop of `doodlelab train sketch` (AdamW, warm-up and cosine decay, bf16 autocast, EMA, gradient
clipping, the same batches drawn from (seed, step)). Writes benchmarks/results/sketch_heads.json.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def train_head(head: str, config, names: list[str], root: Path | None) -> tuple[object, dict]:
    """Train the `head` model ('tokens' or 'mdn') for config.steps; (EMA network, history)."""
    import torch

    from doodlelab import lr_schedules
    from doodlelab.generative import sketch_data, training
    from doodlelab.generative.sketch_mdn import MdnSketchTransformer
    from doodlelab.generative.sketch_model import SketchTransformer
    from doodlelab.generative.sketch_train import new_optimizer, tensors, train_batch, validation_loss

    data, val = (
        sketch_data.SketchSet(s, names, config.grid_size, config.max_len, root) for s in ("train", "val")
    )
    torch.manual_seed(config.seed)
    model = (MdnSketchTransformer if head == "mdn" else SketchTransformer)(config, len(names))
    ema = training.EMA(model, config.ema)
    optimizer = new_optimizer(model, config)
    history: dict[str, list[float]] = {"step": [], "loss": [], "val_loss": []}
    started, sums = time.perf_counter(), []
    for step in range(config.steps):
        torch.manual_seed(config.seed * 1_000_003 + step)
        lr = lr_schedules.lr_at(step, config.steps, config.lr, "cosine", config.warmup, 0.1 * config.lr)
        for group in optimizer.param_groups:
            group["lr"] = lr
        model.train()
        arrays = tensors(train_batch(data, config, step, len(names)), torch.device("cpu"))
        with training.autocast(config.bf16, "cpu"):
            loss, logged = model.loss(**arrays)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        ema.update(model)
        sums.append(logged["loss"])
        if (step + 1) % config.checkpoint_every == 0 or step + 1 == config.steps:
            torch.manual_seed(0)  # the dequantization noise of the mdn's validation loss
            history["step"].append(step + 1)
            history["loss"].append(float(np.mean(sums)))
            history["val_loss"].append(validation_loss(ema.model, val, config))
            sums = []
            print(
                f"{head} step {step + 1}: loss {history['loss'][-1]:.3f} val {history['val_loss'][-1]:.3f}"
                f" ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
    history["seconds"] = time.perf_counter() - started
    return ema.model, history


def renderer(head: str, net, config, names: list[str], temperature: float):
    """generate(category, n, seed) -> (n, 28, 28) uint8 through the one pipeline, for `evaluate_generator`."""
    from doodlelab.data import strokes as pipeline
    from doodlelab.generative import sketch_data as sd
    from doodlelab.generative.sketch_mdn import sample
    from doodlelab.generative.sketch_model import OnNumpy
    from doodlelab.generative.sketch_sample import Sketcher

    sketcher = Sketcher(OnNumpy(net), config, names, Path(head))

    def generate(category: str, n: int, seed: int) -> np.ndarray:
        if head == "tokens":
            drawings = sketcher.generate(category, n, seed, temperature)
        else:
            rows = sample(net, names.index(category), n, seed, temperature, config.max_len)
            drawings = [pipeline.simplify(sd.from_grid(sd.decode(r), config.grid_size)) for r in rows]
        return np.stack([pipeline.render(d) for d in drawings])

    return generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--heads", nargs="+", default=["tokens", "mdn"], choices=["tokens", "mdn"])
    parser.add_argument("--per-category", type=int, default=10)
    parser.add_argument("--temperatures", type=float, nargs="+", default=[0.5, 0.7])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="sketch_heads")
    args = parser.parse_args()

    import common
    import torch

    from doodlelab.generative.evaluate import evaluate_generator
    from doodlelab.generative.sketch_config import SketchConfig
    from doodlelab.generative.sketch_train import class_names

    torch.set_num_threads(args.threads)
    names = class_names(SketchConfig(), None)[:: args.every]
    config = SketchConfig(
        categories=tuple(names),
        width=args.width,
        layers=args.layers,
        steps=args.steps,
        warmup=min(500, args.steps // 10),
        checkpoint_every=max(1, args.steps // 4),
        val_size=512,
    )
    report = {"categories": names, "config": config.to_dict(), "runs": {}}
    for head in args.heads:
        net, history = train_head(head, config, names, None)
        scores = {}
        for t in args.temperatures:
            got = evaluate_generator(
                renderer(head, net, config, names, t), args.per_category, names, split="val"
            )
            scores[str(t)] = {k: v for k, v in got.items() if not isinstance(v, (list, dict))}
            print(head, t, scores[str(t)], flush=True)
        report["runs"][head] = {"history": history, "yardstick": scores}
    path = common.write(args.out, report)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
