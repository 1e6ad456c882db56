"""Every setting of a classifier training run, one dataclass (each field is a `doodlelab train classifier`
flag and is stored in checkpoints and model cards)."""

from __future__ import annotations

from dataclasses import dataclass

from doodlelab.config import Config, ConfigError
from doodlelab.data.augment import Augment

ARCHS = ("resnet", "sketcher")  # see classifier.model
DEVICES = ("auto", "cpu", "cuda")
COMPILERS = ("", "inductor", "eager")  # eager: traced by TorchDynamo, run without code generation (tests)


@dataclass
class ClassifierConfig(Config):
    """Model, data, optimisation and augmentation settings of one run."""

    arch: str = "resnet"  # network: resnet (doodlelab's compact ResNet) or sketcher (the baseline)
    widths: tuple[int, ...] = (32, 64, 128, 256)  # resnet: channels of each stage
    blocks: tuple[int, ...] = (1, 1, 1, 1)  # resnet: residual blocks per stage
    dropout: float = 0.2  # dropout before the linear head
    size: int = 28  # image side in pixels (Google's bitmaps are 28)
    categories: tuple[str, ...] = ()  # train on these categories only (empty: all that have data)
    epochs: int = 12  # maximum passes over the training split
    batch_size: int = 256  # images per optimizer step (split across processes under torchrun)
    lr: float = 3e-3  # peak learning rate of AdamW
    weight_decay: float = 0.05  # AdamW decoupled weight decay
    warmup_epochs: float = 0.5  # linear warm-up, then cosine decay to zero at the last epoch
    label_smoothing: float = 0.1  # cross-entropy label smoothing
    patience: int = 3  # stop after this many epochs without a better validation accuracy (0: never)
    rotate: float = 12.0  # augmentation: maximum rotation, degrees (all augmentation 0: none)
    stretch: float = 0.15  # augmentation: maximum log anisotropic stretch
    shear: float = 0.15  # augmentation: maximum shear
    drop_stroke: float = 0.1  # augmentation: probability of dropping each stroke
    jitter: float = 1.5  # augmentation: noise on each point, units of the 0..255 box
    shift: float = 0.06  # augmentation (bitmaps only): maximum shift, fraction of the side
    prefix: float = 0.0  # augmentation: probability of cutting a stroke drawing to a prefix of its ink
    prefix_min: float = 0.15  # augmentation: a prefix keeps a share of the ink drawn from U(prefix_min, 1)
    init: str = ""  # start from this classifier model file's weights (a fine-tune; empty: random init)
    teacher: str = ""  # distil: also learn this classifier model file's probabilities (e.g. an ensemble's)
    distill: float = 0.5  # distil: weight of KL(teacher || network) in the loss; the labels' get 1 - distill
    bf16: bool = True  # bfloat16 autocast for training (AVX-512 BF16 CPU or GPU; float16 on older GPUs)
    device: str = "auto"  # cpu, cuda or auto (cuda when present); a torchrun process uses GPU LOCAL_RANK
    compile: str = ""  # torch.compile the training network with this backend (inductor on GPUs; "": off)
    max_per_category: int = 0  # data: at most this many drawings of each source per category (0: all)
    shuffle_window: int = 262_144  # drawings shuffled together (indices only); blocks of 64 in a seeded order
    max_steps: int = 0  # stop after this many optimizer steps in all, resumable mid-epoch (0: no limit)
    checkpoint_every: int = 0  # also save the resumable checkpoint every N steps of an epoch (0: at its end)
    workers: int = 1  # processes rendering augmented batches (0: in the training process)
    threads: int = 0  # torch CPU threads (0: torch's default)
    seed: int = 0  # seed of initialisation, shuffling, augmentation and dropout

    def __post_init__(self) -> None:
        def check(ok: bool, message: str) -> None:
            if not ok:
                raise ConfigError(f"bad classifier setting: {message}")

        self.widths, self.blocks = tuple(self.widths), tuple(self.blocks)
        self.categories = tuple(self.categories)
        check(self.arch in ARCHS, f"arch must be one of {', '.join(ARCHS)}, not {self.arch!r}")
        check(len(self.widths) == len(self.blocks) >= 1, "widths and blocks need one entry per stage")
        check(min(self.widths) >= 1 and min(self.blocks) >= 1, "widths and blocks must be >= 1")
        check(0 <= self.dropout < 1 and 0 <= self.label_smoothing < 1, "dropout, label_smoothing in [0, 1)")
        check(8 <= self.size <= 256, f"size must be in [8, 256], got {self.size}")
        check(self.epochs >= 1 and self.batch_size >= 1, "epochs and batch_size must be >= 1")
        check(self.lr > 0 and self.weight_decay >= 0, "lr must be > 0 and weight_decay >= 0")
        check(self.warmup_epochs >= 0 and self.patience >= 0, "warmup_epochs and patience must be >= 0")
        check(0 <= self.drop_stroke < 1, "drop_stroke must be in [0, 1)")
        check(0 <= self.distill <= 1, f"distill must be in [0, 1], got {self.distill}")
        check(0 <= self.prefix <= 1 and 0 < self.prefix_min <= 1, "prefix in [0, 1], prefix_min in (0, 1]")
        check(
            min(self.rotate, self.stretch, self.shear, self.jitter, self.shift) >= 0,
            "augmentation strengths must be >= 0",
        )
        check(self.workers >= 0 and self.threads >= 0, "workers and threads must be >= 0")
        check(self.device in DEVICES, f"device must be one of {', '.join(DEVICES)}, not {self.device!r}")
        check(self.compile in COMPILERS, f"compile must be one of {', '.join(map(repr, COMPILERS))}")
        check(
            min(self.max_per_category, self.max_steps, self.checkpoint_every) >= 0,
            "max_per_category, max_steps and checkpoint_every must be >= 0",
        )
        check(self.shuffle_window >= 1, "shuffle_window must be >= 1")

    @property
    def augment(self) -> Augment:
        return Augment(
            self.rotate,
            self.stretch,
            self.shear,
            self.drop_stroke,
            self.jitter,
            self.shift,
            self.prefix,
            self.prefix_min,
        )
