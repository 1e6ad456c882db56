"""Train the classifier: AdamW with warm-up and cosine decay, label smoothing, early stopping on validation
accuracy, a checkpoint per epoch (atomic, resumable, also mid-epoch) and training curves, streaming from
the shard cache. Runs on a CPU or a GPU, as one process or under `torchrun` on one or many nodes (DDP).
"""

from __future__ import annotations

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
from doodlelab.classifier.data import BLOCK, AugmentedBatches, EpochPlan
from doodlelab.classifier.model import new_model, to_input
from doodlelab.data import stream
from doodlelab.data.categories import categories
from doodlelab.devices import autocast_dtype, join, pick_device
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
    stopped_at_step: int = 0  # config.max_steps paused the run after this many steps (0: it did not)
    seconds: float = 0.0


def start_from(model: torch.nn.Module, config: ClassifierConfig) -> None:
    """Load the weights of the model file `config.init` into `model` (a fine-tune): its network settings
    must be this run's; the optimizer starts afresh."""
    start, start_config, _ = checkpoint.load_model(config.init)
    if not isinstance(start_config, ClassifierConfig):
        raise checkpoint.CheckpointError(f"{config.init}: an ensemble; fine-tune one of its members instead")
    network = ("arch", "widths", "blocks", "size", "categories")
    differ = [k for k in network if getattr(start_config, k) != getattr(config, k)]
    if differ:
        raise checkpoint.CheckpointError(f"{config.init}: its {', '.join(differ)} differ from this run's")
    model.load_state_dict(start.state_dict())


def load_teacher(config: ClassifierConfig) -> torch.nn.Module:
    """The model file `config.teacher` (a single classifier or an ensemble) in eval mode, frozen: its
    log-probabilities on each training batch are a second target (knowledge distillation, Hinton et al.
    2015). It must name the same categories and read images of the same size as this run."""
    teacher, teacher_config, card = checkpoint.load_model(config.teacher)
    if list(card.get("classes", ())) != list(categories()) or teacher_config.size != config.size:
        raise checkpoint.CheckpointError(
            f"{config.teacher}: its categories or image size differ from this run's"
        )
    return teacher.requires_grad_(False)


def _optimizer(model: torch.nn.Module, config: ClassifierConfig) -> torch.optim.Optimizer:
    decay = [p for p in model.parameters() if p.ndim > 1]  # conv and linear weights
    rest = [p for p in model.parameters() if p.ndim <= 1]  # biases and batch-norm scales
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr)


