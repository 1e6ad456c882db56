"""Start a GAN run from another run's checkpoint with new loss settings (a fine-tune; `gan.warm_start`).

    python scripts/warm_start_gan.py runs/gan/last.safetensors runs/gan_tac --twin 1 --mode-seeking 1
    doodlelab train gan --out runs/gan_tac --steps 40000 --twin 1 --mode-seeking 1 --threads 1
"""

from __future__ import annotations

import argparse
from pathlib import Path

from doodlelab.generative import gan

LOSS_SETTINGS = ("aux_weight", "twin", "mode_seeking", "lr", "d_lr")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path, help="last.safetensors of the run to start from")
    parser.add_argument("out", type=Path, help="folder of the new run")
    for name in LOSS_SETTINGS:
        parser.add_argument("--" + name.replace("_", "-"), type=float)
    args = parser.parse_args()
    changes = {k: getattr(args, k) for k in LOSS_SETTINGS if getattr(args, k) is not None}
    print(f"wrote {gan.warm_start(args.checkpoint, args.out, **changes)}: {changes}")


if __name__ == "__main__":
    main()
