"""The training loop shared by the generators: seeded batches by step (so a resumed run is identical),
EMA of the weights, atomic resumable checkpoints, sample grids, loss curves and a recognizability curve."""

from __future__ import annotations

import copy
import functools
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from doodlelab import checkpoints, modelfile, plots
from doodlelab.data import stream
from doodlelab.devices import pick_device
from doodlelab.generative import files

LAST, CURVES = "last.safetensors", "curves.png"
StepFn = Callable[[int, torch.Tensor, torch.Tensor], dict[str, float]]
SampleFn = Callable[[np.ndarray], np.ndarray]  # labels (N,) -> images (N, 28, 28) uint8


class EMA(torch.nn.Module):
    """Exponential moving average of a network's weights (Polyak averaging; the weights we sample from).
    The decay warms up as min(decay, (1 + n) / (10 + n)) so early averages are not stuck at init."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        super().__init__()
        self.model, self.decay = copy.deepcopy(model).eval().requires_grad_(False), decay
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + int(self.updates)) / (10 + int(self.updates)))
        for ema, live in zip(self.model.state_dict().values(), model.state_dict().values()):
            if ema.is_floating_point():
                ema.lerp_(live, 1 - d)
            else:
                ema.copy_(live)


class OnNumpy:
    """A PyTorch network called on NumPy arrays and answering one, the interface of the ONNX Runtime
    networks (`onnx_nets`), so one sampling loop (`sampling`) serves both: eval mode, no gradients, on the
    network's device, in bfloat16 autocast when `bf16` (None: where `bf16_supported`, decided per call)."""

    def __init__(self, net: torch.nn.Module, bf16: bool | None = None) -> None:
        self.net, self.bf16, self.num_classes = net, bf16, net.num_classes

    @torch.no_grad()
    def __call__(self, *inputs: np.ndarray) -> np.ndarray:
        dev = next(self.net.parameters()).device
        bf16 = bf16_supported(dev.type) if self.bf16 is None else self.bf16
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
            out = self.net.eval()(*(torch.from_numpy(np.ascontiguousarray(a)).to(dev) for a in inputs))
        return out.float().cpu().numpy()


def device() -> torch.device:
    """Train on the GPU when there is one, else on the CPU (`devices.pick_device("auto")`)."""
    return pick_device("auto")


def bf16_supported(kind: str) -> bool:
    """Whether bfloat16 is fast here: GPUs that support it, CPUs with AVX-512 BF16 (oneDNN)."""
    if kind == "cuda":
        return torch.cuda.is_bf16_supported()
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def autocast(enabled: bool, kind: str | None = None) -> torch.autocast:
    """bfloat16 mixed precision on the training device (`kind`: cpu or cuda; default `device()`'s), when
    asked for and supported."""
    kind = kind or device().type
    return torch.autocast(kind, dtype=torch.bfloat16, enabled=enabled and bf16_supported(kind))


