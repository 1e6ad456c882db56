"""Generation speed and quality: ms per 16 samples for the diffusion model (DDIM at 10/25/50/100 steps,
DDPM at all T steps; the U-Net through ONNX Runtime when its export ships, and DDIM 50 through PyTorch
too) and the GAN, each with the recognizability of its samples, as one table.

    python benchmarks/bench_generate.py [--categories-every 15] [--per-category 2] [--repeats 5]
                                        [--models diffusion gan]

Recognizability: the shipped classifier's top-1 on samples of every 15th category (2 each by default).
Writes benchmarks/results/generate.json; rows of models not rerun (`--models gan`) are kept from it.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def timed_ms(generate, repeats: int) -> float:
    """Median wall time of 16 samples of 'cat' over `repeats` seeds (one warm-up first)."""
    generate("cat", 16, 0)
    times = []
    for seed in range(1, repeats + 1):
        start = time.perf_counter()
        generate("cat", 16, seed)
        times.append(time.perf_counter() - start)
    return round(float(np.median(times)) * 1e3, 1)


def recognizability(generate, judge, names: list[str], per_category: int) -> float:
    labels = np.repeat([judge.classes.index(n) for n in names], per_category)
    images = np.concatenate([generate(n, per_category, 1000 + i) for i, n in enumerate(names)])
    predicted, _ = judge.run(images)
    return round(float((predicted == labels).mean()), 4)


def main() -> None:
    from common import RESULTS, describe, machine, table, write

    from doodlelab.data.categories import categories
    from doodlelab.generative.evaluate import Judge
    from doodlelab.generative.generator import DoodleGenerator, load, shipped

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--categories-every", type=int, default=15)
    parser.add_argument("--per-category", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--ddpm",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="include DDPM over all T steps (the slowest row)",
    )
    parser.add_argument("--models", nargs="+", choices=("diffusion", "gan"), default=["diffusion", "gan"])
    args = parser.parse_args()
    judge, names = Judge(), categories()[:: args.categories_every]
    settings: list[tuple[str, str, dict]] = []
    if "diffusion" in args.models and shipped("diffusion").is_file():
        settings += [("diffusion", f"DDIM {k} steps", {"steps": k}) for k in (10, 25, 50, 100)]
        if args.ddpm:
            settings.append(("diffusion", "DDPM all T steps", {"sampler": "ddpm"}))
        if load("diffusion").engine == "onnx":
            settings.append(("diffusion", "DDIM 50 steps", {"steps": 50, "engine": "torch"}))
    if "gan" in args.models and shipped("gan").is_file():
        settings.append(("gan", "one forward pass", {}))
    rows, results = [], []
    last = RESULTS / "generate.json"
    if set(args.models) != {"diffusion", "gan"} and last.is_file():  # keep the rows of the others
        results = [r for r in json.loads(last.read_text())["rows"] if r["model"] not in args.models]
        rows = [[r["model"], r["sampler"], r["ms_per_16"], f"{r['recognizability']:.3f}"] for r in results]
    for model, label, options in settings:
        options = dict(options)
        engine = options.pop("engine", "auto")
        generator = DoodleGenerator(shipped(model), engine=engine)
        label = f"{label} ({'ONNX Runtime' if generator.engine == 'onnx' else 'PyTorch'})"

        def generate(category: str, n: int, seed: int, generator=generator, options=options):
            return generator(category, n, seed, **options)

        ms = timed_ms(generate, args.repeats if options.get("sampler") != "ddpm" else 1)
        rec = recognizability(generate, judge, names, args.per_category)
        results.append(
            {
                "model": model,
                "sampler": label,
                "ms_per_16": ms,
                "recognizability": rec,
                "guidance": getattr(generator.config, "guidance", None),
                "engine": generator.engine,
            }
        )
        rows.append([model, label, ms, f"{rec:.3f}"])
        print(table(["model", "sampler", "ms / 16 samples", "recognizability"], rows[-1:]), flush=True)
    info = machine()
    print(f"\n{describe(info)}; recognizability over {len(names)} categories x {args.per_category}\n")
    print(table(["model", "sampler", "ms / 16 samples", "recognizability"], rows))
    path = write("generate", {"categories": len(names), "per_category": args.per_category, "rows": results})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
