"""Build one category's shards in two streaming passes: read the source line by line, rendering into
temporary files on disk; then assign the splits and write the drawings out shard by shard. Memory holds one
shard and a few numbers per drawing (identities, stroke counts), never the category."""

from __future__ import annotations

import secrets
import tempfile
from array import array
from pathlib import Path

import numpy as np

from doodlelab.data import formats, shards, splits, strokes

STROKE_FORMATS = ("simplified", "binary", "raw")  # first one present is used
GROUPS = ("train", "val", "test", "dup")  # dup: Google bitmaps that are also present as strokes
CHUNK = 1024  # drawings rendered before they are appended to the temporary file


class _Pass1:
    """Pass 1's output: stroke images and points on disk, bookkeeping in compact arrays."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.images = (tmp / "images.raw").open("wb")
        self.points = (tmp / "points.raw").open("wb")
        self.stroke_counts, self.stroke_lens, self.qd = array("q"), array("q"), array("q")
        self.keys: list[str | None] = []
        self.pending: list[np.ndarray] = []

    def add(self, simplified: strokes.Strokes, size: int, qd_index: int | None, key_id: str | None) -> None:
        self.pending.append(strokes.render(simplified, size))
        if simplified:
            self.points.write(np.concatenate(simplified).astype(np.uint8).tobytes())
        self.stroke_counts.append(len(simplified))
        self.stroke_lens.extend(len(s) for s in simplified)
        self.qd.append(-1 if qd_index is None else qd_index)
        self.keys.append(key_id)
        if len(self.pending) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.images.write(np.stack(self.pending).tobytes())
            self.pending = []

    def close(self) -> None:
        self.flush()
        self.images.close()
        self.points.close()


def _memmap(path: Path, dtype: type, shape: tuple[int, ...]) -> tuple[np.ndarray, shards.Mapped | None]:
    """A temporary file as an array of `shape`, and its map (to release its pages after each shard)."""
    if int(np.prod(shape)) == 0:
        return np.zeros(shape, dtype), None
    mapped = shards.Mapped(path)
    return mapped.array.view(dtype).reshape(shape), mapped


def build_category(
    category: str,
    root: Path,
    size: int,
    config: splits.SplitConfig,
    folder: Path,
    max_per_category: int,
    fingerprint: str,
) -> dict:
    """Read, render, split and shard one category into `folder`; returns the manifest it wrote.

    Stroke drawings come first in reading order (a key_id seen twice is kept once), then Google's bitmaps
    (28 px only). At most `max_per_category` drawings of each source are taken (0: all).
    """
    files = formats.category_files(root, category)
    stroke_fmt = next((f for f in STROKE_FORMATS if f in files), None)
    folder.mkdir(parents=True, exist_ok=True)
    report = formats.ReadReport()
    with tempfile.TemporaryDirectory(dir=folder, prefix=".build-") as tmp:
        first = _Pass1(Path(tmp))
        if stroke_fmt is not None:
            seen: set[str] = set()
            for d in formats.iter_drawings(files[stroke_fmt], on_error="skip", report=report):
                if max_per_category and len(first.keys) >= max_per_category:
                    break
                if d.key_id is not None:
                    if d.key_id in seen:  # the same drawing listed twice
                        continue
                    seen.add(d.key_id)
                simplified = strokes.simplify(d.strokes) if d.is_raw else d.strokes
                first.add(simplified, size, d.qd_index, d.key_id)
            del seen
        first.close()
        n = len(first.keys)
        images, images_map = _memmap(first.tmp / "images.raw", np.uint8, (n, size, size))
        qd_index = np.frombuffer(first.qd, dtype=np.int64).copy()
        bitmaps = np.zeros((0, 784), np.uint8)
        if "numpy_bitmap" in files and size == 28:  # Google's bitmaps exist only at 28x28
            bitmaps = formats.read_bitmaps(files["numpy_bitmap"])[: max_per_category or None]
            unknown = np.flatnonzero(qd_index < 0)
            for start in range(0, len(unknown), shards.SHARD_SIZE):
                part = unknown[start : start + shards.SHARD_SIZE]
                qd_index[part] = splits.link_to_bitmaps(images[part].reshape(len(part), 784), bitmaps)
                if images_map is not None:
                    images_map.release()
        ids = [splits.identity(category, int(q), k) for q, k in zip(qd_index, first.keys)]
        ids += [splits.identity(category, r) for r in range(len(bitmaps))]
        split = splits.assign_splits(ids, config)
        del ids, first.keys
        known = qd_index[qd_index >= 0]
        duplicate = np.zeros(n + len(bitmaps), bool)
        duplicate[n:] = np.isin(np.arange(len(bitmaps)), known)
        group = np.where(duplicate, GROUPS.index("dup"), split)
        stroke_ends = np.cumsum(np.frombuffer(first.stroke_lens, dtype=np.int64))
        drawing_ends = np.cumsum(np.frombuffer(first.stroke_counts, dtype=np.int64))
        points, points_map = _memmap(
            first.tmp / "points.raw", np.uint8, (int(stroke_ends[-1]) if n else 0, 2)
        )
        maps = [m for m in (images_map, points_map) if m is not None]
        source = Source(images, points, stroke_ends, drawing_ends, bitmaps, qd_index, split, maps)
        build = secrets.token_hex(4)
        entries = []
        for g, name in enumerate(GROUPS):
            members = np.flatnonzero(group == g)
            for k, start in enumerate(range(0, len(members), shards.SHARD_SIZE)):
                path = folder / f"{name}-{k:05d}-{build}.bin"
                arrays = source.rows(members[start : start + shards.SHARD_SIZE])
                entries.append(shards.write_shard(path, arrays) | {"group": name})
                del arrays
        del images, points, source, images_map, points_map, maps  # unmap before the folder is removed
    manifest = {
        "category": category,
        "fingerprint": fingerprint,
        "skipped": report.skipped,
        "drawings": n + len(bitmaps),
        "shards": entries,
    }
    shards.write_manifest(folder, manifest)
    shards.remove_unlisted(folder, manifest)
    return manifest


class Source:
    """Pass 2's view of a category: items 0..n-1 are stroke drawings (memory-mapped renders and points,
    `maps`), items n.. are Google's bitmap rows; `rows(items)` gathers one shard's arrays."""

    def __init__(
        self,
        images: np.ndarray,
        points: np.ndarray,
        stroke_ends: np.ndarray,
        drawing_ends: np.ndarray,
        bitmaps: np.ndarray,
        qd_index: np.ndarray,
        split: np.ndarray,
        maps: list[shards.Mapped] = (),
    ):
        self.images, self.points, self.bitmaps, self.maps = images, points, bitmaps, list(maps)
        self.stroke_ends, self.drawing_ends = stroke_ends, drawing_ends
        self.qd_index, self.split, self.n = qd_index, split, len(images)

    def release(self) -> None:
        """Drop the pages of the temporary files read so far: memory holds one shard, not the category."""
        for mapped in self.maps:
            mapped.release()

    def rows(self, items: np.ndarray, chunk: int = 512) -> dict[str, np.ndarray]:
        """Shard arrays (see shards.write_shard) of `items` (sorted: stroke drawings first), gathered
        `chunk` drawings at a time, releasing the temporary files' pages after each."""
        drawn, rows = items[items < self.n], items[items >= self.n] - self.n
        side = self.images.shape[1:] if self.n else (28, 28)

        def images():  # written chunk by chunk: the shard's images are never all in memory
            for start in range(0, len(drawn), chunk):
                yield self.images[drawn[start : start + chunk]]
                self.release()
            yield np.asarray(self.bitmaps[rows]).reshape(-1, *side)

        lens, pts = [], []
        for start in range(0, len(drawn), chunk):
            part = drawn[start : start + chunk]
            picked = []
            for d in part.tolist():
                s0 = int(self.drawing_ends[d - 1]) if d > 0 else 0
                s1 = int(self.drawing_ends[d])
                p0 = int(self.stroke_ends[s0 - 1]) if s0 > 0 else 0
                p1 = int(self.stroke_ends[s1 - 1]) if s1 > 0 else 0
                lens.append(np.diff(self.stroke_ends[s0:s1], prepend=p0))
                picked.append(self.points[p0:p1])
            pts.append(np.concatenate(picked) if picked else np.zeros((0, 2), np.uint8))  # a copy
            self.release()
        counts = [len(x) for x in lens]
        qd = np.concatenate([self.qd_index[drawn], rows]).astype(np.int64)
        return {
            "images": shards.Chunked((len(items), *side), images),
            "source": np.repeat(np.array([0, 1], np.uint8), [len(drawn), len(rows)]),
            "split": self.split[items],
            "qd_index": qd,
            "item": items,
            "drawing": np.concatenate([np.arange(len(drawn)), np.full(len(rows), -1)]),
            "points": np.concatenate(pts) if pts else np.zeros((0, 2), np.uint8),
            "stroke_ends": np.cumsum(np.concatenate(lens)) if lens else np.zeros(0, np.int64),
            "drawing_ends": np.cumsum(counts, dtype=np.int64),
        }
