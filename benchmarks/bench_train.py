"""Training throughput of the classifier on this CPU, in images per second, with the shipped recipe.

    python benchmarks/bench_train.py [--categories 30] [--steps 30]

- augmentation: stroke-level augmented batches rendered in one process (what each loader worker does);
- network step: forward, backward and AdamW on a batch of real bitmaps (bfloat16 autocast as in training);
- end to end: one epoch of `doodlelab.classifier.train.train` on the first N categories (render workers,
  training, then validation, checkpoint and curves), as `doodlelab train classifier` runs it.

Prints a table and writes benchmarks/results/train.json.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from doodlelab.classifier.config import ClassifierConfig
from doodlelab.classifier.data import BLOCK, AugmentedBatches, EpochPlan
from doodlelab.classifier.model import to_input
from doodlelab.classifier.train import new_model, train, train_step
from doodlelab.data import cache
from doodlelab.data.categories import categories


def augmentation(data: cache.SplitArrays, config: ClassifierConfig, batches: int) -> float:
    """Images per second of augmented batches rendered in this process."""
    plan = EpochPlan(data.blocks(BLOCK), config.batch_size, 1, config.seed, 0, config.shuffle_window)
    loader = AugmentedBatches(data, plan, config.augment)
    start = time.perf_counter()
    images = sum(len(loader[b][0]) for b in range(min(batches, plan.steps)))
    return images / (time.perf_counter() - start)


def network_step(data: cache.SplitArrays, config: ClassifierConfig, steps: int) -> float:
    """Images per second of forward + backward + AdamW on one batch of real bitmaps."""
    torch.manual_seed(config.seed)
    model = new_model(config).to(memory_format=torch.channels_last).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    x = to_input(torch.from_numpy(data.images[: config.batch_size]))
    x = x.contiguous(memory_format=torch.channels_last)
    y = torch.from_numpy(data.labels[: config.batch_size])

    def step() -> None:
        train_step(model, optimizer, x, y, config)  # the trainer's own step

    for _ in range(3):  # warm-up
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * len(y) / (time.perf_counter() - start)


def end_to_end(config: ClassifierConfig, train_images: int) -> dict:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        train(config, out, progress=False, resume=False, until_epoch=1)
        seconds = time.perf_counter() - start
    return {"seconds": round(seconds, 1), "images_per_s": round(train_images / seconds, 1)}


def main() -> None:
    from common import describe, machine, table, write

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--categories", type=int, default=30, help="train on the first N categories")
    parser.add_argument("--steps", type=int, default=30, help="timed network steps")
    parser.add_argument("--batches", type=int, default=10, help="timed augmented batches")
    args = parser.parse_args()
    names = tuple(categories()[: args.categories])
    config = ClassifierConfig(categories=names, epochs=1)
    data = cache.load_split_arrays("train", list(names), config.size)
    rows = {
        "augmentation_one_process": round(augmentation(data, config, args.batches), 1),
        "network_step": round(network_step(data, config, args.steps), 1),
    }
    epoch = end_to_end(config, len(data.images))
    report = {
        "config": config.to_dict() | {"categories": len(names)},
        "torch_threads": torch.get_num_threads(),
        "train_images": len(data.images),
        "images_per_s": rows,
        "epoch": epoch,
    }
    path = write("train", report)
    print(
        f"classifier training on CPU ({describe(machine())}, torch {torch.get_num_threads()} threads, "
        f"batch {config.batch_size}, bf16 {config.bf16}, {config.workers} render worker):"
    )
    print(
        table(
            ["part", "images/s"],
            [
                ["augmented batches, one process", rows["augmentation_one_process"]],
                ["network step (forward, backward, AdamW)", rows["network_step"]],
                [
                    f"one epoch end to end ({len(data.images)} images, {epoch['seconds']} s with validation)",
                    epoch["images_per_s"],
                ],
            ],
        )
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
