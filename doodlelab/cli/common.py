"""CLI helpers: argparse that fails in one line, and flags derived from config dataclasses."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import sys
import typing
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

# The top-level commands in `doodlelab --help` order, with their line of help.
HELP = {
    "train": "train a model",
    "evaluate": "evaluate a model and print its metrics",
    "export": "export a model to another format",
    "data": "inspect, render, download and cache the Quick, Draw! data",
    "serve": "run the web app's API server",
    "predict": "name drawings or images with a trained model",
    "generate": "draw new doodles of a category with the diffusion model or the GAN",
    "complete": "finish drawings with the stroke model",
}


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def field_comments(cls: type) -> dict[str, str]:
    """Map each dataclass field to the `# comment` that ends its line in the source (nanoGPT style)."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    pattern = re.compile(r"^\s+(\w+)\s*:[^#\n]*#\s*(.+)$")
    return {m.group(1): m.group(2).strip() for m in map(pattern.match, source.splitlines()) if m}


def _bool(text: str) -> bool:
    low = text.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_config_args(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one `--field-name` flag per field of dataclass `cls`, with the field's comment as help."""
    hints = typing.get_type_hints(cls)
    comments = field_comments(cls)
    group = parser.add_argument_group(f"{cls.__name__} (config)")
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        kind = hints[f.name]
        origin = typing.get_origin(kind)
        if origin is typing.Union or type(kind).__name__ == "UnionType":  # Optional[X] / X | None
            kind = next(a for a in typing.get_args(kind) if a is not type(None))
            origin = typing.get_origin(kind)
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        flag = "--" + f.name.replace("_", "-")
        help_text = f"{comments.get(f.name, '')} (default: {default})".strip()
        help_text = help_text.replace("%", "%%")  # argparse %-formats help texts
        if origin in (tuple, list):
            item = typing.get_args(kind)[0]
            group.add_argument(flag, dest=f.name, type=item, nargs="+", default=None, help=help_text)
        elif kind is bool:
            group.add_argument(flag, dest=f.name, type=_bool, default=None, metavar="BOOL", help=help_text)
        else:
            group.add_argument(flag, dest=f.name, type=kind, default=None, help=help_text)


def config_from_args(cls: type[T], args: argparse.Namespace, base: T | None = None) -> T:
    """Build `cls` from parsed flags; flags left unset keep the value from `base` (or the default)."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        value = getattr(args, f.name, None)
        if value is not None:
            values[f.name] = tuple(value) if isinstance(value, list) else value
    if base is not None:
        return dataclasses.replace(base, **values)  # type: ignore[type-var]
    return cls(**values)


def require_weights(path: Path | None) -> None:
    """Fail in one line when a `--weights` file the user named is missing (before its card is looked for)."""
    from doodlelab.modelfile import ModelFileError

    if path is not None and not path.is_file():
        reason = "a folder, not a weights file" if path.is_dir() else "no such weights file"
        raise ModelFileError(f"{path}: {reason}")


def progress_enabled() -> bool:
    """Progress bars go to stderr, and only when it is a terminal or DOODLELAB_PROGRESS=1."""
    import os

    forced = os.environ.get("DOODLELAB_PROGRESS")
    if forced is not None:
        return forced not in ("0", "", "false")
    return sys.stderr.isatty()
