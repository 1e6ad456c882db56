"""`doodlelab train diffusion|gan`, `doodlelab generate` and `doodlelab evaluate generator`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from doodlelab.cli.common import add_config_args, config_from_args, progress_enabled
from doodlelab.errors import DataError

TRAIN_HELP = {
    "diffusion": "train the class-conditional diffusion model (DDPM/DDIM with classifier-free guidance)",
    "gan": "train the class-conditional GAN (conditional batch norm, projection discriminator)",
}


def register(groups: dict) -> None:
    from doodlelab.generative.config import DiffusionConfig, GANConfig

    for model, config in (("diffusion", DiffusionConfig), ("gan", GANConfig)):
        train = groups["train"].add_parser(
            model,
            help=TRAIN_HELP[model],
            description=f"{TRAIN_HELP[model].capitalize()} on the train split. Every --checkpoint-every "
            "steps: a checkpoint, a sample grid and the curves in --out (rerun the same command to resume), "
            "and the recognizability of samples by the judge classifier (doodlelab/weights/judge.*). "
            f"Ends with {model}.safetensors.",
        )
        train.add_argument(
            "--out", type=Path, default=Path("runs") / model, help=f"output folder (runs/{model})"
        )
        train.add_argument(
            "--no-resume", action="store_true", help="start afresh even if --out has a checkpoint"
        )
        train.add_argument("--no-measure", action="store_true", help="skip the recognizability measurements")
        train.add_argument(
            "--init",
            type=Path,
            default=None,
            help=f"fine-tune: start a new run from a trained {model} file (e.g. doodlelab/weights/"
            f"{model}.safetensors), with fresh optimizer states; a rerun resumes the run in --out",
        )
        add_config_args(train, config)
        train.set_defaults(handler=cmd_train, generator=model, config_class=config)

    gen = groups["_top"].add_parser(
        "generate",
        help="draw new doodles of a category with the diffusion model or the GAN",
        description="Generate doodles. --out ending in .npy: an (N, 28, 28) uint8 array (0 background, "
        "255 ink, like Google's numpy bitmaps); ending in .png: a grid image; otherwise a folder with one "
        "PNG per sample.",
    )
    add_sampling_args(gen)
    gen.add_argument("--category", required=True, help="category name (case-insensitive, _ for spaces)")
    gen.add_argument("--n", type=int, default=16, help="number of samples (default 16)")
    gen.add_argument("--seed", type=int, default=0, help="random seed: same seed, same doodles (default 0)")
    gen.add_argument(
        "--out",
        type=Path,
        required=True,
        help="PATH.npy, PATH.png or a folder (sketch: also .ndjson, .svg; a folder of SVGs)",
    )
    from doodlelab.cli import sketch

    sketch.add_sampling_args(gen, model=False)  # --model sketch: the stroke model
    gen.set_defaults(handler=cmd_generate)

    ev = groups["evaluate"].add_parser(
        "generator",
        help="recognizability and Fréchet distance of generated doodles",
        description="Sample --per-category doodles of every category; report the share the shipped "
        "classifier names as intended (next to its accuracy on real test drawings) and the Fréchet distance "
        "to real test drawings in its feature space (next to the train-vs-test floor).",
    )
    add_sampling_args(ev)
    sketch.add_sampling_args(ev, model=False)
    ev.add_argument("--per-category", type=int, default=10, help="samples per category (default 10)")
    ev.add_argument("--categories", nargs="+", default=None, help="only these categories (default: all)")
    ev.add_argument(
        "--split",
        choices=("test", "val"),
        default="test",
        help="real drawings to compare with (default: test; val to choose sampling settings)",
    )
    ev.add_argument("--json", action="store_true", help="print the full report as one JSON object")
    ev.set_defaults(handler=cmd_evaluate)


def add_sampling_args(parser: argparse.ArgumentParser) -> None:
    """--model and the diffusion sampler's settings, shared by `generate` and `evaluate generator`."""
    parser.add_argument(
        "--model",
        default="diffusion",
        help="diffusion, gan, sketch, or a generator weights file",
    )
    parser.add_argument("--steps", type=int, default=None, help="diffusion: DDIM steps (default 50)")
    parser.add_argument(
        "--guidance",
        type=float,
        default=None,
        help="diffusion, sketch: classifier-free guidance w >= 0 (default: the model's)",
    )
    parser.add_argument(
        "--sampler",
        choices=("ddim", "ddpm"),
        default=None,
        help="diffusion: ddim (default) or ddpm (ancestral, all T steps)",
    )
    parser.add_argument(
        "--guidance-interval",
        type=float,
        nargs=2,
        metavar=("LO", "HI"),
        default=None,
        help="diffusion: guide only while LO <= t/T <= HI (default: the model's)",
    )
    parser.add_argument(
        "--eta",
        type=float,
        default=None,
        help="diffusion: DDIM's eta in [0, 1], fresh noise per step (default: the model's)",
    )


