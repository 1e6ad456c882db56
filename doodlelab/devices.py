"""Where a training run computes: the device (CPU, or the GPU of this torchrun process), the process group
of a `torchrun` launch (one host or many), and the autocast type. Shared by every trainer."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

from doodlelab.config import ConfigError


def pick_device(name: str) -> torch.device:
    """A `--device` setting (cpu, cuda or auto) as a torch device: auto is cuda when a GPU is present;
    under torchrun each process on a node takes the GPU numbered by its LOCAL_RANK."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("device cuda: no CUDA GPU is available here (use --device cpu or auto)")
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count())
        torch.cuda.set_device(device)
        return device
    return torch.device("cpu")


def join(device: torch.device) -> tuple[int, int]:
    """(rank, world size), joining the process group when launched by torchrun (nccl on GPUs, else gloo).
    A plain process is rank 0 of a world of 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def leave() -> int:
    """Leave the process group if this process joined one; returns this process's rank (0 without one),
    so a command prints its summary once."""
    if not dist.is_initialized():
        return 0
    rank = dist.get_rank()
    dist.destroy_process_group()
    return rank


def autocast_dtype(device: torch.device, bf16: bool) -> torch.dtype | None:
    """The autocast type of training: bfloat16 when `bf16` (float16 on a GPU without bfloat16), else None."""
    if not bf16:
        return None
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return torch.float16
    return torch.bfloat16
