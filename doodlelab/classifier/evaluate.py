"""Evaluate a classifier on a split: metrics on the cached bitmaps, the same stroke drawings replayed in
the raw canvas format through the pipeline, calibration; and finish a run into a shippable model file.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from doodlelab import modelfile, plots
from doodlelab.classifier import metrics
from doodlelab.classifier.recognizer import Recognizer
from doodlelab.data import cache
from doodlelab.data import strokes as pipeline
from doodlelab.data.categories import categories


def to_raw(drawing: pipeline.Strokes, rng: np.random.Generator) -> tuple[pipeline.Strokes, list[np.ndarray]]:
    """A simplified drawing as a browser canvas would record it: float pixel coordinates at a random
    scale and offset, a point every ~3 px with sub-pixel noise, and millisecond timestamps per point."""
    scale = rng.uniform(1.2, 3.0)
    offset = rng.uniform(0, 200, 2)
    out, times, clock = [], [], float(rng.integers(0, 1000))
    for stroke in drawing:
        dense = pipeline.resample(stroke * scale, spacing=3.0)
        dense = dense + offset + rng.normal(0, 0.3, dense.shape)
        out.append(dense)
        times.append(clock + np.arange(len(dense)) * rng.uniform(8, 20))
        clock = float(times[-1][-1]) + rng.uniform(100, 400)
    return out, times


def evaluate(recognizer: Recognizer, data: cache.SplitArrays, raw: bool = False, seed: int = 0) -> dict:
    """Metrics of `recognizer` on `data` (calibrated probabilities). With `raw`, also score the stroke
    drawings twice: as cached (simplified) and converted to raw and re-rasterized by the pipeline."""
    names = categories()
    started = time.perf_counter()
    logits = recognizer.logits(data.images)
    probs = metrics.softmax(logits, recognizer.temperature)
    result = metrics.report(probs, data.labels, names)
    uncalibrated = metrics.expected_calibration_error(metrics.softmax(logits), data.labels)
    result["ece_uncalibrated"] = round(uncalibrated, 4)
    result["temperature"] = recognizer.temperature
    result["seconds"] = round(time.perf_counter() - started, 2)
    if raw:
        rng = np.random.default_rng(seed)
        index = np.flatnonzero(data.drawing >= 0)
        replayed = np.stack(
            [pipeline.rasterize(to_raw(data.strokes_of(int(i)), rng)[0], raw=True) for i in index]
        )
        labels = data.labels[index]
        simplified = metrics.top_k_accuracy(probs[index], labels, 1)
        as_raw = metrics.top_k_accuracy(recognizer.probabilities(replayed), labels, 1)
        result["strokes_only"] = {
            "n": len(index),
            "top1_simplified": round(simplified, 4),
            "top1_raw": round(as_raw, 4),
            "difference": round(as_raw - simplified, 4),
        }
    return result


def confusion_png(probs_or_pred: np.ndarray, labels: np.ndarray, path: Path) -> None:
    """The 345x345 confusion matrix (row-normalised, log colour scale) as a PNG, written atomically."""
    plt = plots.pyplot()
    from matplotlib.colors import LogNorm

    pred = probs_or_pred if probs_or_pred.ndim == 1 else probs_or_pred.argmax(axis=1)
    n = len(categories())
    matrix = metrics.confusion_matrix(pred, labels, n).astype(np.float64)
    matrix /= np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(9, 8))
    shown = ax.imshow(np.maximum(matrix, 1e-3), norm=LogNorm(1e-3, 1), cmap="magma", interpolation="nearest")
    ax.set(
        xlabel="predicted category (index)",
        ylabel="true category (index)",
        title=f"confusion matrix, {len(labels)} drawings (row-normalised)",
    )
    fig.colorbar(shown, ax=ax, fraction=0.046)
    plots.save(fig, path, dpi=110)


def finish(
    run_dir: Path, out: Path, root: Path | None = None, cache_root: Path | None = None, export: bool = True
) -> dict:
    """Turn a run's best epoch into a model file: fit the temperature on validation, store the weights in
    float16 when that changes no validation prediction, measure test metrics, write the card (and ONNX)."""
    import torch

    from doodlelab.classifier.checkpoint import load_model, save_model
    from doodlelab.classifier.train import BEST

    model, config, best_card = load_model(run_dir / BEST)
    names = list(config.categories) or None
    val = cache.load_split_arrays(
        "val", names, config.size, root=root, cache_root=cache_root, max_per_category=config.max_per_category
    )
    test = cache.load_split_arrays(
        "test", names, config.size, root=root, cache_root=cache_root, max_per_category=config.max_per_category
    )
    with torch.inference_mode():
        x = torch.from_numpy(val.images).unsqueeze(1).float() / 255
        val_logits = torch.cat([model(b) for b in x.split(512)]).numpy()
    temperature = metrics.fit_temperature(val_logits, val.labels)
    half = model.half().float()  # the float16 round trip
    with torch.inference_mode():
        half_logits = torch.cat([half(b) for b in x.split(512)]).numpy()
    same = float((half_logits.argmax(1) == val_logits.argmax(1)).mean())
    dtype = torch.float16 if same >= 0.999 else torch.float32
    card = {
        "temperature": temperature,
        "trained_epochs": best_card.get("epoch"),
        "history": _history(run_dir),
        "float16_agreement_val": round(same, 5),
        "calibration_val": calibration(val_logits, val.labels, temperature),
    }
    save_model(out, model if dtype == torch.float32 else half, config, card, dtype=dtype)
    test_report = evaluate(Recognizer(out, backend="torch"), test, raw=True)
    full = modelfile.load_card(out) | {"test": test_report}
    modelfile.save_card(out, full)
    if export:
        export_beside(out)
    return full


def finish_ensemble(
    members: list[Path],
    weights: list[float],
    out: Path,
    root: Path | None = None,
    cache_root: Path | None = None,
) -> dict:
    """Combine classifier model files into one ensemble model file (ensemble.py): fit its temperature on
    validation (its output is already a mixture of calibrated probabilities), measure the test split."""
    import torch

    from doodlelab.classifier import ensemble
    from doodlelab.classifier.checkpoint import load_model

    loaded = [(p, *load_model(p)) for p in members]
    net, config, summaries = ensemble.combine(loaded, weights)
    names = list(config.categories) or None
    val = cache.load_split_arrays("val", names, config.size, root=root, cache_root=cache_root)
    test = cache.load_split_arrays("test", names, config.size, root=root, cache_root=cache_root)
    with torch.inference_mode():
        x = torch.from_numpy(val.images).unsqueeze(1).float() / 255
        val_logits = torch.cat([net(b) for b in x.split(512)]).numpy()
    temperature = metrics.fit_temperature(val_logits, val.labels)
    half = all(card.get("dtype") == "float16" for *_, card in loaded)  # float16 members stay float16
    card = {
        "temperature": temperature,
        "members": summaries,
        "calibration_val": calibration(val_logits, val.labels, temperature),
        "val_top1": round(metrics.top_k_accuracy(val_logits, val.labels, 1), 4),
    }
    ensemble.save_model(out, net, config, card, dtype=torch.float16 if half else torch.float32)
    full = modelfile.load_card(out) | {"test": evaluate(Recognizer(out, backend="torch"), test, raw=True)}
    modelfile.save_card(out, full)
    return full


def export_beside(
    weights: Path, onnx_path: Path | None = None, float16: bool = False, features: bool = True
) -> Path:
    """Export `weights` to ONNX (default: the same name with .onnx), recording both files' hashes;
    `features`: with the second output of export_onnx (the 8-bit export for the browser has logits only)."""
    from doodlelab.classifier.checkpoint import load_model
    from doodlelab.classifier.export import export_onnx
    from doodlelab.onnx_export import sha256

    model, config, card = load_model(weights)
    card = card | {"weights_sha256": sha256(weights)}
    features = features and hasattr(model, "feature_dim")  # an ensemble has no one feature space
    return export_onnx(model, card, onnx_path or weights.with_suffix(".onnx"), config.size, float16, features)


def calibration(logits: np.ndarray, labels: np.ndarray, temperature: float) -> dict:
    """Expected calibration error of (N, C) logits before and after dividing them by `temperature`."""
    before = metrics.expected_calibration_error(metrics.softmax(logits), labels)
    after = metrics.expected_calibration_error(metrics.softmax(logits, temperature), labels)
    return {"ece_before": round(before, 4), "ece_after": round(after, 4)}


def _history(run_dir: Path) -> dict:
    from doodlelab.classifier.train import LAST

    try:
        return modelfile.load(run_dir / LAST)[1].get("state", {}).get("history", {})
    except modelfile.ModelFileError:
        return {}