@functools.lru_cache(maxsize=1)
def _pass_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The permutation of one pass, drawn once per pass (not per step; read-only: callers copy)."""
    order = np.random.default_rng([seed, epoch]).permutation(n)
    order.flags.writeable = False
    return order


def batch_indices(n: int, batch: int, seed: int, step: int) -> np.ndarray:
    """Indices of the training images for one step: a fresh permutation per pass over the data, from
    (seed, pass), so any step can be recomputed after a resume."""
    per_epoch = max(1, n // batch)
    epoch, i = divmod(step, per_epoch)
    return _pass_order(n, seed, epoch)[i * batch : (i + 1) * batch].copy()


def bucketed_indices(lengths: np.ndarray, batch: int, seed: int, step: int, pool: int) -> np.ndarray:
    """Like `batch_indices`, in batches of drawings of similar lengths (less padding to compute): the
    batches of `pool` consecutive steps are drawn together, sorted by length (lengths (n,)) and cut into
    `pool` batches again, taken in an order drawn from (seed, pool number). Every drawing is still seen
    once per pass; pool 1 gives `batch_indices`."""
    if pool <= 1:
        return batch_indices(len(lengths), batch, seed, step)
    first, k = divmod(step, pool)
    drawn = np.concatenate([batch_indices(len(lengths), batch, seed, first * pool + j) for j in range(pool)])
    drawn = drawn[np.lexsort((drawn, lengths[drawn]))]  # by length, then index: a total order
    order = np.random.default_rng([seed, first, 7]).permutation(pool)
    return drawn[order[k] * batch : (order[k] + 1) * batch]


Index = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def label_index(labels: np.ndarray) -> Index:
    """(order, start, count, rank) for `paired_batch_indices`: indices sorted by label and, for each
    drawing, where its label's run begins in `order`, how long it is and where the drawing itself sits
    in it. Computed once per run, not per step."""
    order = np.argsort(labels, kind="stable")
    ordered = labels[order]
    start = np.searchsorted(ordered, labels, side="left")
    count = np.searchsorted(ordered, labels, side="right") - start
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    return order, start, count, position - start


def paired_batch_indices(
    labels: np.ndarray, batch: int, seed: int, step: int, index: Index | None = None
) -> np.ndarray:
    """Like `batch_indices`, but the second half of the batch pairs the first: row i + batch // 2 is
    another drawing of row i's label, drawn from (seed, step) (PacGAN's real pairs, Lin et al. 2018).
    `index` is `label_index(labels)`, passed in so a training loop sorts the labels only once."""
    order, start, count, rank = index if index is not None else label_index(labels)
    first = batch_indices(len(labels), batch // 2, seed, step)
    start, count, rank = start[first], count[first], rank[first]
    pick = np.random.default_rng([seed, step, 1]).integers(0, np.maximum(count - 1, 1))
    pick = np.where((pick >= rank) & (count > 1), pick + 1, pick)  # never the drawing itself
    return np.concatenate([first, order[start + pick]])


def load_images(config, root: Path | None, cache_root: Path | None) -> tuple[stream.SplitImages, np.ndarray]:
    """The training split streamed from the shard cache (built or repaired first): its images, read a
    batch at a time (`images[idx]` -> (B, 28, 28) uint8), and official labels (N,) int64."""
    split = stream.open_split(
        "train",
        list(config.categories) or None,
        28,
        root=root,
        cache_root=cache_root,
        max_per_category=config.max_per_category,
    )
    if len(split) < config.batch_size:
        raise checkpoints.CheckpointError(
            f"only {len(split)} training drawings: fewer than one batch of {config.batch_size}"
        )
    return stream.SplitImages(split), split.all_labels()


def start_from_file(
    kind: str,
    weights: str | Path,
    out_dir: str | Path,
    config,
    parts: dict[str, checkpoints.Part],
    live: str,
    keep: tuple[str, ...],
) -> Path:
    """Begin a run in `out_dir` whose network `parts[live]` and its EMA are a trained model file's (shipped
    files keep only the EMA weights): a fine-tune, perhaps with new settings in `config`. The rest of
    `parts` (optimizers, a GAN's D) starts fresh; the start is recorded in the run state (`warm_starts`).
    Refuses another kind of file or another network layout (`keep`: the config fields that shape it).
    Returns the new checkpoint."""
    file_kind, stored, arrays = files.load_state(weights)
    tensors = {k: torch.from_numpy(v) for k, v in arrays.items()}
    old = type(config).from_dict(stored)
    if file_kind != kind or any(getattr(old, k) != getattr(config, k) for k in keep):
        raise checkpoints.CheckpointError(f"{weights}: not a {kind} model with this run's {', '.join(keep)}")
    parts[live].load_state_dict(tensors)
    parts["ema"].model.load_state_dict(tensors)
    card = modelfile.load_card(weights)
    parts["ema"].updates.fill_(card.get("steps_trained") or 0)  # full EMA decay at once: it is trained
    before, now = old.to_dict(), config.to_dict()
    changed = [k for k in now if before[k] != now[k]]
    start = {
        "step": 0,
        "from": str(weights),
        "steps_trained": card.get("steps_trained"),
        "was": {k: before[k] for k in changed},
        "now": {k: now[k] for k in changed},
        "history": card.get("history", {}),
    }  # the file's own training, kept in the new card
    state = {"step": 0, "seconds": 0.0, "history": {"step": []}, "warm_starts": [start]}
    target = Path(out_dir) / LAST
    target.parent.mkdir(parents=True, exist_ok=True)
    checkpoints.save(target, kind, parts, config, state)
    return target


def fit(
    kind: str,
    config,
    out_dir: str | Path,
    parts: dict[str, checkpoints.Part],
    model: torch.nn.Module,
    step_fn: StepFn,
    sample_fn: SampleFn,
    root: Path | None = None,
    cache_root: Path | None = None,
    progress: bool = True,
    resume: bool = True,
    until_step: int | None = None,
    measure: Callable[[SampleFn], float] | None = None,
    pairs: bool = False,
) -> dict:
    """Run `step_fn(step, images, labels)` (images (B, 1, 28, 28) in [-1, 1]) up to `config.steps`;
    with `pairs`, batches come from `paired_batch_indices` (rows i and i + B/2 share a label).

    Every `checkpoint_every` steps: a checkpoint of `parts`, a sample grid from `sample_fn(labels)`, the
    curves, and `measure(sample_fn)` (recognizability of samples) when given. `until_step` pauses early.
    At the end `model` (the EMA network) is written as `{kind}.safetensors`, its history in the card.
    """
    from tqdm import tqdm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images, labels = load_images(config, root, cache_root)
    index = label_index(labels) if pairs else None
    state = {"step": 0, "seconds": 0.0, "history": {"step": []}}
    if resume and (out / LAST).exists():
        state = checkpoints.load(out / LAST, kind, parts, config)
    history, start = state["history"], state["step"]
    stop = min(config.steps, until_step or config.steps)
    started = time.perf_counter() - state["seconds"]
    grid_labels = np.unique(labels)[np.linspace(0, len(np.unique(labels)) - 1, 8).round().astype(int)]
    sums: dict[str, float] = {}
    bar = tqdm(
        range(start, stop),
        initial=start,
        total=config.steps,
        desc=f"train {kind}",
        unit="step",
        disable=not progress,
        dynamic_ncols=True,
    )
    for step in bar:
        torch.manual_seed(config.seed * 1_000_003 + step)  # noise, timesteps, dropout: reproducible on resume
        idx = (
            paired_batch_indices(labels, config.batch_size, config.seed, step, index)
            if pairs
            else batch_indices(len(images), config.batch_size, config.seed, step)
        )
        dev = device()
        losses = step_fn(step, files.from_uint8(images[idx]).to(dev), torch.from_numpy(labels[idx]).to(dev))
        for k, v in losses.items():
            sums[k] = sums.get(k, 0.0) + v
        if step % 10 == 0:
            bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()})
        done = step + 1
        if done % config.checkpoint_every == 0 or done == stop:
            count = done - (history["step"][-1] if history["step"] else start)
            history["step"].append(done)
            for k, v in sums.items():
                history.setdefault(k, []).append(v / max(1, count))
            sums = {}
            grid = sample_fn(np.repeat(grid_labels, 8))
            files.save_png(files.grid(grid, 8), out / f"samples_{done:06d}.png")
            if measure is not None:
                history.setdefault("recognizability", []).append(measure(sample_fn))
                history.setdefault("recognizability_step", []).append(done)
            state.update(step=done, seconds=time.perf_counter() - started, history=history)
            checkpoints.save(out / LAST, kind, parts, config, state)
            plots.step_curves(history, out / CURVES)
            if progress:
                extra = f", recognizability {history['recognizability'][-1]:.3f}" if measure else ""
                tqdm.write(f"step {done}: " + ", ".join(f"{k} {history[k][-1]:.4f}" for k in losses) + extra)
    bar.close()
    card = {"steps_trained": state["step"], "history": state["history"]}
    card |= {"warm_starts": state["warm_starts"]} if "warm_starts" in state else {}
    files.save_model(out / f"{kind}.safetensors", kind, model, config, card)
    return state
