"""How varied a generator's drawings of one category are, next to real drawings of it: per category, the mean
distance between pairs of 16 samples in the classifier's penultimate features, divided by the same for 16
real test drawings (1 = as varied as people's drawings; near 0 = one drawing, mode collapse).

    python scripts/diversity.py [--model gan|diffusion|PATH] [--n 16] [--steps 25]
"""

from __future__ import annotations

import argparse

import numpy as np

from doodlelab.data import cache
from doodlelab.data.categories import categories
from doodlelab.generative.evaluate import Judge
from doodlelab.generative.generator import load


def spread(features: np.ndarray) -> float:
    """Mean Euclidean distance over all pairs of rows of (N, D)."""
    d = np.sqrt(((features[:, None] - features[None]) ** 2).sum(-1))
    return float(d[np.triu_indices(len(features), 1)].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gan")
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--steps", type=int, default=25, help="diffusion: DDIM steps")
    args = parser.parse_args()
    generator, judge, names = load(args.model), Judge(), categories()
    test_x, test_y = cache.load_split("test", names, 28)
    ratios = {}
    for i, name in enumerate(names):
        kwargs = {"steps": args.steps} if generator.kind == "diffusion" else {}
        fake = judge.run(generator(name, args.n, seed=i, **kwargs))[1]
        real = judge.run(test_x[test_y == judge.classes.index(name)][: args.n])[1]
        ratios[name] = spread(fake) / spread(real)
    values = np.array(list(ratios.values()))
    worst = sorted(ratios.items(), key=lambda kv: kv[1])[:10]
    print(f"{args.model}: diversity relative to real drawings over {len(values)} categories, {args.n} each: "
          f"median {np.median(values):.2f}, below 0.5: {(values < 0.5).sum()}, "
          f"below 0.3: {(values < 0.3).sum()}")
    print("least varied: " + ", ".join(f"{n} {r:.2f}" for n, r in worst))


if __name__ == "__main__":
    main()
