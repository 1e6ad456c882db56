"""doodlelab's classifier against the Sketcher recipe on the same split, plus inference latency.

    python benchmarks/bench_classifier.py [--weights W] [--sketcher-out DIR] [--ndjson-drawings 10000]

- Sketcher: the TF.js Sketcher demo's network (conv 16/32/64 with max-pooling, dense 128) trained as in
  the demo (Adam 1e-3, plain bitmaps, no augmentation, no label smoothing) on doodlelab's train split for
  the same number of epochs as the shipped model (from its card), through the same trainer (resumable:
  rerunning continues). Scored on the same test split.
- doodlelab: the shipped weights (or --weights); training time from its card.
- Latency: one drawing through the pipeline (raw canvas strokes -> bitmap), and the network at batch 1
  and batch 64 with ONNX Runtime and with PyTorch (median of repeated calls).
- `doodlelab predict --json` on an ndjson of N test drawings (half simplified, half raw), wall time.

Prints a Markdown table and writes benchmarks/results/classifier.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from doodlelab.classifier.config import ClassifierConfig
from doodlelab.classifier.evaluate import to_raw
from doodlelab.classifier.metrics import map_at_3, softmax, top_k_accuracy
from doodlelab.classifier.recognizer import SHIPPED, Recognizer
from doodlelab.data import cache, strokes
from doodlelab.data.categories import categories

RESULTS = Path(__file__).resolve().parent / "results" / "classifier.json"


def sketcher_recipe(epochs: int) -> ClassifierConfig:
    return ClassifierConfig(
        arch="sketcher",
        dropout=0.2,
        epochs=epochs,
        batch_size=256,
        lr=1e-3,
        weight_decay=0.0,
        warmup_epochs=0.0,
        label_smoothing=0.0,
        patience=0,
        rotate=0,
        stretch=0,
        shear=0,
        drop_stroke=0,
        jitter=0,
        shift=0,
        bf16=False,
        workers=0,
    )


def scores(logits: np.ndarray, labels: np.ndarray) -> dict:
    probs = softmax(logits)
    top1, top3 = top_k_accuracy(probs, labels, 1), top_k_accuracy(probs, labels, 3)
    return {"top1": round(top1, 4), "top3": round(top3, 4), "map3": round(map_at_3(probs, labels), 4)}


def train_sketcher(epochs: int, out: Path, test: cache.SplitArrays) -> dict:
    import torch

    from doodlelab.classifier.train import BEST, train

    result = train(sketcher_recipe(epochs), out, progress=sys.stderr.isatty())
    from doodlelab.classifier.checkpoint import load_model

    model = load_model(out / BEST)[0]
    with torch.inference_mode():
        x = torch.from_numpy(test.images).unsqueeze(1).float() / 255
        logits = torch.cat([model(b) for b in x.split(1024)]).numpy()
    return {**scores(logits, test.labels), "train_seconds": round(result.seconds), "epochs": epochs}


def median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return round(float(np.median(times)) * 1e3, 3)


def latency(weights: Path, test: cache.SplitArrays) -> dict:
    rng = np.random.default_rng(0)
    drawing = to_raw(test.strokes_of(int(np.flatnonzero(test.drawing >= 0)[0])), rng)[0]
    out = {"pipeline_raw_strokes_ms": median_ms(lambda: strokes.rasterize(drawing, raw=True), 200)}
    for backend in ("onnx", "torch"):
        recognizer = Recognizer(weights, backend=backend)
        for batch in (1, 64):
            images = test.images[:batch]
            run = lambda r=recognizer, x=images: r.probabilities(x)  # noqa: E731
            out[f"{backend}_batch{batch}_ms"] = median_ms(run, 100)
    return out


def predict_cli(weights: Path, test: cache.SplitArrays, n: int) -> dict:
    rng = np.random.default_rng(1)
    index = np.flatnonzero(test.drawing >= 0)
    index = np.resize(index, n)  # repeat if the split has fewer stroke drawings
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "drawings.ndjson"
        with path.open("w") as f:
            for j, i in enumerate(index):
                d = test.strokes_of(int(i))
                if j % 2:
                    raw, times = to_raw(d, rng)
                    drawing = [
                        [s[:, 0].round(2).tolist(), s[:, 1].round(2).tolist(), t.round().tolist()]
                        for s, t in zip(raw, times)
                    ]
                else:
                    drawing = strokes.to_json(d)
                f.write(json.dumps({"key_id": str(j), "drawing": drawing}) + "\n")
        command = [
            sys.executable,
            "-m",
            "doodlelab",
            "predict",
            "--json",
            "--weights",
            str(weights),
            str(path),
        ]
        start = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, check=True)
        seconds = time.perf_counter() - start
    lines = result.stdout.splitlines()
    names = categories()
    hits = sum(
        json.loads(line)["top"][0]["category"] == names[int(test.labels[i])] for line, i in zip(lines, index)
    )
    return {"drawings": n, "seconds": round(seconds, 1), "outputs": len(lines), "top1": round(hits / n, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=SHIPPED)
    parser.add_argument("--sketcher-out", type=Path, default=Path("runs") / "sketcher")
    parser.add_argument("--epochs", type=int, default=None, help="epoch budget (default: shipped model's)")
    parser.add_argument("--ndjson-drawings", type=int, default=10_000)
    args = parser.parse_args()
    recognizer = Recognizer(args.weights)
    card = recognizer.card
    epochs = args.epochs or int(card["config"]["epochs"])
    test = cache.load_split_arrays("test")
    ours = {
        **scores(recognizer.logits(test.images), test.labels),
        "train_seconds": round(card["history"]["seconds"][-1]),
        "epochs": len(card["history"]["epoch"]),
    }
    sketcher = train_sketcher(epochs, args.sketcher_out, test)
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "python": platform.python_version(),
        "test_drawings": len(test.labels),
        "doodlelab": ours,
        "sketcher": sketcher,
        "latency": latency(args.weights, test),
        "predict_cli": predict_cli(args.weights, test, args.ndjson_drawings),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print("| model | top-1 | top-3 | MAP@3 | epochs | training time |\n|---|---|---|---|---|---|")
    for name, row in (("Sketcher recipe", sketcher), ("doodlelab ResNet", ours)):
        print(
            f"| {name} | {row['top1']:.1%} | {row['top3']:.1%} | {row['map3']:.3f} | {row['epochs']} "
            f"| {row['train_seconds'] / 60:.0f} min |"
        )
    print(json.dumps(report["latency"]), json.dumps(report["predict_cli"]), sep="\n")


if __name__ == "__main__":
    main()
