"""Start a GAN run from another run's checkpoint with new loss settings, or from a generator file alone.

    python scripts/warm_start_gan.py runs/gan/last.safetensors runs/gan_tac --twin 1 --mode-seeking 1
    doodlelab train gan --out runs/gan_tac --steps 40000 --twin 1 --mode-seeking 1 --threads 1

A generator file (the shipped one keeps no discriminator) starts a fine-tune with a fresh D, which may
judge pairs (PacGAN); the `doodlelab train gan` that follows repeats the settings given here:

    python scripts/warm_start_gan.py doodlelab/weights/gan.safetensors runs/gan_pac --pack 2 \\
        --d-warmup 500 --steps 10000
    doodlelab train gan --out runs/gan_pac --pack 2 --d-warmup 500 --steps 10000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from doodlelab import modelfile
from doodlelab.classifier.config import ConfigError
from doodlelab.generative import gan_training
from doodlelab.generative.config import GANConfig

LOSS_SETTINGS = ("aux_weight", "twin", "mode_seeking", "pair_weight", "lr", "d_lr")
FRESH_RUN_SETTINGS = {
    "pack": int,
    "d_warmup": int,
    "steps": int,
    "checkpoint_every": int,
    "threads": int,
    "d_width": int,
}  # a new D and a new run: only when starting from a generator file


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="last.safetensors of a run, or a gan.safetensors")
    parser.add_argument("out", type=Path, help="folder of the new run")
    for name in LOSS_SETTINGS:
        parser.add_argument("--" + name.replace("_", "-"), type=float)
    for name, kind in FRESH_RUN_SETTINGS.items():
        parser.add_argument("--" + name.replace("_", "-"), type=kind)
    parser.add_argument("--augment", choices=("true", "false"))
    args = parser.parse_args()
    changes = {k: getattr(args, k) for k in LOSS_SETTINGS if getattr(args, k) is not None}
    fresh_d = {k: getattr(args, k) for k in FRESH_RUN_SETTINGS if getattr(args, k) is not None}
    fresh_d |= {"augment": args.augment == "true"} if args.augment else {}
    try:
        meta = modelfile.load(args.source)[1]
        if meta.get("format") == "doodlelab-gan/1":  # a generator file: its config is in the metadata
            config = GANConfig.from_dict(meta["config"] | changes | fresh_d)
            target = gan_training.start_from_generator(args.source, args.out, config)
        elif fresh_d:
            parser.error(f"{', '.join(fresh_d)}: only when starting from a generator file (a new D)")
        else:
            target = gan_training.warm_start(args.source, args.out, **changes)
    except (modelfile.ModelFileError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {target}: {changes | fresh_d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
