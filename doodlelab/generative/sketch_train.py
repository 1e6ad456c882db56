"""`doodlelab train sketch`: AdamW with warm-up and cosine decay, bf16 autocast, EMA, batches and augmentation
drawn from (seed, step) so a killed run resumes to the same weights; under `torchrun` (DDP) each rank takes
a share of the same batches, so a run may resume at another world size; checkpoints, curves, sample grids."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from doodlelab import checkpoints, devices, lr_schedules, plots
from doodlelab.data import strokes as pipeline
from doodlelab.data.categories import categories as all_categories
from doodlelab.data.categories import resolve
from doodlelab.generative import files, sketch_data, training
from doodlelab.generative.sketch_config import SketchConfig
from doodlelab.generative.sketch_mdn import network
from doodlelab.generative.sketch_model import OnNumpy, SketchTransformer
from doodlelab.generative.sketch_sample import Sketcher

KIND, LAST, CURVES = "sketch", "last.safetensors", "curves.png"
BATCHES = 3  # how batches are drawn (which drawings, their augmentation); a checkpoint of another resumes not


def class_names(config: SketchConfig, root: Path | None) -> list[str]:
    """The run's categories in the official order (all that have data when none are named)."""
    from doodlelab import settings
    from doodlelab.data import formats

    root = root or settings.quickdraw_dir()
    wanted = {resolve(c) for c in config.categories} if config.categories else None
    chosen = [c for c in all_categories() if wanted is None or c in wanted]
    return [c for c in chosen if formats.category_files(root, c)]


def tensors(arrays: dict[str, np.ndarray], dev: torch.device) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(v).to(dev) for k, v in arrays.items()}


def train_batch(
    data: sketch_data.SketchSet,
    config: SketchConfig,
    step: int,
    n_classes: int,
    rank: int = 0,
    world: int = 1,
) -> dict:
    """This rank's share of the batch of `step`: drawings from `training.bucketed_indices`, "no category"
    labels (probability p_uncond) and each drawing's augmentation drawn from (seed, step, position), so
    the global batch is the same at every world size and after a resume."""
    idx = training.bucketed_indices(data.lengths, config.batch_size, config.seed, step, config.bucket)
    uncond = np.random.default_rng([config.seed, step, 3]).random(len(idx)) < config.p_uncond
    labels = np.where(uncond, n_classes, data.labels[idx])
    aug = sketch_data.augmentation(config.aug_rotate, config.aug_stretch)
    mine = np.array_split(np.arange(len(idx)), world)[rank]
    rngs = [np.random.default_rng([config.seed, step, 2, int(j)]) for j in mine]
    rows = data.rows_many(idx[mine], rngs, aug)
    return sketch_data.batch(rows, labels[mine], config.grid_size)


def as_is(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return arrays


class Batches(torch.utils.data.Dataset):
    """Item k is this rank's share of the batch of step `first + k` (`train_batch`): a pure function of the
    step, so loader workers may prepare batches ahead in any process and the run stays the same."""

    def __init__(
        self, data, config: SketchConfig, first: int, stop: int, n_classes: int, rank: int, world: int
    ):
        self.data, self.config, self.first, self.stop = data, config, first, stop
        self.n_classes, self.rank, self.world = n_classes, rank, world

    def __len__(self) -> int:
        return self.stop - self.first

    def __getitem__(self, k: int) -> dict[str, np.ndarray]:
        return train_batch(self.data, self.config, self.first + k, self.n_classes, self.rank, self.world)


def global_loss(net: torch.nn.Module, arrays: dict[str, torch.Tensor], world: int):
    """(loss to back-propagate, logged means) of this rank's share: the loss per point of the WHOLE
    batch. Each rank's sum over its points is divided by the global count of points (one all-reduce), and
    multiplied by the world size because DDP averages the ranks' gradients: the gradient is then the one
    world size 1 computes, though ranks hold drawings of different lengths."""
    loss, logged = net(**arrays)
    if world == 1:
        return loss, logged
    count = float((arrays["targets"][..., 2] != sketch_data.IGNORE).sum())
    stats = torch.tensor(
        [count] + [v * count for v in logged.values()], dtype=torch.float64, device=loss.device
    )
    dist.all_reduce(stats)
    total = float(stats[0])
    return loss * (count * world / total), {k: float(v) / total for k, v in zip(logged, stats[1:])}


def new_optimizer(model: torch.nn.Module, config: SketchConfig) -> torch.optim.AdamW:
    """AdamW with betas (0.9, 0.95) as GPT-2/nanoGPT; weight decay on the weight matrices only."""
    decay = [p for p in model.parameters() if p.dim() >= 2 and p.shape[0] != 1]
    rest = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": rest, "weight_decay": 0.0}],
        lr=config.lr,
        betas=(0.9, 0.95),
    )


@torch.no_grad()
def validation_loss(model: SketchTransformer, data: sketch_data.SketchSet, config: SketchConfig) -> float:
    """Mean loss per point (nats) of val_size validation drawings drawn at random (the same ones at every
    checkpoint: seed 0), with their category (the mixture head's dequantization noise: seed 0 too)."""
    model.eval()
    torch.manual_seed(0)  # the training loop seeds every step afresh, so this changes no training step
    count, total = min(len(data), config.val_size), 0.0
    chosen = np.sort(np.random.default_rng(0).choice(len(data), count, replace=False))  # every category
    for first in range(0, count, config.batch_size):
        idx = chosen[first : first + config.batch_size]
        arrays = sketch_data.batch(data.rows_many(idx), data.labels[idx], config.grid_size)
        loss, _ = model.loss(**tensors(arrays, next(model.parameters()).device))
        total += float(loss) * len(idx)
    return total / max(1, count)


