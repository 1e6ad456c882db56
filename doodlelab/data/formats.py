"""Streaming readers for the official Quick, Draw! formats: simplified/raw ndjson, numpy_bitmap, binary.

Malformed input raises DataError naming the file and line (or record); `on_error="skip"` counts it instead.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from doodlelab.data.binary import count_records, iter_binary
from doodlelab.data.categories import resolve
from doodlelab.data.records import (  # Drawing, ReadReport: re-exported
    Drawing,
    ReadReport,
    deliver,
    parse_record,
)
from doodlelab.errors import DataError

# Format name (also its folder under the quickdraw root) -> accepted file suffixes, preferred first.
FORMATS: dict[str, tuple[str, ...]] = {
    "simplified": (".ndjson", ".ndjson.gz"),
    "raw": (".ndjson", ".ndjson.gz"),
    "numpy_bitmap": (".npy",),
    "binary": (".bin",),
}
BITMAP_PIXELS = 28 * 28
NPY_MAGIC = b"\x93NUMPY"


def iter_ndjson(
    path: str | Path,
    *,
    recognized: bool | None = None,
    on_error: str = "raise",
    report: ReadReport | None = None,
    limit: int | None = None,
) -> Iterator[Drawing]:
    """Stream the drawings of a simplified or raw `.ndjson` (or `.ndjson.gz`) file, line by line.

    `recognized`: keep only drawings whose flag equals it (drawings without the flag are kept).
    `on_error`: "raise" a DataError naming the file and 1-based line, or "skip" and count it in `report`.
    `limit`: stop after this many drawings. Blank lines are ignored.
    """
    if on_error not in ("raise", "skip"):  # fail now, not at the first next()
        raise ValueError(f"on_error must be 'raise' or 'skip', not {on_error!r}")
    return deliver((e for _, e in numbered_entries(Path(path))), recognized, on_error, report, limit)


def open_bytes(path: Path) -> BinaryIO:
    """The file opened for binary reading, decompressing `.gz` on the fly."""
    return gzip.open(path, "rb") if path.name.endswith(".gz") else path.open("rb")


def numbered_entries(path: Path) -> Iterator[tuple[int, Drawing | DataError]]:
    """(line number, Drawing or the DataError naming file and line that it raised) per non-blank line."""
    number = 0
    with open_bytes(path) as lines:
        try:
            for number, line in enumerate(lines, start=1):
                if line.isspace() or not line:
                    continue
                try:
                    yield number, parse_record(line)
                except DataError as exc:
                    yield number, DataError(exc.reason, path, number)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            yield number + 1, DataError(f"corrupt gzip data ({exc})", path, number + 1)


def read_bitmaps(path: str | Path, mmap: bool = True) -> np.ndarray:
    """A numpy_bitmap `.npy` file -> (N, 784) uint8 array (memory-mapped read-only when `mmap`).

    A file that is not a .npy, is truncated or corrupt, or has another dtype or shape -> DataError.
    """
    path = Path(path)
    with path.open("rb") as f:
        if f.read(len(NPY_MAGIC)) != NPY_MAGIC:
            raise DataError("not a .npy file (bad magic bytes)", path)
    try:
        array = np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except (ValueError, EOFError, OSError) as exc:  # truncated data or header, object dtype
        raise DataError(f"corrupt or truncated .npy file ({exc})", path) from None
    if array.dtype != np.uint8 or array.ndim != 2 or array.shape[1] != BITMAP_PIXELS:
        raise DataError(f"expected a (N, {BITMAP_PIXELS}) uint8 array, got {array.shape} {array.dtype}", path)
    return array


def iter_drawings(path: str | Path, **kw) -> Iterator[Drawing]:
    """Stream drawings from `.ndjson`, `.ndjson.gz` or `.bin`, chosen by suffix (options of `iter_ndjson`)."""
    path = Path(path)
    if path.name.endswith((".ndjson", ".ndjson.gz")):
        return iter_ndjson(path, **kw)
    if path.name.endswith(".bin"):
        return iter_binary(path, **kw)
    hint = " (.npy holds bitmaps: use read_bitmaps)" if path.suffix == ".npy" else ""
    raise DataError(f"unknown drawing file type; expected .ndjson, .ndjson.gz or .bin{hint}", path)


def category_path(root: str | Path, fmt: str, category: str) -> Path:
    """Where `category` lives in format `fmt` under a quickdraw root: `root/simplified/house plant.ndjson`."""
    return Path(root) / fmt / f"{category}{FORMATS[fmt][0]}"


def category_files(root: str | Path, category: str) -> dict[str, Path]:
    """Format name -> existing file for `category` (any accepted spelling) under a quickdraw data root."""
    name = resolve(category)
    found = {}
    for fmt, suffixes in FORMATS.items():
        for suffix in suffixes:
            path = Path(root) / fmt / f"{name}{suffix}"
            if path.is_file():
                found[fmt] = path
                break
    return found


def counts(root: str | Path) -> dict[str, dict[str, int]]:
    """Format -> {category: number of drawings} for every file under a quickdraw root (all four formats)."""
    result: dict[str, dict[str, int]] = {}
    for fmt, suffixes in FORMATS.items():
        per_category: dict[str, int] = {}
        folder = Path(root) / fmt
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            suffix = next((s for s in suffixes if path.name.endswith(s)), None)
            name = path.name[: -len(suffix)] if suffix else None
            if name and name not in per_category and path.is_file():  # `.ndjson` wins over `.ndjson.gz`
                per_category[name] = count_file(path)
        result[fmt] = per_category
    return result


def count_file(path: str | Path) -> int:
    """Drawings in one file, cheaply: non-blank lines (no JSON parsing), the .npy shape, or .bin records."""
    path = Path(path)
    if path.name.endswith(".npy"):
        return len(read_bitmaps(path))
    if path.name.endswith(".bin"):
        return count_records(path)
    with open_bytes(path) as lines:
        try:
            return sum(1 for line in lines if line and not line.isspace())
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise DataError(f"corrupt gzip data ({exc})", path) from None
