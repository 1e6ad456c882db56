"""Memory and speed of the data path as the data grows: the sharded, streaming cache against the in-memory
path it replaced (the package at --old-rev). Usage: python benchmarks/bench_data_scale.py --scales 1000 20000
[--new-only --no-speed --out benchmarks/results/data_scale_20x.json]
"""

# A synthetic dataset in the official simplified ndjson format (20 categories x N drawings, made from the
# shared drawings by random affine maps, new key_ids) is written to a temporary folder outside the repository.
# For each N: peak RSS (`/usr/bin/time -v`) of `doodlelab data cache` and of 30 training steps; then, on the
# shared data, drawings per second of the loader and of a training step. Writes
# benchmarks/results/data_scale.json.

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
OLD_REV = "d2b9d7b"  # the last commit with the in-memory cache (one .npz per category)
CATEGORIES = 20
STEPS = 30


def make_dataset(source: Path, out: Path, per_category: int, seed: int = 0) -> None:
    """out/quickdraw/simplified/<category>.ndjson: `per_category` drawings of each of the first 20 shared
    categories, each a random affine map (rotation, anisotropic scale, shear) of a shared drawing,
    re-aligned to the top-left and scaled so the longer side is 255, integer coordinates."""
    from doodlelab.data import formats

    rng = np.random.default_rng(seed)
    folder = out / "quickdraw" / "simplified"
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted((source / "simplified").glob("*.ndjson"))[:CATEGORIES]:
        shared = [d for d in formats.iter_drawings(path, on_error="skip") if not d.is_raw]
        with (folder / path.name).open("w") as fh:
            for i in range(per_category):
                d = shared[i % len(shared)]
                a, s, k = rng.uniform(-0.3, 0.3), np.exp(rng.uniform(-0.2, 0.2, 2)), rng.uniform(-0.2, 0.2)
                turn = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
                m = turn @ [[1, k], [0, 1]] @ np.diag(s)
                moved = [stroke @ m.T for stroke in d.strokes]
                low = np.min([p.min(axis=0) for p in moved], axis=0)
                side = max(np.max([p.max(axis=0) for p in moved], axis=0) - low) or 1.0
                drawing = [np.round((p - low) * 255 / side).astype(int) for p in moved]
                record = {
                    "word": d.word,
                    "countrycode": "US",
                    "timestamp": "2017-03-01 00:00:00.00000 UTC",
                    "recognized": True,
                    "key_id": f"{9 * 10**18 + i:019d}",
                    "drawing": [[p[:, 0].tolist(), p[:, 1].tolist()] for p in drawing],
                }
                fh.write(json.dumps(record) + "\n")


def timed(command: list[str], env: dict) -> dict:
    """Run a command under /usr/bin/time -v: {seconds, peak_rss_mb}; raises when it fails."""
    start = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-v", *command], env=env, capture_output=True, text=True, cwd=tempfile.gettempdir()
    )  # not the repository: PYTHONPATH picks the tree
    if done.returncode != 0:
        raise RuntimeError(f"{command} failed:\n{done.stderr[-3000:]}")
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    return {"seconds": round(time.perf_counter() - start, 1), "peak_rss_mb": round(peak / 1024, 1)}


def old_package(rev: str, where: Path) -> Path:
    """The doodlelab package as of `rev`, extracted under `where` (for PYTHONPATH)."""
    archive = subprocess.run(["git", "archive", rev, "doodlelab"], cwd=REPO, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive.stdout, check=True)
    return where


def steps(data, config, n: int, network: bool) -> float:
    """Drawings per second of `n` batches of the loader (+ the training step when `network`)."""
    import torch

    from doodlelab.classifier import data as batches
    from doodlelab.classifier.model import new_model, to_input
    from doodlelab.classifier.train import train_step

    if hasattr(batches, "EpochPlan"):  # this tree
        plan = batches.EpochPlan(
            data.blocks(batches.BLOCK), config.batch_size, 1, config.seed, 0, config.shuffle_window
        )
        loader = batches.AugmentedBatches(data, plan, config.augment)
    else:  # the old tree
        plan = batches.epoch_batches(len(data.images), config.batch_size, config.seed, 0)
        loader = batches.AugmentedBatches(data, plan, config.augment, config.seed, 0)
    model = new_model(config).to(memory_format=torch.channels_last).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
    start = time.perf_counter()
    for b in range(n):
        images, labels = loader[b % len(loader)]
        if network:
            train_step(
                model,
                optimizer,
                to_input(images).contiguous(memory_format=torch.channels_last),
                labels,
                config,
            )
    return n * config.batch_size / (time.perf_counter() - start)