def recognizability_probe(names: list[str] | None):
    """measure(sample_fn) for training: the share of one sample per category the judge classifier names
    as intended (None when it is not installed)."""
    import numpy as np

    from doodlelab.data.categories import categories
    from doodlelab.generative.evaluate import JUDGE, Judge

    if not JUDGE.is_file():
        return None
    judge = Judge()
    labels = np.array([categories().index(n) for n in (names or categories())])

    def measure(sample_fn) -> float:
        predicted, _ = judge.run(sample_fn(labels))
        return float((predicted == labels).mean())

    return measure


def cmd_train(args: argparse.Namespace) -> int:
    from doodlelab.generative import diffusion, gan_training, training

    config = config_from_args(args.config_class, args)
    resume = not args.no_resume
    if args.init is not None and not (resume and (args.out / training.LAST).exists()):
        diffusion_run = args.generator == "diffusion"
        start = diffusion.start_from_model if diffusion_run else gan_training.start_from_generator
        start(args.init, args.out, config)
        resume = True
    measure = None if args.no_measure else recognizability_probe(list(config.categories) or None)
    train = diffusion.train if args.generator == "diffusion" else gan_training.train
    state = train(config, args.out, progress=progress_enabled(), resume=resume, measure=measure)
    print(
        f"{state['step']} steps in {state['seconds']:.0f} s; "
        f"wrote {args.out / (args.generator + '.safetensors')}"
    )
    return 0


def write_samples(images, out: Path, category: str) -> None:
    """(N, 28, 28) uint8 -> .npy array, .png grid, or a folder of PNGs (written atomically)."""
    import io

    import numpy as np

    from doodlelab import modelfile
    from doodlelab.generative import files

    suffix = out.suffix.lower()
    if suffix == ".npy":
        buffer = io.BytesIO()
        np.save(buffer, images, allow_pickle=False)
        modelfile.write_atomically(out, lambda f: f.write(buffer.getvalue()))
    elif suffix == ".png":
        files.save_png(files.grid(images, min(8, len(images))), out)
    elif suffix:
        raise DataError(f"--out must end in .npy or .png, or name a folder; got {out}")
    else:
        out.mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(images):
            files.save_png(image, out / f"{category.replace(' ', '_')}_{i:03d}.png")


