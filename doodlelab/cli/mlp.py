"""`doodlelab train mlp` and `doodlelab evaluate mlp`: the from-scratch NumPy network on MNIST."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

from doodlelab.cli.common import add_config_args, config_from_args, progress_enabled

DEFAULT_OUT = Path("runs") / "mlp"


def register(groups: dict) -> None:
    from doodlelab.scratch.train import MLPConfig

    train = groups["train"].add_parser(
        "mlp",
        help="train the from-scratch NumPy network on MNIST",
        description="Train the dense NumPy network on MNIST (54k images; 6k held out for validation). "
        "Writes mlp_digits.npz with its model card, history.json and curves.png to --out.",
    )
    train.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})"
    )
    train.add_argument("--data", type=Path, default=None, help="mnist.npz (default: $DOODLELAB_DATA/mnist)")
    train.add_argument(
        "--dtype", choices=("float32", "float16"), default="float32", help="dtype of the saved weights"
    )
    add_config_args(train, MLPConfig)
    train.set_defaults(handler=cmd_train)

    evaluate = groups["evaluate"].add_parser(
        "mlp",
        help="test accuracy of the NumPy network on the official MNIST test set",
        description="Evaluate MLP weights on the 10k MNIST test images: accuracy, loss, confusion matrix.",
    )
    evaluate.add_argument(
        "--weights", type=Path, default=None, help="a .npz from `train mlp` (default: shipped)"
    )
    evaluate.add_argument(
        "--data", type=Path, default=None, help="mnist.npz (default: $DOODLELAB_DATA/mnist)"
    )
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.set_defaults(handler=cmd_evaluate)


def cmd_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from doodlelab.data.mnist import load_mnist
    from doodlelab.scratch.model_io import MNIST_PROVENANCE, save_model
    from doodlelab.scratch.train import MLPConfig, evaluate, save_curves, to_input, train

    config = config_from_args(MLPConfig, args)
    data = load_mnist(args.data)
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"training {config}", file=sys.stderr)
    result = train(
        config,
        data.x_train,
        data.y_train,
        progress=progress_enabled(),
        log=lambda line: tqdm.write(line, file=sys.stderr),
    )
    for param in result.model.params():  # score the weights exactly as they will be saved
        param.value = param.value.astype(args.dtype).astype(param.value.dtype)
    test = evaluate(result.model, to_input(data.x_test), data.y_test)
    h, best = result.history, result.best_epoch - 1
    card = {
        "classes": [str(d) for d in range(10)],
        "config": dataclasses.asdict(config),
        "metrics": {
            "test_accuracy": round(test["accuracy"], 6),
            "test_loss": round(test["loss"], 6),
            "val_accuracy": round(h["val_accuracy"][best], 6),
            "val_loss": round(h["val_loss"][best], 6),
            "best_epoch": result.best_epoch,
            "epochs_run": len(h["epoch"]),
            "stopped_early": result.stopped_early,
        },
        "training": {
            "seconds": round(result.seconds, 1),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
            "train_images": 60000 - config.val_size,
            "val_images": config.val_size,
        },
        "data": MNIST_PROVENANCE,
        "preprocessing": "uint8 28x28 MNIST layout (ink bright), flattened and divided by 255",
        "command": _command(config, args.dtype),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    weights = save_model(args.out / "mlp_digits.npz", result.model, card, dtype=args.dtype)
    (args.out / "history.json").write_text(json.dumps(h, indent=1) + "\n")
    curves = save_curves(h, args.out / "curves.png")
    print(
        f"best epoch {result.best_epoch}: val accuracy {h['val_accuracy'][best]:.2%}, "
        f"test accuracy {test['accuracy']:.2%}, {result.seconds:.0f} s\n"
        f"wrote {weights}, {weights.with_suffix('.json')}, {curves}"
    )
    return 0


def _command(config, dtype: str) -> str:
    """The `doodlelab train mlp` command that reproduces a run: the flags that differ from the defaults."""
    default = dataclasses.asdict(type(config)())
    flags = [f"--dtype {dtype}"] if dtype != "float32" else []
    for key, value in dataclasses.asdict(config).items():
        if value != default[key]:
            shown = " ".join(map(str, value)) if isinstance(value, (list, tuple)) else value
            flags.append(f"--{key.replace('_', '-')} {shown}")
    return " ".join(["doodlelab train mlp", *flags])


def cmd_evaluate(args: argparse.Namespace) -> int:
    from doodlelab.data.mnist import load_mnist
    from doodlelab.scratch.digits import WEIGHTS
    from doodlelab.scratch.model_io import load_model
    from doodlelab.scratch.train import evaluate, to_input

    path = args.weights if args.weights is not None else WEIGHTS
    model, _card = load_model(path)
    data = load_mnist(args.data)
    started = time.perf_counter()
    test = evaluate(model, to_input(data.x_test), data.y_test)
    seconds = time.perf_counter() - started
    confusion = test["confusion"]
    per_class = confusion.diagonal() / confusion.sum(axis=1)
    report = {
        "weights": str(path),
        "test_accuracy": round(test["accuracy"], 6),
        "test_loss": round(test["loss"], 6),
        "test_images": int(confusion.sum()),
        "per_class_accuracy": {str(d): round(float(a), 6) for d, a in enumerate(per_class)},
        "confusion_matrix": confusion.tolist(),
        "seconds": round(seconds, 3),
    }
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"weights        {path}")
    print(
        f"test accuracy  {test['accuracy']:.2%} on {report['test_images']} images (loss {test['loss']:.4f})"
    )
    print("confusion matrix (rows: true digit, columns: predicted)")
    print("     " + "".join(f"{d:>6}" for d in range(10)))
    for d, row in enumerate(confusion):
        print(f"{d:>5}" + "".join(f"{n:>6}" for n in row) + f"   {per_class[d]:.1%}")
    return 0