def sample_grid(model: SketchTransformer, config: SketchConfig, names: list[str], path: Path) -> None:
    """8 rows of 8 samples (up to 7 categories spread over the run's, then "no category"), rendered to
    28 x 28 by the one pipeline, saved as a PNG."""
    sketcher = Sketcher(OnNumpy(model), config, names, path)
    picks = [names[i] for i in np.linspace(0, len(names) - 1, min(7, len(names))).round().astype(int)]
    images = [pipeline.render(d) for c in [*picks, None] for d in sketcher.generate(c, 8, seed=0)]
    files.save_png(files.grid(np.stack(images), 8), path)


def train(
    config: SketchConfig,
    out_dir: str | Path,
    root: Path | None = None,
    cache_root: Path | None = None,
    progress: bool = True,
    resume: bool = True,
    until_step: int | None = None,
) -> dict:
    """Train up to `config.steps` (or pause after `until_step`) in `out_dir`; rerunning resumes from its
    last.safetensors. Ends with sketch.safetensors (EMA weights) and its card. Returns the run state."""
    from tqdm import tqdm

    if config.threads:
        torch.set_num_threads(config.threads)
    dev = devices.pick_device(config.device)
    rank, world = devices.join(dev)
    if config.batch_size % world:
        raise checkpoints.CheckpointError(f"batch_size {config.batch_size} does not split over {world} ranks")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = class_names(config, root)
    if not names:
        raise checkpoints.CheckpointError("no category of this run has data")
    data, val = (
        sketch_data.SketchSet(
            split, names, config.grid_size, config.max_len, root, cache_root, config.max_per_category
        )
        for split in ("train", "val")
    )
    if len(data) < config.batch_size:
        raise checkpoints.CheckpointError(f"only {len(data)} training drawings: fewer than one batch")
    torch.manual_seed(config.seed)
    model = network(config, len(names)).to(dev)
    ema = training.EMA(model, config.ema)
    optimizer = new_optimizer(model, config)
    parts = {"model": model, "ema": ema, "optimizer": optimizer}
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    state = {"step": 0, "seconds": 0.0, "history": {"step": []}, "classes": names, "batches": BATCHES}
    if resume and (out / LAST).exists():
        mutable = frozenset(  # how the run goes, and the sampling defaults: not what it learns
            {"steps", "threads", "workers", "checkpoint_every", "device", "temperature", "top_p", "guidance"}
        )
        state = checkpoints.load(out / LAST, KIND, parts, config, mutable)
        if state.get("batches") != BATCHES:
            raise checkpoints.CheckpointError(
                f"{out / LAST}: made by an older doodlelab that drew other batches; use a new --out"
            )
    history, start = state["history"], state["step"]
    stop = min(config.steps, until_step or config.steps)
    started = time.perf_counter() - state["seconds"]
    sums: dict[str, float] = {}
    batches = torch.utils.data.DataLoader(
        Batches(data, config, start, stop, len(names), rank, world),
        batch_size=None,
        num_workers=config.workers,
        collate_fn=as_is,  # NumPy arrays as they are: tensors() moves them to the device
    )
    bar = tqdm(
        zip(range(start, stop), batches),
        initial=start,
        total=config.steps,
        desc="train sketch",
        unit="step",
        disable=not progress or rank != 0,
        dynamic_ncols=True,
    )
    for step, arrays in bar:
        torch.manual_seed(config.seed * 1_000_003 + step * world + rank)  # dropout: the same after a resume
        lr = lr_schedules.lr_at(step, config.steps, config.lr, "cosine", config.warmup, 0.1 * config.lr)
        for group in optimizer.param_groups:
            group["lr"] = lr
        model.train()
        arrays = tensors(arrays, dev)
        with training.autocast(config.bf16, dev.type):
            loss, logged = global_loss(net, arrays, world)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        ema.update(model)
        for k, v in logged.items():
            sums[k] = sums.get(k, 0.0) + v
        if step % 10 == 0:
            bar.set_postfix(loss=f"{logged['loss']:.3f}", lr=f"{lr:.2e}")
        done = step + 1
        if rank == 0 and (done % config.checkpoint_every == 0 or done == stop):
            count = done - (history["step"][-1] if history["step"] else start)
            history["step"].append(done)
            for k, v in sums.items():
                history.setdefault(k, []).append(v / max(1, count))
            sums = {}
            history.setdefault("val_loss", []).append(validation_loss(ema.model, val, config))
            sample_grid(ema.model, config, names, out / f"samples_{done:06d}.png")
            state.update(step=done, seconds=time.perf_counter() - started, history=history)
            checkpoints.save(out / LAST, KIND, parts, config, state)
            plots.step_curves(history, out / CURVES)
            if progress:
                tqdm.write(
                    f"step {done}: loss {history['loss'][-1]:.4f}, val_loss {history['val_loss'][-1]:.4f}"
                )
    bar.close()
    if world > 1:
        dist.barrier()  # every rank done before rank 0 writes the model and the others leave
    if rank != 0:
        return state
    card = {
        "classes": names,
        "steps_trained": state["step"],
        "history": state["history"],
        "left_out_longer_than_max_len": data.left_out,
        "seconds": state["seconds"],
    }
    files.save_model(out / f"{KIND}.safetensors", KIND, ema.model, config, card)
    return state
