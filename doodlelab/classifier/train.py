"""Train the classifier: AdamW with warm-up and cosine decay, label smoothing, early stopping on validation
accuracy, a checkpoint per epoch (atomic, resumable) and training curves. Runs as one process or as
several under `torchrun` (DistributedDataParallel; gloo on CPU, nccl on GPUs).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.utils.data import DataLoader

from doodlelab import plots
from doodlelab.classifier import checkpoint
from doodlelab.classifier.config import ClassifierConfig
from doodlelab.classifier.data import AugmentedBatches, epoch_batches
from doodlelab.classifier.model import new_model, to_input
from doodlelab.data import cache
from doodlelab.lr_schedules import lr_at

LAST, BEST, CURVES = "last.safetensors", "best.safetensors", "curves.png"


@dataclass
class TrainResult:
    """Where the run left its files, its per-epoch history and why it ended."""

    out_dir: Path
    history: dict[str, list[float]] = field(default_factory=dict)
    best_epoch: int = 0
    best_val_accuracy: float = 0.0
    stopped_early: bool = False
    seconds: float = 0.0


def start_from(model: torch.nn.Module, config: ClassifierConfig) -> None:
    """Load the weights of the model file `config.init` into `model` (a fine-tune): its network settings
    must be this run's; the optimizer starts afresh."""
    start, start_config, _ = checkpoint.load_model(config.init)
    network = ("arch", "widths", "blocks", "size", "categories")
    differ = [k for k in network if getattr(start_config, k) != getattr(config, k)]
    if differ:
        raise checkpoint.CheckpointError(f"{config.init}: its {', '.join(differ)} differ from this run's")
    model.load_state_dict(start.state_dict())


def _world() -> tuple[int, int]:
    """(rank, world size), joining the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def _optimizer(model: torch.nn.Module, config: ClassifierConfig) -> torch.optim.Optimizer:
    decay = [p for p in model.parameters() if p.ndim > 1]  # conv and linear weights
    rest = [p for p in model.parameters() if p.ndim <= 1]  # biases and batch-norm scales
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr)


@torch.no_grad()
def validate(model: torch.nn.Module, images: np.ndarray, labels: np.ndarray, rank: int = 0,
             world: int = 1, batch: int = 1024) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) on un-augmented images, each rank taking a share."""
    model.eval()
    total = torch.zeros(3, dtype=torch.float64)  # loss sum, correct, count
    for start in range(rank * batch, len(images), batch * world):
        x = to_input(torch.from_numpy(images[start : start + batch]))
        y = torch.from_numpy(labels[start : start + batch])
        logits = model(x.contiguous(memory_format=torch.channels_last))
        total += torch.tensor([F.cross_entropy(logits, y, reduction="sum").item(),
                               (logits.argmax(1) == y).sum().item(), len(y)], dtype=torch.float64)
    if world > 1:
        dist.all_reduce(total)
    return float(total[0] / total[2]), float(total[1] / total[2])