def child(args: argparse.Namespace) -> None:
    """Run inside the old or new tree: `old-train` (the old trainer's first 30 steps: it has no
    --max-steps) or `speed` (loader and step throughput on the data of DOODLELAB_DATA)."""
    from doodlelab.classifier.config import ClassifierConfig
    from doodlelab.data import cache

    config = ClassifierConfig(workers=0)
    if args.child == "old-train":
        train = cache.load_split_arrays("train")
        cache.load_split_arrays("val")
        print(json.dumps({"drawings_per_s": steps(train, config, STEPS, network=True)}))
        return
    try:
        from doodlelab.data import stream

        data = stream.open_split("train")
    except ImportError:
        data = cache.load_split_arrays("train")
    print(
        json.dumps(
            {"loader": steps(data, config, 40, network=False), "step": steps(data, config, 20, network=True)}
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1000, 20000], help="drawings per category")
    parser.add_argument("--old-rev", default=OLD_REV)
    parser.add_argument("--workers", type=int, default=2, help="processes of `data cache`")
    parser.add_argument("--no-speed", action="store_true", help="skip the throughput on the shared data")
    parser.add_argument("--new-only", action="store_true", help="measure this tree only (not --old-rev)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "data_scale.json")
    parser.add_argument("--child", choices=("old-train", "speed"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    from doodlelab import settings

    shared = settings.quickdraw_dir()
    result = {
        "host": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared with "
        "other work)",
        "categories": CATEGORIES,
        "steps": STEPS,
        "scales": {},
    }
    with tempfile.TemporaryDirectory(prefix="doodlelab-scale-") as tmp:
        tmp = Path(tmp)
        trees = (
            {} if args.new_only else {"old": old_package(args.old_rev, (tmp / "old").mkdir() or tmp / "old")}
        )
        trees["new"] = REPO
        base = os.environ | {"OMP_NUM_THREADS": "1", "DOODLELAB_PROGRESS": "0"}
        me = [sys.executable, str(Path(__file__).resolve())]
        for n in args.scales:
            data = tmp / f"data-{n}"
            make_dataset(shared, data, n)
            row = {
                "drawings": CATEGORIES * n,
                "source_mb": round(sum(p.stat().st_size for p in data.rglob("*.ndjson")) / 2**20, 1),
            }
            for path, tree in trees.items():
                env = base | {
                    "PYTHONPATH": str(tree),
                    "DOODLELAB_DATA": str(data),
                    "DOODLELAB_CACHE": str(tmp / f"cache-{path}-{n}"),
                }
                row[f"{path}_cache"] = timed(
                    [sys.executable, "-m", "doodlelab", "data", "cache", "--workers", str(args.workers)], env
                )
                files = [p for p in (tmp / f"cache-{path}-{n}").rglob("*") if p.is_file()]
                row[f"{path}_cache"]["disk_mb"] = round(sum(p.stat().st_size for p in files) / 2**20, 1)
                train = (
                    (me + ["--child", "old-train"])
                    if path == "old"
                    else [
                        sys.executable,
                        "-m",
                        "doodlelab",
                        "train",
                        "classifier",
                        "--out",
                        str(tmp / f"run-{n}"),
                        "--max-steps",
                        str(STEPS),
                        "--workers",
                        "0",
                        "--no-export",
                    ]
                )
                row[f"{path}_train_{STEPS}_steps"] = timed(train, env)
            result["scales"][str(n)] = row
            print(json.dumps({n: row}), flush=True)
        for path, tree in ({} if args.no_speed else trees).items():  # on the shared data, caches built before
            env = base | {
                "PYTHONPATH": str(tree),
                "DOODLELAB_DATA": str(shared.parent),
                "DOODLELAB_CACHE": os.environ.get("DOODLELAB_CACHE", str(settings.cache_dir())),
            }
            done = subprocess.run(
                me + ["--child", "speed"], env=env, capture_output=True, text=True, cwd=tmp, check=True
            )
            result[f"{path}_shared_drawings_per_s"] = json.loads(done.stdout.splitlines()[-1])
    small, large = (result["scales"][str(s)] for s in (min(args.scales), max(args.scales)))
    result["growth"] = {
        k: round(large[k]["peak_rss_mb"] / small[k]["peak_rss_mb"] - 1, 3)
        for k in small
        if isinstance(small[k], dict)
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
