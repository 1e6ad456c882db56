"""Load a shipped or trained generator file and draw doodles of a category: the one entry point used by
`doodlelab generate`, `doodlelab evaluate generator`, the web app and the benchmarks. NumPy and ONNX
Runtime only when the file has its ONNX export beside it (as the shipped ones do); else PyTorch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from doodlelab import modelfile
from doodlelab.data.categories import categories, resolve
from doodlelab.errors import DataError
from doodlelab.generative import files, onnx_nets, sampling
from doodlelab.generative.config import DiffusionConfig, GANConfig
from doodlelab.generative.scheduler import NoiseScheduler

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
MODELS = ("diffusion", "gan")
MAX_N = 1024  # samples per call
MAX_GUIDANCE = 20.0
ENGINES = ("auto", "onnx", "torch")  # auto: the ONNX export beside the file if it matches, else PyTorch


def shipped(model: str) -> Path:
    """Path of the shipped weights of `model` (diffusion or gan)."""
    if model not in MODELS:
        raise DataError(f"unknown generator {model!r}; choose one of {', '.join(MODELS)}")
    return WEIGHTS / f"{model}.safetensors"


class DoodleGenerator:
    """A generator rebuilt from its file (config inside, no flags): `gen("cat", n=16, seed=0)` ->
    (16, 28, 28) uint8, 0 background and 255 ink, like Google's numpy bitmaps. Its network runs through
    ONNX Runtime when the `.onnx` beside the file was exported from it (`engine` auto or onnx; no PyTorch
    needed), else through PyTorch (`engine` torch). Both draw their noise with NumPy: the same images."""

    def __init__(self, path: str | Path, engine: str = "auto") -> None:
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
        self.path = Path(path)
        self.kind, config, self.arrays = files.load_state(self.path)
        self.card = modelfile.load_card(self.path)
        diffusion = self.kind == "diffusion"
        self.config = DiffusionConfig.from_dict(config) if diffusion else GANConfig.from_dict(config)
        self.scheduler = NoiseScheduler(self.config.schedule, self.config.timesteps) if diffusion else None
        self._net = None
        export = None if engine == "torch" else onnx_nets.matching_export(self.path)
        if export is None and engine == "onnx":
            raise modelfile.ModelFileError(f"{self.path}: no ONNX export of these weights beside them")
        if export is not None:
            runner = onnx_nets.OnnxUNet if diffusion else onnx_nets.OnnxGAN
            self.network, self.engine = runner(export, len(categories())), "onnx"
            return
        try:
            from doodlelab.generative import training
        except ImportError:  # no PyTorch: the base install
            raise modelfile.ModelFileError(
                f"{self.path}: no ONNX export of these weights beside them, and running them without one "
                "needs PyTorch (pip install 'doodlelab[train]')"
            ) from None
        # the U-Net in bfloat16 where the CPU is fast at it (as before the export); G in float32
        self.network, self.engine = training.OnNumpy(self.net, bf16=None if diffusion else False), "torch"

    @property
    def net(self):
        """The PyTorch network rebuilt from the file (on first use; needs PyTorch): to export or fine-tune."""
        if self._net is None:
            import torch

            from doodlelab.generative import diffusion, gan

            net = diffusion.build(self.config)[0] if self.kind == "diffusion" else gan.build(self.config)
            try:
                net.load_state_dict({k: torch.from_numpy(v) for k, v in self.arrays.items()})
            except RuntimeError as exc:
                raise modelfile.ModelFileError(
                    f"{self.path}: weights do not match the stored config ({exc})"
                ) from None
            self._net = net.eval().requires_grad_(False)
        return self._net

    @property
    def eps_model(self) -> sampling.Network:
        """The network sampling calls (the U-Net's eps or G); `web.generation.serving` swaps its session."""
        return self.network

    @eps_model.setter
    def eps_model(self, network: sampling.Network) -> None:
        self.network = network

    @property
    def max_steps(self) -> int:
        return self.config.timesteps if self.kind == "diffusion" else 1

    def check(
        self,
        category: str,
        n: int,
        seed: int,
        steps: int | None,
        guidance: float | None,
        sampler: str | None = None,
        interval: tuple[float, float] | None = None,
        eta: float | None = None,
    ) -> tuple[int, int, float]:
        """(label, steps, guidance) after validating every argument; DataError with a clear message.
        The GAN refuses the diffusion settings (None: not given) rather than ignore them."""
        label = categories().index(resolve(category))
        if not isinstance(n, int) or not 1 <= n <= MAX_N:
            raise DataError(f"n must be an integer from 1 to {MAX_N}, got {n!r}")
        if not isinstance(seed, int) or not 0 <= seed < 2**63:
            raise DataError(f"seed must be an integer >= 0, got {seed!r}")
        if self.kind != "diffusion":
            given = {
                "steps": steps,
                "guidance": guidance,
                "sampler": sampler,
                "guidance interval": interval,
                "eta": eta,
            }
            for name, value in given.items():
                if value is not None:
                    raise DataError(
                        f"{name}: the GAN draws in one pass and has no {name}; leave it out "
                        "(a diffusion setting)"
                    )
            return label, 1, 0.0
        steps, sampler = 50 if steps is None else steps, sampler or "ddim"
        guidance = self.config.guidance if guidance is None else guidance
        if not isinstance(steps, int) or not 1 <= steps <= self.max_steps:
            raise DataError(f"steps must be an integer from 1 to {self.max_steps}, got {steps!r}")
        if not np.isfinite(guidance) or not 0 <= guidance <= MAX_GUIDANCE:
            raise DataError(f"guidance must be from 0 to {MAX_GUIDANCE:g}, got {guidance!r}")
        if sampler not in sampling.SAMPLERS:
            raise DataError(f"sampler must be one of {', '.join(sampling.SAMPLERS)}, got {sampler!r}")
        return label, steps, float(guidance)

    def check_interval(self, interval: tuple[float, float] | None) -> tuple[float, float]:
        """The guidance interval (lo, hi), 0 <= lo <= hi <= 1 (None: the model's); DataError otherwise."""
        if interval is None:
            return tuple(getattr(self.config, "guidance_interval", (0.0, 1.0)))
        if (
            len(interval) != 2
            or not all(np.isfinite(v) for v in interval)
            or not 0 <= interval[0] <= interval[1] <= 1
        ):
            raise DataError(f"the guidance interval must be two numbers 0 <= lo <= hi <= 1, got {interval!r}")
        return float(interval[0]), float(interval[1])

    def check_eta(self, eta: float | None) -> float:
        """DDIM's eta in [0, 1] (None: the model's); DataError otherwise."""
        if eta is None:
            return float(getattr(self.config, "eta", 0.0))
        if not isinstance(eta, (int, float)) or not 0 <= eta <= 1:
            raise DataError(f"eta must be from 0 to 1, got {eta!r}")
        return float(eta)

    def __call__(
        self,
        category: str,
        n: int = 16,
        seed: int = 0,
        steps: int | None = None,
        guidance: float | None = None,
        sampler: str | None = None,
        frames: Callable[[int, np.ndarray], None] | None = None,
        interval: tuple[float, float] | None = None,
        eta: float | None = None,
    ) -> np.ndarray:
        """n samples (n, 28, 28) uint8 of `category`; the same arguments give the same images.
        Diffusion only: `steps`, `guidance`, `sampler` (ddim or ddpm, which runs all T steps),
        `frames(i, x0)` called with each step's predicted clean images (n, 28, 28) uint8, the
        guidance `interval` (lo, hi) in t/T and DDIM's `eta` (both default to the model's); the GAN
        refuses them (DataError). `frames` may raise to stop sampling between two steps (a cancel)."""
        label, steps, guidance = self.check(category, n, seed, steps, guidance, sampler, interval, eta)
        labels = np.full(n, label, dtype=np.int64)
        if self.kind == "gan":
            z_dim, truncation = self.config.z_dim, self.config.truncation
            return files.to_uint8(sampling.sample_gan(self.network, z_dim, labels, seed, truncation))
        callback = (lambda i, x0: frames(i, files.to_uint8(x0))) if frames else None
        interval, eta = self.check_interval(interval), self.check_eta(eta)
        x = sampling.sample_diffusion(
            self.network,
            self.scheduler,
            labels,
            steps,
            guidance,
            sampler or "ddim",
            eta,
            seed,
            callback=callback,
            interval=interval,
        )
        return files.to_uint8(x)


def load(model_or_path: str | Path) -> DoodleGenerator:
    """`diffusion` or `gan` (the shipped weights) or a path to a generator file."""
    if str(model_or_path) in MODELS:
        path = shipped(str(model_or_path))
        if not path.is_file():
            raise modelfile.ModelFileError(f"no shipped {model_or_path} weights at {path}")
        return DoodleGenerator(path)
    return DoodleGenerator(model_or_path)