def train_step(net: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, labels: torch.Tensor,
               config: ClassifierConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimisation step on images x (B, 1, S, S) and labels (B,): bfloat16 autocast when configured,
    label-smoothed cross-entropy, AdamW. Returns (loss, logits (B, C))."""
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.bf16):
        logits = net(x)
    loss = F.cross_entropy(logits.float(), labels, label_smoothing=config.label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss, logits


def train(config: ClassifierConfig, out_dir: str | Path, root: Path | None = None,
          cache_root: Path | None = None, progress: bool = True, resume: bool = True,
          until_epoch: int | None = None) -> TrainResult:
    """Train (or resume from `out_dir/last.safetensors`) and keep the best epoch in `out_dir/best.*`.

    `until_epoch` pauses the run after that epoch (as a stop would); calling again resumes it."""
    from tqdm import tqdm

    rank, world = _world()
    out = Path(out_dir)
    if config.threads:
        torch.set_num_threads(config.threads)
    names = list(config.categories) or None
    train_set = cache.load_split_arrays("train", names, config.size, root=root, cache_root=cache_root)
    val_set = cache.load_split_arrays("val", names, config.size, root=root, cache_root=cache_root)
    torch.manual_seed(config.seed)
    model = new_model(config).to(memory_format=torch.channels_last)
    optimizer = _optimizer(model, config)
    result = TrainResult(out)
    state = {"epoch": 0, "history": {}, "best_epoch": 0, "best_val_accuracy": -1.0, "bad_epochs": 0,
             "seconds": 0.0}
    if resume and (out / LAST).exists():
        state = checkpoint.load_training(out / LAST, model, optimizer, config)
    elif config.init:
        start_from(model, config)
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    per_rank = config.batch_size // world
    steps_per_epoch = len(epoch_batches(len(train_set.images), per_rank, config.seed, 0, rank, world))
    if steps_per_epoch == 0:
        raise checkpoint.CheckpointError(f"only {len(train_set.images)} training drawings: "
                                         f"fewer than one batch of {config.batch_size}")
    total_steps, warmup = steps_per_epoch * config.epochs, round(steps_per_epoch * config.warmup_epochs)
    history: dict[str, list[float]] = state["history"]
    started = time.perf_counter() - state["seconds"]
    done = config.patience > 0 and state["bad_epochs"] >= config.patience  # a resumed run that had stopped
    last = state["epoch"] if done else min(config.epochs, until_epoch or config.epochs)
    for epoch in range(state["epoch"], last):
        torch.manual_seed(config.seed * 1000 + epoch * world + rank)  # dropout: reproducible on resume
        batches = epoch_batches(len(train_set.images), per_rank, config.seed, epoch, rank, world)
        loader = DataLoader(AugmentedBatches(train_set, batches, config.augment, config.seed, epoch),
                            batch_size=None, num_workers=config.workers)
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch",
                   disable=not progress or rank != 0, dynamic_ncols=True)
        net.train()
        seen = correct = 0
        loss_sum = 0.0
        for i, (images, labels) in enumerate(bar):
            lr = lr_at(epoch * steps_per_epoch + i, total_steps, config.lr, "cosine", warmup)
            for group in optimizer.param_groups:
                group["lr"] = lr
            x = to_input(images).contiguous(memory_format=torch.channels_last)
            loss, logits = train_step(net, optimizer, x, labels, config)
            seen += len(labels)
            correct += int((logits.argmax(1) == labels).sum())
            loss_sum += float(loss.detach()) * len(labels)
            if i % 20 == 0:
                bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}", lr=f"{lr:.2e}")
        bar.close()
        val_loss, val_acc = validate(model, val_set.images, val_set.labels, rank, world)
        row = {"epoch": epoch + 1, "lr": lr, "train_loss": loss_sum / seen, "train_accuracy": correct / seen,
               "val_loss": val_loss, "val_accuracy": val_acc, "seconds": time.perf_counter() - started}
        for key, value in row.items():
            history.setdefault(key, []).append(value)
        improved = val_acc > state["best_val_accuracy"]
        if improved:
            state.update(best_epoch=epoch + 1, best_val_accuracy=val_acc, bad_epochs=0)
        else:
            state["bad_epochs"] += 1
        state.update(epoch=epoch + 1, history=history, seconds=row["seconds"])
        stop = config.patience > 0 and state["bad_epochs"] >= config.patience
        if rank == 0:
            if improved:
                best = {"epoch": epoch + 1, "val_accuracy": val_acc}
                checkpoint.save_model(out / BEST, model, config, best)
            checkpoint.save_training(out / LAST, model, optimizer, config, state)
            plots.epoch_curves(history, out / CURVES)
            if progress:
                print(f"epoch {epoch + 1}: train loss {row['train_loss']:.3f} acc {row['train_accuracy']:.3f}"
                      f" | val loss {val_loss:.3f} acc {val_acc:.4f}{' (best)' if improved else ''}",
                      flush=True)
        if stop:
            result.stopped_early = True
            break
    if world > 1:
        dist.barrier()
    result.history, result.seconds = history, state["seconds"]
    result.best_epoch, result.best_val_accuracy = state["best_epoch"], state["best_val_accuracy"]
    return result
