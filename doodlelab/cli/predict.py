"""`doodlelab predict --model NAME INPUT...`: classify input files, one line (or JSON object) per input."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from doodlelab.errors import DoodleError

# A predictor takes one input path and the number of guesses wanted, and returns (category, probability)
# pairs, best first; it raises DoodleError or OSError for an input it cannot read.
Predictor = Callable[[Path, int], list[tuple[str, float]]]


def digits_predictor(weights: Path | None) -> Predictor:
    """The from-scratch MNIST network on image files of digits (any size, either polarity)."""
    from doodlelab.data.images import load_digit
    from doodlelab.scratch.digits import DigitClassifier, shipped

    classifier = shipped() if weights is None else DigitClassifier.load(weights)
    return lambda path, k: classifier.top(load_digit(path), k)


# Model name -> factory that loads the model once (given --weights, or None for the shipped weights).
MODELS: dict[str, Callable[[Path | None], Predictor]] = {
    "digits": digits_predictor,
}


def register(groups: dict) -> None:
    parser = groups["_top"].add_parser(
        "predict",
        help="classify images with a trained model",
        description="Classify each INPUT; errors for one input are reported on stderr and the rest go on. "
        "Exit code 2 when no input could be read, 1 when some could not.",
    )
    parser.add_argument("--model", required=True, choices=sorted(MODELS), help="which model to use")
    parser.add_argument("--weights", type=Path, default=None, help="weights file (default: shipped weights)")
    parser.add_argument(
        "--top", type=_positive, default=3, metavar="K", help="guesses per input (default: 3)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per input line")
    parser.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="image files")
    parser.set_defaults(handler=cmd_predict)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _describe(path: Path, exc: Exception) -> str:
    if isinstance(exc, OSError):
        return f"{exc.filename or path}: {exc.strerror or exc}"
    text = str(exc)
    return text if text.startswith(str(path)) else f"{path}: {text}"


def cmd_predict(args: argparse.Namespace) -> int:
    predict = MODELS[args.model](args.weights)
    failed = 0
    for path in args.inputs:
        try:
            top = predict(path, args.top)
        except (DoodleError, OSError) as exc:
            failed += 1
            print(f"doodlelab: error: {_describe(path, exc)}", file=sys.stderr)
            continue
        if args.json:
            guesses = [{"category": c, "probability": round(p, 6)} for c, p in top]
            print(json.dumps({"input": str(path), "top": guesses}), flush=True)
        else:
            print(f"{path}: " + ", ".join(f"{c} ({p:.1%})" for c, p in top), flush=True)
    if failed == len(args.inputs):
        return 2
    return 1 if failed else 0
