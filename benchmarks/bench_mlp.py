"""doodlelab's from-scratch MLP against scikit-learn's MLPClassifier: same architecture, data and epochs.

    python benchmarks/bench_mlp.py [--epochs 20] [--repeats 1]

Both train on the same 54k images (the 6k validation images that doodlelab holds out are left out of
scikit-learn's training set too) and are scored on the official 10k test set. Rows:

- scikit-learn: MLPClassifier(solver="adam"), constant learning rate, no early stopping (the full budget).
- doodlelab, matched: the same recipe (Adam, constant rate, no dropout, no augmentation, no decay).
- doodlelab, default: the shipped recipe (dropout, random shifts, cosine schedule), same epoch budget.

Wall time per epoch is the best of `--repeats` interleaved runs (the machine may be shared);
doodlelab's includes its per-epoch validation pass. Prints a Markdown table and writes
benchmarks/results/mlp.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np

from doodlelab.data.mnist import load_mnist
from doodlelab.scratch.train import MLPConfig, evaluate, to_input, train, validation_split

RESULTS = Path(__file__).resolve().parent / "results" / "mlp.json"


def run_doodlelab(config: MLPConfig, data) -> dict:
    result = train(config, data.x_train, data.y_train)
    test = evaluate(result.model, to_input(data.x_test), data.y_test)
    epochs = len(result.history["epoch"])
    return {"test_accuracy": test["accuracy"], "seconds": result.seconds, "epochs": epochs}


def run_sklearn(config: MLPConfig, data) -> dict:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    train_idx, _ = validation_split(len(data.y_train), config.val_size)
    x, y = to_input(data.x_train[train_idx]), data.y_train[train_idx]  # float32: sklearn keeps it
    clf = MLPClassifier(
        hidden_layer_sizes=config.hidden,
        activation="relu",
        solver="adam",
        alpha=config.weight_decay,  # L2 strength; 0 in the matched recipe, as in doodlelab's
        batch_size=config.batch_size,
        learning_rate_init=config.lr,
        max_iter=config.epochs,
        shuffle=True,
        random_state=config.seed,
        early_stopping=False,
        n_iter_no_change=config.epochs + 1,  # never stop before the budget
        tol=0.0,
    )
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # "max_iter reached": intended
        clf.fit(x, y)
    seconds = time.perf_counter() - started
    accuracy = float((clf.predict(to_input(data.x_test)) == data.y_test).mean())
    return {"test_accuracy": accuracy, "seconds": seconds, "epochs": int(clf.n_iter_)}


def recipe(config: MLPConfig) -> str:
    parts = [f"{config.optimizer.capitalize()} {config.lr:g} {config.schedule}"]
    parts.append(f"dropout {config.dropout:g}" if config.dropout else "no dropout")
    parts.append(f"±{config.shift} px shifts" if config.shift else "no augmentation")
    if config.weight_decay:
        parts.append(f"weight decay {config.weight_decay:g}")
    return ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=MLPConfig.epochs)
    parser.add_argument("--repeats", type=int, default=1, help="runs per row; the fastest counts")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    import sklearn

    data = load_mnist()
    default = MLPConfig(epochs=args.epochs, patience=0)
    matched = dataclasses.replace(default, dropout=0.0, shift=0, schedule="constant", lr=1e-3)
    rows = [
        ("scikit-learn MLPClassifier", run_sklearn, matched),
        ("doodlelab.scratch, matched", run_doodlelab, matched),
        ("doodlelab.scratch, default", run_doodlelab, default),
    ]
    runs: dict[str, list[dict]] = {name: [] for name, _, _ in rows}
    for repeat in range(args.repeats):  # interleaved, so a busy spell on the machine hits every row
        for name, run, config in rows:
            runs[name].append(run(config, data))
            last = runs[name][-1]
            print(
                f"[{repeat + 1}/{args.repeats}] {name}: {last['test_accuracy']:.2%}, "
                f"{last['seconds'] / last['epochs']:.2f} s/epoch",
                flush=True,
            )
    results = []
    for name, _, config in rows:
        best = min(runs[name], key=lambda r: r["seconds"] / r["epochs"])
        results.append(
            {
                "model": name,
                "recipe": recipe(config),
                "architecture": "784-" + "-".join(map(str, config.hidden)) + "-10",
                "epochs": best["epochs"],
                "test_accuracy": round(best["test_accuracy"], 4),
                "seconds_per_epoch": round(best["seconds"] / best["epochs"], 2),
                "seconds_total": round(best["seconds"], 1),
                "all_runs": runs[name],
                "config": dataclasses.asdict(config),
            }
        )

    print()
    print("| model | recipe | test accuracy | wall time / epoch |")
    print("|---|---|---|---|")
    for r in results:
        print(f"| {r['model']} | {r['recipe']} | {r['test_accuracy']:.2%} | {r['seconds_per_epoch']:.2f} s |")
    environment = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "date": time.strftime("%Y-%m-%d"),
        "train_images": 60000 - default.val_size,
        "test_images": len(data.y_test),
    }
    print(
        f"\n{args.epochs} epochs, batch {default.batch_size}, {environment['machine']}, "
        f"numpy {np.__version__}, scikit-learn {sklearn.__version__}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"environment": environment, "results": results}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
