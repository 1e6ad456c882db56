"""Shard files of the drawing cache: one flat binary file per shard, its layout, size and CRC-32 in the
category's `manifest.json`; read back memory-mapped, checked for truncation and corruption before use.
"""

from __future__ import annotations

import json
import mmap
import os
import tempfile
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from doodlelab.data import strokes
from doodlelab.errors import DataError

SHARD_SIZE = 8192  # drawings per shard: 6.4 MB of 28 px images, a few hundred kB of strokes
ALIGN = 64  # every section starts at a multiple of this many bytes
# Per-drawing sections (first axis = drawings in the shard), then the packed strokes of its stroke drawings.
ROWS = {
    "images": np.uint8,
    "source": np.uint8,
    "split": np.uint8,
    "qd_index": np.int64,
    "item": np.int64,
    "drawing": np.int64,
}
PACKED = {"points": np.uint8, "stroke_ends": np.int64, "drawing_ends": np.int64}
MANIFEST = "manifest.json"


class Chunked:
    """A section written piece by piece: its shape, and `chunks()` yielding consecutive rows (so a shard's
    images need not be gathered into one array before they are written)."""

    def __init__(self, shape: tuple[int, ...], chunks: Callable[[], Iterable[np.ndarray]]) -> None:
        self.shape, self.chunks = tuple(shape), chunks

    def __len__(self) -> int:
        return self.shape[0]


def write_shard(path: Path, arrays: dict[str, np.ndarray | Chunked]) -> dict:
    """Write the sections of ROWS and PACKED into one file; returns its manifest entry.

    arrays: images (n, S, S) uint8, source/split (n,) uint8, qd_index/item (n,) int64 (item = position in
    the category's reading order), drawing (n,) int64 index into this shard's packed strokes or -1,
    points (P, 2) uint8, stroke_ends (K,) int64, drawing_ends (D,) int64; any of them may be `Chunked`.
    """
    sections, crc, offset = {}, 0, 0
    with path.open("wb") as fh:
        for name, dtype in (ROWS | PACKED).items():
            value = arrays[name]
            parts = value.chunks() if isinstance(value, Chunked) else [value]
            pad = b"\0" * (-offset % ALIGN)
            fh.write(pad)
            crc = zlib.crc32(pad, crc)
            offset += len(pad)
            start = offset
            for part in parts:
                raw = memoryview(np.ascontiguousarray(part, dtype=dtype).reshape(-1)).cast("B")  # no copy
                fh.write(raw)
                crc = zlib.crc32(raw, crc)
                offset += raw.nbytes
            shape = value.shape if isinstance(value, Chunked) else np.shape(value)
            if offset - start != int(np.prod(shape)) * np.dtype(dtype).itemsize:
                raise ValueError(f"section {name}: {offset - start} bytes written for shape {shape}")
            sections[name] = [start, np.dtype(dtype).str, list(shape)]
    return {
        "file": path.name,
        "n": len(arrays["images"]),
        "bytes": offset,
        "crc32": crc,
        "sources": np.bincount(arrays["source"], minlength=2).tolist(),
        "sections": sections,
    }


def checksum(path: Path, chunk: int = 1 << 22) -> int:
    """CRC-32 of a whole file, read in 4 MB chunks (never held whole)."""
    crc = 0
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            crc = zlib.crc32(block, crc)
    return crc


def problem(folder: Path, entry: dict, verify: bool) -> str | None:
    """Why shard `entry` of `folder` cannot be used (missing, truncated, corrupt), or None when it can.
    Sizes are always compared; `verify` also recomputes the CRC-32 (one read of the file)."""
    path = folder / entry["file"]
    try:
        size = path.stat().st_size
    except OSError:
        return f"shard {entry['file']} is missing"
    if size != entry["bytes"]:
        return f"shard {entry['file']} has {size} bytes, the manifest says {entry['bytes']} (truncated?)"
    if verify and checksum(path) != entry["crc32"]:
        return f"shard {entry['file']} fails its CRC-32 check (corrupt)"
    return None


class Mapped:
    """A file mapped read-only as a flat uint8 array (`array`) whose resident pages can be dropped from
    the process (`release`): they stay in the page cache, and a later read maps them again. A reader that
    releases after each batch holds what that batch touched, not every page it ever read."""

    def __init__(self, path: Path) -> None:
        with path.open("rb") as fh:
            self._map = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        if hasattr(self._map, "madvise"):  # random rows: no read-ahead around each one
            self._map.madvise(mmap.MADV_RANDOM)
        self.array = np.frombuffer(self._map, np.uint8)

    def release(self) -> None:
        if hasattr(self._map, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
            self._map.madvise(mmap.MADV_DONTNEED)  # a shared read-only file map: nothing is lost


class Shard:
    """One shard, memory-mapped read-only: each section of ROWS and PACKED is an attribute (an array view
    of the file's pages); `release()` drops the pages read so far from the process's memory."""

    def __init__(self, folder: Path, entry: dict, verify: bool = True) -> None:
        why = problem(folder, entry, verify)
        if why:
            raise DataError(f"{why}; run `doodlelab data cache` to rebuild it", folder)
        self.n = entry["n"]
        self._file = Mapped(folder / entry["file"])  # one map; plain views slice fast
        raw = self._file.array
        for name, (offset, dtype, shape) in entry["sections"].items():
            size = int(np.prod(shape)) * np.dtype(dtype).itemsize
            setattr(self, name, raw[offset : offset + size].view(dtype).reshape(shape))

    def release(self) -> None:
        self._file.release()

    def strokes_of(self, row: int) -> strokes.Strokes | None:
        """The simplified strokes of drawing `row`, or None for a Google bitmap."""
        d = int(self.drawing[row])
        if d < 0:
            return None
        first = int(self.drawing_ends[d - 1]) if d > 0 else 0
        start = int(self.stroke_ends[first - 1]) if first > 0 else 0
        out = []
        for end in self.stroke_ends[first : self.drawing_ends[d]].tolist():
            out.append(np.asarray(self.points[start:end], dtype=np.float64))
            start = end
        return out


def read_manifest(folder: Path) -> dict | None:
    """The manifest of a category folder, or None when missing or unreadable."""
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_manifest(folder: Path, manifest: dict) -> None:
    """Write the manifest atomically (the last step of a build: shards without one are not used)."""
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(manifest, fh)
        os.replace(tmp, folder / MANIFEST)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_unlisted(folder: Path, manifest: dict) -> None:
    """Delete shard files of earlier builds that the manifest no longer lists."""
    keep = {e["file"] for e in manifest["shards"]}
    for path in folder.glob("*.bin"):
        if path.name not in keep:
            path.unlink(missing_ok=True)
