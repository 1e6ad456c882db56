"""Copy a trained generator into the package as float16 weights, with its evaluation in the card.

    python scripts/ship_generator.py runs/diffusion/diffusion.safetensors [--per-category 10] [--guidance W]
        [--guidance-interval LO HI] [--eta ETA]
    python scripts/ship_generator.py runs/gan/gan.safetensors [--truncation T]
Each gets its network's ONNX export beside it (the U-Net or G: the engine generate and serve use, no
PyTorch needed). Runs `evaluate_generator` (all 345 categories) on the shipped files and stores the report
in the card.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from doodlelab import modelfile
from doodlelab.generative import files, onnx_nets
from doodlelab.generative.evaluate import evaluate_generator
from doodlelab.generative.generator import DoodleGenerator, shipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights", type=Path, help="a trained diffusion.safetensors or gan.safetensors")
    parser.add_argument("--per-category", type=int, default=10)
    parser.add_argument("--guidance", type=float, default=None, help="diffusion: default guidance w")
    parser.add_argument(
        "--guidance-interval",
        type=float,
        nargs=2,
        default=None,
        metavar=("LO", "HI"),
        help="diffusion: guide only while LO <= t/T <= HI",
    )
    parser.add_argument("--eta", type=float, default=None, help="diffusion: default DDIM eta in [0, 1]")
    parser.add_argument("--truncation", type=float, default=None, help="GAN: truncation of z (0: off)")
    args = parser.parse_args()
    trained = DoodleGenerator(args.weights)
    if args.guidance is not None:
        trained.config.guidance = args.guidance
    if args.guidance_interval is not None:
        trained.config.guidance_interval = trained.check_interval(args.guidance_interval)
    if args.eta is not None:
        trained.config.eta = trained.check_eta(args.eta)
    if args.truncation is not None:
        trained.config.truncation = args.truncation
    target = shipped(trained.kind)
    card = {
        k: v for k, v in trained.card.items() if k not in ("format", "kind", "classes", "config", "dtype")
    }
    files.save_model(target, trained.kind, trained.net, trained.config, card, dtype=torch.float16)
    export = onnx_nets.export_unet if trained.kind == "diffusion" else onnx_nets.export_gan
    export(target, DoodleGenerator(target, engine="torch").net)
    generator = DoodleGenerator(target)
    print(f"{target}: sampling through {generator.engine}", file=sys.stderr)
    report = evaluate_generator(
        lambda c, n, s: generator(c, n, s),
        args.per_category,
        progress=lambda i, n: print(f"\r{i}/{n}", end="", file=sys.stderr),
    )
    keep = {k: v for k, v in report.items() if k != "per_category"}
    settings = (
        {
            "steps": 50,
            "guidance": generator.config.guidance,
            "sampler": "ddim",
            "guidance_interval": list(generator.config.guidance_interval),
            "eta": generator.config.eta,
            "engine": generator.engine,
        }
        if generator.kind == "diffusion"
        else {"truncation": generator.config.truncation}
    )
    modelfile.save_card(
        target,
        modelfile.load_card(target)
        | {
            "evaluation": keep | {"sampling": settings, "command": "doodlelab evaluate generator"},
            "per_category_recognizability": report["per_category"],
        },
    )
    print(
        f"\nwrote {target}: recognizability {report['recognizability']:.4f} (classifier on real test "
        f"{report['classifier_accuracy_real_test']:.4f}), Fréchet {report['frechet_distance']:.3f} "
        f"(floor {report['frechet_floor_train_vs_test']:.3f}, ratio {report['frechet_ratio']:.2f}), variety "
        f"median {report['variety_median']:.2f} ({report['variety_below_half']} categories below 0.5)"
    )


if __name__ == "__main__":
    main()
