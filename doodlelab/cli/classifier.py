"""`doodlelab train classifier`, `doodlelab evaluate classifier` and `doodlelab export onnx`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from doodlelab.cli.common import add_config_args, config_from_args, progress_enabled

DEFAULT_OUT = Path("runs") / "classifier"
MODEL_NAME = "classifier.safetensors"


def register(groups: dict) -> None:
    from doodlelab.classifier.config import ClassifierConfig
    from doodlelab.classifier.recognizer import BACKENDS

    train = groups["train"].add_parser(
        "classifier",
        help="train the 345-category doodle classifier",
        description="Train the CNN on the train split (validation for early stopping), one checkpoint per "
        "epoch in --out (rerun the same command to resume after a stop). Then fit the calibration "
        f"temperature and write {MODEL_NAME} with its card (test metrics) and an ONNX export. "
        "For several processes: torchrun --nproc-per-node N -m doodlelab train classifier ...",
    )
    train.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder ({DEFAULT_OUT})")
    train.add_argument("--no-resume", action="store_true", help="start afresh even if --out has a checkpoint")
    train.add_argument("--no-export", action="store_true", help="skip the ONNX export at the end")
    add_config_args(train, ClassifierConfig)
    train.set_defaults(handler=cmd_train)

    evaluate = groups["evaluate"].add_parser(
        "classifier",
        help="top-1/top-3/MAP@3, per-category accuracy, confusions and calibration on a split",
        description="Evaluate classifier weights on the held-out split of the data (default: test).",
    )
    evaluate.add_argument("--weights", type=Path, default=None, help="weights (default: shipped)")
    evaluate.add_argument("--split", choices=("test", "val"), default="test", help="split (default: test)")
    evaluate.add_argument(
        "--raw",
        action="store_true",
        help="also replay the stroke drawings as raw canvas input through the pipeline",
    )
    evaluate.add_argument("--confusion", type=Path, metavar="PNG", help="write the confusion matrix")
    evaluate.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="engine (auto: the 8-bit ONNX beside the weights, else the float one, else torch)",
    )
    evaluate.add_argument("--json", action="store_true", help="print the full report as one JSON object")
    early = evaluate.add_argument_group("early guessing (--early)")
    early.add_argument(
        "--early",
        action="store_true",
        help="replay the split's stroke drawings in time (ink length stands for time; real "
        "timestamps with --input) and report top-1 at 25/50/75/100%% of the drawing "
        "and the median share needed for a first correct guess that stays correct",
    )
    early.add_argument(
        "--compare",
        type=Path,
        action="append",
        default=[],
        metavar="WEIGHTS",
        help="with --early: also replay through these weights, side by side (repeatable)",
    )
    early.add_argument(
        "--input",
        type=Path,
        nargs="+",
        metavar="NDJSON",
        help="with --early: replay these labelled drawings (word = category) instead",
    )
    early.add_argument(
        "--limit",
        type=int,
        default=0,
        metavar="N",
        help="with --early: N stroke drawings of the split drawn at random (0: all)",
    )
    early.add_argument("--curve", type=Path, metavar="PNG", help="with --early: write the top-1 curve")
    evaluate.set_defaults(handler=cmd_evaluate)

    onnx = groups["export"].add_parser(
        "onnx",
        help="the classifier or a generator's network as ONNX, with a JSON card",
        description="Export classifier weights to ONNX (input images (B, 1, 28, 28) float in [0, 1], "
        "output logits (B, 345)); card: classes, temperature. Given a diffusion file, export its U-Net "
        "(inputs x, t, y; output eps), given a GAN file its generator (inputs z, y; output images): written "
        "beside the weights as NAME.onnx, generate and serve sample through it.",
    )
    onnx.add_argument(
        "--weights",
        type=Path,
        default=None,
        help="classifier or diffusion weights (default: the shipped classifier)",
    )
    onnx.add_argument("--out", type=Path, required=True, help="the .onnx file to write")
    onnx.add_argument("--float16", action="store_true", help="store the weights as float16 (half the file)")
    onnx.add_argument(
        "--int8",
        action="store_true",
        help="quantize to 8 bits for fast serving, calibrated on training drawings and "
        "measured against the float weights on the test split (needs the data)",
    )
    onnx.add_argument("--calibration", type=int, default=2048, help="training drawings for --int8 (2048)")
    onnx.set_defaults(handler=cmd_export)


def cmd_train(args: argparse.Namespace) -> int:
    from doodlelab.classifier.config import ClassifierConfig
    from doodlelab.classifier.evaluate import finish
    from doodlelab.classifier.train import train

    config = config_from_args(ClassifierConfig, args)
    result = train(config, args.out, progress=progress_enabled(), resume=not args.no_resume)
    from doodlelab.devices import leave

    if leave() != 0:
        return 0  # rank 0 reports
    if result.stopped_at_step:
        print(
            f"paused after {result.stopped_at_step} steps (--max-steps); run again with a larger "
            f"--max-steps (0: no limit) to continue from {args.out}"
        )
        return 0
    card = finish(args.out, args.out / MODEL_NAME, export=not args.no_export)
    test = card["test"]
    print(
        f"best epoch {result.best_epoch} (val accuracy {result.best_val_accuracy:.4f}) after "
        f"{result.seconds:.0f} s; test top-1 {test['top1']:.4f} top-3 {test['top3']:.4f} "
        f"MAP@3 {test['map3']:.4f} ECE {test['ece_uncalibrated']:.4f} -> {test['ece']:.4f} "
        f"(T = {card['temperature']:.3f}); wrote {args.out / MODEL_NAME}"
    )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from doodlelab.classifier.evaluate import confusion_png, evaluate
    from doodlelab.classifier.metrics import softmax
    from doodlelab.classifier.recognizer import Recognizer
    from doodlelab.errors import DoodleError

    recognizer = Recognizer(args.weights, backend=args.backend)
    if args.early:
        return _evaluate_early(args, recognizer)
    if args.compare or args.input or args.curve or args.limit:
        raise DoodleError("--compare, --input, --curve and --limit go with --early")
    names = list(recognizer.card["config"].get("categories") or []) or None
    from doodlelab.data.cache import load_split_arrays

    data = load_split_arrays(args.split, names)
    report = evaluate(recognizer, data, raw=args.raw)
    where = {"weights": str(recognizer.weights), "split": args.split, "backend": recognizer.backend}
    report = where | report
    if args.confusion:
        confusion_png(softmax(recognizer.logits(data.images)), data.labels, args.confusion)
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{args.split}: {report['n']} drawings, {report['categories']} categories ({recognizer.backend})")
    for key in ("top1", "top3", "map3", "mean_category_accuracy"):
        print(f"  {key:24s} {report[key]:.4f}")
    print(
        f"  {'ece (calibrated)':24s} {report['ece']:.4f}  (uncalibrated {report['ece_uncalibrated']:.4f},"
        f" T = {report['temperature']:.3f})"
    )
    if "strokes_only" in report:
        s = report["strokes_only"]
        print(
            f"  stroke drawings: top-1 {s['top1_simplified']:.4f} simplified, {s['top1_raw']:.4f} as raw "
            f"({s['n']} drawings)"
        )
    print(
        "  most confused: "
        + ", ".join(f"{p['true']} -> {p['predicted']} ({p['count']})" for p in report["most_confused"][:5])
    )
    return 0


def _evaluate_early(args: argparse.Namespace, recognizer) -> int:
    """`evaluate classifier --early`: one replay of the drawings, classified by each model."""
    import os

    from doodlelab.classifier import early
    from doodlelab.classifier.recognizer import Recognizer
    from doodlelab.data.cache import load_split_arrays
    from doodlelab.errors import DoodleError

    if args.raw or args.confusion:
        raise DoodleError("--raw and --confusion do not go with --early")
    if args.limit < 0:
        raise DoodleError("--limit must be >= 0")
    models = {str(recognizer.weights): recognizer}
    for weights in args.compare:
        models.setdefault(str(weights), Recognizer(weights, backend=args.backend))
    if args.input:
        replay, source = early.from_files(args.input), ", ".join(map(str, args.input))
    else:
        names = list(recognizer.card["config"].get("categories") or []) or None
        replay, source = early.from_split(load_split_arrays(args.split, names), args.limit), args.split
    if not len(replay.labels):
        raise DoodleError(f"no stroke drawings to replay in {source}")
    images = early.replay_images(replay, workers=min(4, os.cpu_count() or 1))
    reports = early.evaluate_early(models, images, replay.labels)
    clock = "real timestamps where present, else ink length" if args.input else "ink length"
    if args.curve:
        early.curve_png(reports, args.curve, f"{source}: {len(replay.labels)} drawings, time = {clock}")
    if args.json:
        print(json.dumps({"source": source, "time": clock, "models": reports}))
        return 0
    print(
        f"{source}: {len(replay.labels)} stroke drawings replayed in time ({clock}); top-1 at a share of "
        "the drawing"
    )
    print(
        f"  {'model':40s} "
        + " ".join(f"{k:>6s}" for k in next(iter(reports.values()))["top1_at"])
        + "  median share to a stable guess"
    )
    for name, r in reports.items():
        median = r["median_share_first_stable"]
        print(
            f"  {name[-40:]:40s} "
            + " ".join(f"{v:6.1%}" for v in r["top1_at"].values())
            + f"  {'never' if median is None else f'{median:.0%}'}"
        )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from doodlelab.classifier.evaluate import export_beside
    from doodlelab.classifier.export import onnx_card_path, save_onnx_card
    from doodlelab.classifier.recognizer import SHIPPED
    from doodlelab.errors import DoodleError

    weights = args.weights or SHIPPED
    if args.int8 and args.float16:
        raise DoodleError("choose --int8 or --float16, not both")
    if _generator_kind(weights) is not None:
        return _export_generator(weights, args)
    if not args.int8:
        path = export_beside(weights, args.out, float16=args.float16)
    else:
        from doodlelab.classifier import quantize
        from doodlelab.data import cache
        from doodlelab.data.categories import categories

        if args.calibration < 1:
            raise DoodleError("--calibration must be at least 1")
        path = quantize.quantize_beside(weights, quantize.calibration_images(args.calibration), args.out)
        test = cache.load_split_arrays("test", categories())
        report = quantize.measure(path, weights, test.images, test.labels)
        card = json.loads(onnx_card_path(path).read_text(encoding="utf-8"))
        save_onnx_card(path, card | {"test": report})
        print(
            f"test split ({report['n']} drawings): top-1 {report['top1']:.4f} "
            f"(float {report['float_top1']:.4f}),"
            f" top-3 {report['top3']:.4f} (float {report['float_top3']:.4f}), first guesses agree on "
            f"{report['top1_agreement']:.2%}",
            file=sys.stderr,
        )
    print(f"wrote {path} and {path.name}.json beside it", file=sys.stderr)
    return 0


def _generator_kind(weights: Path) -> str | None:
    """'diffusion' or 'gan' when `weights` is a generator file (its card says so), else None."""
    import json

    from doodlelab.modelfile import card_path

    try:
        kind = json.loads(card_path(weights).read_text(encoding="utf-8")).get("kind")
    except (OSError, ValueError, AttributeError):
        return None
    return kind if kind in ("diffusion", "gan") else None


def _export_generator(weights: Path, args: argparse.Namespace) -> int:
    """The diffusion U-Net or the GAN's generator as ONNX (float16 weights kept float16, the rest float32);
    generate and serve use it, without PyTorch, when it sits beside the weights."""
    from doodlelab.errors import DoodleError
    from doodlelab.generative import onnx_nets
    from doodlelab.generative.generator import DoodleGenerator

    generator = DoodleGenerator(weights, engine="torch")
    if args.int8 or args.float16:
        raise DoodleError("--int8 and --float16 are for the classifier (a generator export chooses itself)")
    export = onnx_nets.export_unet if generator.kind == "diffusion" else onnx_nets.export_gan
    path = export(weights, generator.net, args.out)
    where = (
        "beside the weights: generate and serve use it"
        if path == weights.with_suffix(".onnx")
        else f"generate and serve use it only as {weights.with_suffix('.onnx').name} beside the weights"
    )
    print(f"wrote {path} and {path.name}.json ({where})", file=sys.stderr)
    return 0