def cmd_generate(args: argparse.Namespace) -> int:
    from doodlelab.cli import sketch
    from doodlelab.data.categories import resolve
    from doodlelab.generative.generator import load

    if sketch.is_sketch(args.model):
        return sketch.cmd_generate(args)
    sketch.check_flags(args, sketch=False)
    if args.out.suffix.lower() not in (".npy", ".png", "") or (args.out.suffix and args.out.is_dir()):
        raise DataError(f"--out must end in .npy or .png, or name a folder; got {args.out}")
    generator = load(args.model)
    category = resolve(args.category)
    images = generator(
        category,
        args.n,
        args.seed,
        args.steps,
        args.guidance,
        args.sampler,
        interval=args.guidance_interval,
        eta=args.eta,
    )
    write_samples(images, args.out, category)
    print(f"wrote {len(images)} {category} doodles to {args.out}", file=sys.stderr)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from doodlelab.cli import sketch
    from doodlelab.data.categories import resolve
    from doodlelab.generative.evaluate import evaluate_generator
    from doodlelab.generative.generator import load

    names = [resolve(n) for n in args.categories] if args.categories else None
    if not 1 <= args.per_category <= 1000:
        raise DataError(f"--per-category must be from 1 to 1000, got {args.per_category}")
    if sketch.is_sketch(args.model):
        report = sketch.evaluate(args, names)
        if args.json:
            print(json.dumps(report))
        else:
            print_report(report, args.split)
        return 0
    sketch.check_flags(args, sketch=False)
    generator = load(args.model)
    generator.check(
        "cat", args.per_category, 0, args.steps, args.guidance, args.sampler, args.guidance_interval, args.eta
    )
    interval, eta = (
        (generator.check_interval(args.guidance_interval), generator.check_eta(args.eta))
        if generator.kind == "diffusion"
        else (None, None)
    )
    bar = tqdm(
        total=len(names) if names else 345, desc="sampling", unit="category", disable=not progress_enabled()
    )

    def generate(category: str, n: int, seed: int):
        return generator(
            category, n, seed, args.steps, args.guidance, args.sampler, interval=interval, eta=eta
        )

    report = evaluate_generator(
        generate, args.per_category, names, progress=lambda i, n: bar.update(1), split=args.split
    )
    bar.close()
    report = {
        "model": str(args.model),
        "weights": str(generator.path),
        "steps": args.steps,
        "guidance": args.guidance,
        "sampler": (args.sampler or "ddim") if generator.kind == "diffusion" else None,
        "guidance_interval": interval if generator.kind == "diffusion" else None,
        "eta": eta if generator.kind == "diffusion" and (args.sampler or "ddim") == "ddim" else None,
    } | report
    if args.json:
        print(json.dumps(report))
        return 0
    print_report(report, args.split)
    return 0


def print_report(report: dict, split: str) -> None:
    """`evaluate generator`'s report for people (--json prints it whole)."""
    print(
        f"{report['model']}: {report['samples']} samples ({report['samples_per_category']} per category, "
        f"{report['categories']} categories) in {report['seconds_sampling']:.1f} s"
    )
    print(
        f"  recognizability         {report['recognizability']:.4f}  "
        f"(classifier on real {split} drawings: "
        f"{report['classifier_accuracy_real_test']:.4f})"
    )
    print(
        f"  Fréchet distance        {report['frechet_distance']:.3f}  (floor, train vs {split}: "
        f"{report['frechet_floor_train_vs_test']:.3f}; ratio {report['frechet_ratio']:.2f})"
    )
    print(
        f"  variety                 {report['variety_median']:.2f}  (median over categories, 1 = as varied "
        f"as real drawings; {report['variety_below_half']} below 0.5)"
    )
    print("  least recognizable: " + ", ".join(f"{c} {a:.2f}" for c, a in report["worst_categories"][:5]))
    print("  least varied: " + ", ".join(f"{c} {a:.2f}" for c, a in report["least_varied"][:5]))
    completion = report.get("completion")
    if completion:  # the stroke model
        print(
            f"  completion at half the ink ({completion['drawings']} {split} drawings), top-1: prefix "
            f"{completion['prefix_top1']:.4f}, completed with the category "
            f"{completion['completed_with_category_top1']:.4f}, without "
            f"{completion['completed_without_category_top1']:.4f}, whole drawing "
            f"{completion['whole_drawing_top1']:.4f}"
        )