@torch.no_grad()
def validate(
    model: torch.nn.Module,
    data,
    rank: int = 0,
    world: int = 1,
    batch: int = 1024,
    device: torch.device | None = None,
) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) on un-augmented drawings of `data` (a `stream.ShardedSplit` or
    `cache.SplitArrays`), read in order a batch at a time, each rank taking a share."""
    device = device or torch.device("cpu")
    model.eval()
    total = torch.zeros(3, dtype=torch.float64, device=device)  # loss sum, correct, count
    for start in range(rank * batch, len(data), batch * world):
        images, labels = data.take(np.arange(start, min(start + batch, len(data))))
        x = to_input(torch.from_numpy(images)).to(device).contiguous(memory_format=torch.channels_last)
        y = torch.from_numpy(labels).to(device)
        logits = model(x).float()
        total += torch.stack(
            [
                F.cross_entropy(logits, y, reduction="sum").double(),
                (logits.argmax(1) == y).sum().double(),
                torch.tensor(len(y), device=device),
            ]
        )
    if world > 1:
        dist.all_reduce(total)
    return float(total[0] / total[2]), float(total[1] / total[2])


def train_step(
    net: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    labels: torch.Tensor,
    config: ClassifierConfig,
    scaler: torch.amp.GradScaler | None = None,
    teacher: torch.nn.Module | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimisation step on images x (B, 1, S, S) and labels (B,) on x's device: autocast as
    `autocast_dtype`, label-smoothed cross-entropy, AdamW (float16: with loss scaling by `scaler`).
    With a `teacher`, the loss is (1 - d) CE + d KL(teacher || network), d = `config.distill`, the teacher
    seeing the same augmented batch ("consistent" distillation, Beyer et al. 2022). Returns (loss, logits
    (B, C))."""
    dtype = autocast_dtype(x.device, config.bf16)
    with torch.autocast(x.device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        logits = net(x)
        if teacher is not None:
            with torch.no_grad():
                target = teacher(x).float().log_softmax(1)  # (B, C); an ensemble's output is already log p
    loss = F.cross_entropy(logits.float(), labels, label_smoothing=config.label_smoothing)
    if teacher is not None:
        kl = F.kl_div(logits.float().log_softmax(1), target, log_target=True, reduction="batchmean")
        loss = (1 - config.distill) * loss + config.distill * kl
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None and scaler.is_enabled():
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()
    return loss, logits


def _save(
    out: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    config: ClassifierConfig,
    state: dict,
    partial: list[float],
    step: int,
) -> None:
    """The resumable checkpoint in the middle of an epoch: `step` batches done, their running sums."""
    checkpoint.save_training(out / LAST, model, optimizer, config, state | {"step": step, "partial": partial})


def train(
    config: ClassifierConfig,
    out_dir: str | Path,
    root: Path | None = None,
    cache_root: Path | None = None,
    progress: bool = True,
    resume: bool = True,
    until_epoch: int | None = None,
) -> TrainResult:
    """Train (or resume from `out_dir/last.safetensors`) and keep the best epoch in `out_dir/best.*`.

    Data streams from the shard cache (built or repaired first). `until_epoch` pauses the run after that
    epoch, `config.max_steps` after that many steps in all (mid-epoch); calling again resumes it exactly."""
    from tqdm import tqdm

    device = pick_device(config.device)
    rank, world = join(device)
    out = Path(out_dir)
    if config.threads:
        torch.set_num_threads(config.threads)
    names = list(config.categories) or None
    train_set, val_set = (
        stream.open_split(
            split,
            names,
            config.size,
            root=root,
            cache_root=cache_root,
            max_per_category=config.max_per_category,
        )
        for split in ("train", "val")
    )
    torch.manual_seed(config.seed)
    model = new_model(config).to(memory_format=torch.channels_last)
    optimizer = _optimizer(model, config)
    result = TrainResult(out)
    state = {
        "epoch": 0,
        "history": {},
        "best_epoch": 0,
        "best_val_accuracy": -1.0,
        "bad_epochs": 0,
        "seconds": 0.0,
    }
    if resume and (out / LAST).exists():
        state = checkpoint.load_training(out / LAST, model, optimizer, config)
    elif config.init:
        start_from(model, config)
    teacher = load_teacher(config).to(device) if config.teacher else None
    model.to(device)
    optimizer.load_state_dict(optimizer.state_dict())  # moves a restored optimizer state to the device
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    if config.compile:  # the same parameters: checkpoints and validation keep using `model`
        net = torch.compile(net, backend=config.compile)
    scaler = torch.amp.GradScaler(device.type, enabled=autocast_dtype(device, config.bf16) == torch.float16)
    if state.get("scaler") and scaler.is_enabled():
        scaler.load_state_dict(state["scaler"])  # float16: the loss scale it had reached, not 65536 afresh
    per_rank = config.batch_size // world
    blocks = train_set.blocks(BLOCK)
    groups = train_set.labels_of(blocks[:, 0])  # the category of each block: the epoch order mixes them
    steps_per_epoch = EpochPlan(blocks, per_rank, world, config.seed, 0, config.shuffle_window, groups).steps
    if steps_per_epoch == 0:
        raise checkpoint.CheckpointError(
            f"only {len(train_set)} training drawings: fewer than one batch of {config.batch_size}"
        )
    total_steps, warmup = steps_per_epoch * config.epochs, round(steps_per_epoch * config.warmup_epochs)
    history: dict[str, list[float]] = state["history"]
    started = time.perf_counter() - state["seconds"]
    done = config.patience > 0 and state["bad_epochs"] >= config.patience  # a resumed run that had stopped
    last = state["epoch"] if done else min(config.epochs, until_epoch or config.epochs)
    first, partial = state.pop("step", 0), state.pop("partial", [0, 0, 0.0])
    if config.max_steps and state["epoch"] * steps_per_epoch + first >= config.max_steps:
        last = state["epoch"]  # a resumed run that had reached its step budget
    for epoch in range(state["epoch"], last):
        plan = EpochPlan(blocks, per_rank, world, config.seed, epoch, config.shuffle_window, groups)
        loader = DataLoader(
            AugmentedBatches(train_set, plan, config.augment, rank, first),
            batch_size=None,
            num_workers=config.workers,
        )
        bar = tqdm(
            loader,
            desc=f"epoch {epoch + 1}/{config.epochs}",
            unit="batch",
            initial=first,
            total=steps_per_epoch,
            disable=not progress or rank != 0,
            dynamic_ncols=True,
        )
        net.train()
        seen, correct, loss_sum = partial
        paused = False
        for i, (images, labels) in enumerate(bar, start=first):
            step = epoch * steps_per_epoch + i
            torch.manual_seed(config.seed * 1_000_003 + step * world + rank)  # dropout: exact on resume
            lr = lr_at(step, total_steps, config.lr, "cosine", warmup)
            for group in optimizer.param_groups:
                group["lr"] = lr
            x = to_input(images).to(device).contiguous(memory_format=torch.channels_last)
            labels = labels.to(device)
            loss, logits = train_step(net, optimizer, x, labels, config, scaler, teacher)
            seen += len(labels)
            correct += int((logits.argmax(1) == labels).sum())
            loss_sum += float(loss.detach()) * len(labels)
            if i % 20 == 0:
                bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}", lr=f"{lr:.2e}")
            pause = config.max_steps and step + 1 >= config.max_steps and i + 1 < steps_per_epoch
            if rank == 0 and (pause or (config.checkpoint_every and (i + 1) % config.checkpoint_every == 0)):
                state.update(seconds=time.perf_counter() - started, scaler=scaler.state_dict())
                _save(out, model, optimizer, config, state, [seen, correct, loss_sum], i + 1)
            if pause:
                paused = True
                break
        bar.close()
        first, partial = 0, [0, 0, 0.0]
        if paused:
            result.stopped_at_step = config.max_steps
            break
        val_loss, val_acc = validate(model, val_set, rank, world, device=device)
        row = {
            "epoch": epoch + 1,
            "lr": lr,
            "train_loss": loss_sum / seen,
            "train_accuracy": correct / seen,
            "val_loss": val_loss,
            "val_accuracy": val_acc,
            "seconds": time.perf_counter() - started,
        }
        for key, value in row.items():
            history.setdefault(key, []).append(value)
        improved = val_acc > state["best_val_accuracy"]
        if improved:
            state.update(best_epoch=epoch + 1, best_val_accuracy=val_acc, bad_epochs=0)
        else:
            state["bad_epochs"] += 1
        state.update(epoch=epoch + 1, history=history, seconds=row["seconds"], scaler=scaler.state_dict())
        stop = config.patience > 0 and state["bad_epochs"] >= config.patience
        if rank == 0:
            if improved:
                best = {"epoch": epoch + 1, "val_accuracy": val_acc}
                checkpoint.save_model(out / BEST, model, config, best)
            checkpoint.save_training(out / LAST, model, optimizer, config, state)
            plots.epoch_curves(history, out / CURVES)
            if progress:
                print(
                    f"epoch {epoch + 1}: train loss {row['train_loss']:.3f} acc {row['train_accuracy']:.3f}"
                    f" | val loss {val_loss:.3f} acc {val_acc:.4f}{' (best)' if improved else ''}",
                    flush=True,
                )
        budget = config.max_steps and (epoch + 1) * steps_per_epoch >= config.max_steps
        if stop or budget:
            result.stopped_early = stop
            result.stopped_at_step = config.max_steps if budget and epoch + 1 < config.epochs else 0
            break
    if world > 1:
        dist.barrier()
    result.history, result.seconds = history, state["seconds"]
    result.best_epoch, result.best_val_accuracy = state["best_epoch"], state["best_val_accuracy"]
    model.cpu()
    return result
