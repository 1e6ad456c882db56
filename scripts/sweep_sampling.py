"""Choose a diffusion model's sampling settings on the validation split: one row per setting, each the
full generator evaluation (recognizability, Fréchet / floor, variety) on the same seeds.

    python scripts/sweep_sampling.py [--weights PATH] [--per-category 2] [--categories ...]
        --settings ETA:STEPS:W:LO:HI ...     # e.g. 0:50:8:0.17:0.88 1:50:8:0.17:0.88 1:50:12:0:1

ETA is DDIM's eta, STEPS the DDIM steps, W the guidance scale, LO:HI the guidance interval in t/T. Prints a
Markdown table (and with --json one JSON object per setting). Never the test split: that is for the end.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from doodlelab.data.categories import resolve
from doodlelab.errors import DoodleError
from doodlelab.generative.evaluate import Judge, evaluate_generator
from doodlelab.generative.generator import DoodleGenerator, shipped


def parse_setting(text: str) -> dict:
    """'ETA:STEPS:W:LO:HI' -> {"eta", "steps", "guidance", "interval"}; ValueError with the reason."""
    parts = text.split(":")
    if len(parts) != 5:
        raise ValueError(f"a setting is ETA:STEPS:W:LO:HI, got {text!r}")
    eta, steps, w, lo, hi = parts
    return {"eta": float(eta), "steps": int(steps), "guidance": float(w), "interval": (float(lo), float(hi))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=shipped("diffusion"), help="a diffusion model file")
    parser.add_argument("--settings", nargs="+", required=True, metavar="ETA:STEPS:W:LO:HI")
    parser.add_argument("--per-category", type=int, default=2, help="samples per category (default 2)")
    parser.add_argument("--categories", nargs="+", default=None, help="only these (default: all 345)")
    parser.add_argument("--json", action="store_true", help="also print one JSON object per setting")
    args = parser.parse_args()
    try:
        settings = [parse_setting(s) for s in args.settings]
        names = [resolve(n) for n in args.categories] if args.categories else None
        generator = DoodleGenerator(args.weights)
        if generator.kind != "diffusion":
            raise ValueError(f"{args.weights} is not a diffusion model")
        for s in settings:  # every setting checked before the first one runs
            generator.check("cat", args.per_category, 0, s["steps"], s["guidance"])
            generator.check_interval(s["interval"])
            generator.check_eta(s["eta"])
        judge = Judge()
    except (ValueError, DoodleError) as exc:
        print(f"sweep_sampling: {exc}", file=sys.stderr)
        return 2
    rows = []
    for s in settings:
        started = time.perf_counter()

        def generate(category: str, n: int, seed: int, s=s):
            return generator(
                category, n, seed, s["steps"], s["guidance"], interval=s["interval"], eta=s["eta"]
            )

        report = evaluate_generator(generate, args.per_category, names, judge=judge, split="val")
        row = {
            **s,
            "recognizability": report["recognizability"],
            "frechet_ratio": report["frechet_ratio"],
            "variety_median": report["variety_median"],
            "variety_below_half": report["variety_below_half"],
            "samples": report["samples"],
            "seconds": round(time.perf_counter() - started, 1),
        }
        rows.append(row)
        if args.json:
            print(json.dumps(row), flush=True)
    print(
        "| η | DDIM steps | w | guided while t/T in | recognizability | Fréchet / floor "
        "| variety (below 0.5) |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        lo, hi = r["interval"]
        print(
            f"| {r['eta']:g} | {r['steps']} | {r['guidance']:g} | {lo:g}–{hi:g} "
            f"| {r['recognizability']:.1%} | {r['frechet_ratio']:.2f}× "
            f"| {r['variety_median']:.2f} ({r['variety_below_half']}) |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
