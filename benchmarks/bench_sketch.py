"""Speed of the stroke model end to end on this CPU: one doodle, 16 doodles, and one completion of a test
drawing cut at half its ink (issue 20's targets: 150 ms and 200 ms), through `sketch_sample.Sketcher`.

    python benchmarks/bench_sketch.py [--model sketch | runs/sketch/sketch.safetensors | untrained]
                                      [--repeats 5] [--engine numpy|torch]

Sampling runs on the serving engine, `sketch_numpy.NumpySketchNet` (no PyTorch). `untrained` builds the
default network (SketchConfig()) with random weights and a pen head that never ends a drawing, so every
doodle runs to max_len points: the longest a doodle can be, a worst case for the architecture before a
model is trained. Each row reports the points drawn. Writes benchmarks/results/sketch.json.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def untrained(engine: str = "numpy"):
    """A Sketcher over the default network and the 345 categories, with random weights whose drawings run
    to max_len points (PEN_END made improbable), on `engine`: numpy (serving) or torch (for comparison)."""
    import torch

    from doodlelab.data.categories import categories
    from doodlelab.generative.sketch_config import SketchConfig
    from doodlelab.generative.sketch_data import PEN_END
    from doodlelab.generative.sketch_model import OnNumpy, SketchTransformer
    from doodlelab.generative.sketch_numpy import NumpySketchNet
    from doodlelab.generative.sketch_sample import Sketcher

    torch.manual_seed(0)
    config, classes = SketchConfig(), list(categories())
    net = SketchTransformer(config, len(classes)).eval()
    with torch.no_grad():
        net.head_pen.bias[PEN_END] = -30.0
    if engine == "torch":
        return Sketcher(OnNumpy(net), config, classes, Path("untrained"))
    weights = {k: v.numpy() for k, v in net.state_dict().items()}
    return Sketcher(NumpySketchNet(weights, config, len(classes)), config, classes, Path("untrained"))


def test_drawing(category: str) -> tuple[str, list[np.ndarray]]:
    """(where it came from, strokes): the first test-split drawing of `category`, else a square."""
    try:
        from doodlelab.data import cache

        split = cache.load_split_arrays("test", [category])
        item = int(np.flatnonzero(split.drawing >= 0)[0])
        return f"test split, first {category}", split.strokes_of(item)
    except Exception:  # no data here: a square stands in
        return "a square", [np.array([[0, 0], [255, 0], [255, 255], [0, 255], [0, 0]], np.float64)]


def timed(call, repeats: int) -> dict:
    """Median and all wall times (ms) of `call(seed)` -> drawings over `repeats` seeds, after one warm-up,
    with the points drawn per call."""
    call(0)
    times, points = [], []
    for seed in range(1, repeats + 1):
        start = time.perf_counter()
        drawings = call(seed)
        times.append((time.perf_counter() - start) * 1e3)
        points.append(sum(len(s) for d in drawings for s in d))
    return {
        "median_ms": round(float(np.median(times)), 1),
        "ms": [round(t, 1) for t in times],
        "points": points,
    }


def main() -> None:
    from common import describe, machine, table, write

    from doodlelab.generative.sketch_eval import half_ink
    from doodlelab.generative.sketch_sample import load

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sketch", help="sketch (shipped), a sketch.safetensors, untrained")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--engine", choices=("numpy", "torch"), default="numpy", help="untrained: the network to time"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads with --engine torch")
    args = parser.parse_args()
    if args.engine == "torch" and args.model != "untrained":
        parser.error("--engine torch times the untrained network only (model files draw with NumPy)")
    if args.engine == "torch":
        import torch

        torch.set_num_threads(args.threads)
    sketcher = untrained(args.engine) if args.model == "untrained" else load(args.model)
    category = "cat" if "cat" in sketcher.classes else sketcher.classes[0]
    source, drawing = test_drawing(category)
    prefix = half_ink(drawing)
    rows = {
        "one doodle": timed(lambda s: sketcher.generate(category, 1, s), args.repeats),
        "16 doodles": timed(lambda s: sketcher.generate(category, 16, s), args.repeats),
        "one completion": timed(lambda s: sketcher.complete(prefix, False, category, 1, s), args.repeats),
    }
    report = {
        "machine": machine(),
        "model": str(args.model),
        "config": sketcher.config.to_dict(),
        "engine": args.engine if args.model == "untrained" else "numpy",
        "completed": f"{source}, cut at half its ink ({sum(len(s) for s in prefix)} points)",
        "rows": rows,
        "targets_ms": {"one doodle": 150, "one completion": 200},
    }
    print(describe(report["machine"]))
    print(
        table(["", "median ms", "points drawn"], [[k, v["median_ms"], v["points"]] for k, v in rows.items()])
    )
    print(f"wrote {write('sketch' if args.engine == 'numpy' else 'sketch_torch', report)}")


if __name__ == "__main__":
    main()
