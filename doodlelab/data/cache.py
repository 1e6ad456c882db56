"""A cache of rendered Quick, Draw! drawings: each category is rendered once into fixed-size shards on disk
(`shards.py`, built streaming by `shards_build.py`) under `settings.cache_dir()`, rebuilt when its source
files, the renderer, the split or the cap change, or a shard is truncated or corrupt.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from doodlelab import settings
from doodlelab.data import formats, shards, splits, strokes
from doodlelab.data.categories import categories as all_categories
from doodlelab.data.categories import category_index
from doodlelab.data.shards_build import build_category
from doodlelab.errors import DataError

try:
    import fcntl
except ImportError:  # Windows: no lock; build the cache with one process before training
    fcntl = None

CACHE_VERSION = 3  # bump when the renderer or the layout of the cache files changes
SOURCES = ("strokes", "bitmaps")  # source codes 0 and 1 in CategoryArrays.source


@dataclass(frozen=True)
class CategoryArrays:
    """One category's drawings: images (N, S, S) uint8 and per-drawing (N,) metadata."""

    images: np.ndarray
    split: np.ndarray  # uint8 split codes, see splits.SPLITS
    source: np.ndarray  # uint8: 0 strokes, 1 Google bitmap
    qd_index: np.ndarray  # int64 row in Google's files, -1 when unknown
    skipped: int  # malformed lines skipped while reading
    # The simplified strokes of the stroke drawings (the first ones), packed flat for augmentation:
    points: np.ndarray  # (P, 2) uint8 x, y of every point
    stroke_ends: np.ndarray  # (S,) int64 end of each stroke in `points`
    drawing_ends: np.ndarray  # (D,) int64 end of each stroke drawing in `stroke_ends`

    def strokes_of(self, i: int) -> strokes.Strokes:
        """The simplified strokes of stroke drawing i (i < number of stroke drawings)."""
        return unpack(self.points, self.stroke_ends, self.drawing_ends, i)


def pack(drawings: Sequence[strokes.Strokes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simplified drawings -> flat (points (P, 2) uint8, stroke_ends (S,), drawing_ends (D,))."""
    flat = [s for d in drawings for s in d]
    points = np.concatenate(flat).astype(np.uint8) if flat else np.zeros((0, 2), np.uint8)
    stroke_ends = np.cumsum([len(s) for s in flat], dtype=np.int64)
    drawing_ends = np.cumsum([len(d) for d in drawings], dtype=np.int64)
    return points, stroke_ends, drawing_ends


def unpack(points: np.ndarray, stroke_ends: np.ndarray, drawing_ends: np.ndarray, i: int) -> strokes.Strokes:
    """Drawing i of a `pack`ed set, as a list of (n, 2) float64 strokes."""
    first = int(drawing_ends[i - 1]) if i > 0 else 0
    ends = stroke_ends[first : drawing_ends[i]]
    start = int(stroke_ends[first - 1]) if first > 0 else 0
    out = []
    for end in ends.tolist():
        out.append(points[start:end].astype(np.float64))
        start = end
    return out


def _fingerprint(files: dict[str, Path], size: int, config: splits.SplitConfig, max_per_category: int) -> str:
    stats = {k: [str(p), p.stat().st_size, p.stat().st_mtime_ns] for k, p in sorted(files.items())}
    return json.dumps(
        {"v": CACHE_VERSION, "size": size, "split": asdict(config), "max": max_per_category, "files": stats}
    )


def category_dir(
    category: str, size: int = 28, cache_root: Path | None = None, max_per_category: int = 0
) -> Path:
    """The folder of one category's shards and manifest."""
    cap = f"-max{max_per_category}" if max_per_category else ""
    return (cache_root or settings.cache_dir()) / f"quickdraw-v{CACHE_VERSION}-{size}px{cap}" / category


def cache_file(
    category: str, size: int = 28, cache_root: Path | None = None, max_per_category: int = 0
) -> Path:
    """The manifest of one category's cache (it exists once the category is cached)."""
    return category_dir(category, size, cache_root, max_per_category) / shards.MANIFEST


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on `folder` (ranks and nodes sharing a cache build each category once)."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("a") as fh:
        if fcntl is not None:
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def ensure_category(
    category: str,
    size: int = 28,
    config: splits.SplitConfig = splits.DEFAULT_SPLIT,
    root: Path | None = None,
    cache_root: Path | None = None,
    max_per_category: int = 0,
    verify: bool = True,
) -> tuple[Path, dict, str | None]:
    """(folder, manifest, why it was rebuilt or None) of one category, building its shards when missing,
    made from other source files or settings, truncated, or (with `verify`) failing their checksums."""
    root = root or settings.quickdraw_dir()
    files = formats.category_files(root, category)
    if not files:
        raise DataError(f"no data for category {category!r}", root)
    meta = _fingerprint(files, size, config, max_per_category)
    folder = category_dir(category, size, cache_root, max_per_category)
    with _locked(folder):
        manifest = shards.read_manifest(folder)
        if manifest is None:
            why = None  # a first build is no news
        elif manifest.get("fingerprint") != meta:
            why = "its source files or cache settings changed"
        else:
            why = next((p for e in manifest["shards"] if (p := shards.problem(folder, e, verify))), None)
            if why is None:
                return folder, manifest, None
        manifest = build_category(category, root, size, config, folder, max_per_category, meta)
    return folder, manifest, why


def load_category(
    category: str,
    size: int = 28,
    config: splits.SplitConfig = splits.DEFAULT_SPLIT,
    root: Path | None = None,
    cache_root: Path | None = None,
    max_per_category: int = 0,
) -> CategoryArrays:
    """One category's arrays, in reading order, read from its shards (built first if needed)."""
    folder, manifest, _ = ensure_category(category, size, config, root, cache_root, max_per_category)
    parts = [shards.Shard(folder, e, verify=False) for e in manifest["shards"]]
    item = np.concatenate([p.item for p in parts]) if parts else np.zeros(0, np.int64)
    order = np.argsort(item, kind="stable")

    def gather(name: str, empty: np.ndarray) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts])[order] if parts else empty

    drawings = [p.strokes_of(r) for p in parts for r in range(p.n)]
    stroke_drawings = [drawings[i] for i in order.tolist() if drawings[i] is not None]
    return CategoryArrays(
        images=gather("images", np.zeros((0, size, size), np.uint8)),
        split=gather("split", np.zeros(0, np.uint8)),
        source=gather("source", np.zeros(0, np.uint8)),
        qd_index=gather("qd_index", np.zeros(0, np.int64)),
        skipped=manifest["skipped"],
        **dict(zip(("points", "stroke_ends", "drawing_ends"), pack(stroke_drawings))),
    )


def _worker(job: tuple) -> tuple[str, int, str | None]:
    _, manifest, why = ensure_category(*job)
    return job[0], manifest["drawings"], why


def build_cache(
    names: Sequence[str] | None = None,
    size: int = 28,
    config: splits.SplitConfig = splits.DEFAULT_SPLIT,
    root: Path | None = None,
    cache_root: Path | None = None,
    workers: int | None = None,
    progress: bool = True,
    max_per_category: int = 0,
) -> dict[str, int]:
    """Shard every category that has data (in parallel), checking existing shards' checksums and
    rebuilding bad or stale ones (one line on stderr each); returns drawings per category."""
    from tqdm import tqdm

    root = root or settings.quickdraw_dir()
    names = [c for c in (names or all_categories()) if formats.category_files(root, c)]
    jobs = [(c, size, config, root, cache_root, max_per_category, True) for c in names]
    workers = workers or min(len(jobs), os.cpu_count() or 1) or 1
    counts = {}
    bar = tqdm(total=len(jobs), desc=f"caching {size}px", unit="category", disable=not progress)
    pool = ProcessPoolExecutor(workers) if workers > 1 else None
    try:
        for name, n, why in (pool.map if pool else map)(_worker, jobs):
            counts[name] = n
            if why:
                bar.write(f"rebuilt {name!r}: {why}", file=sys.stderr)
            bar.update()
            bar.set_postfix(drawings=sum(counts.values()))
    finally:
        bar.close()
        if pool:
            pool.shutdown(cancel_futures=True)
    return counts


@dataclass(frozen=True)
class SplitArrays:
    """The drawings of one split: images (N, S, S) uint8, labels (N,) int64 official category indices,
    and for drawings that came as strokes (`drawing[i] >= 0`) their packed simplified strokes."""

    images: np.ndarray
    labels: np.ndarray
    drawing: np.ndarray  # (N,) int64 index into the packed strokes, -1 for Google bitmaps
    points: np.ndarray  # (P, 2) uint8, see CategoryArrays
    stroke_ends: np.ndarray  # (S,) int64
    drawing_ends: np.ndarray  # (D,) int64

    def __len__(self) -> int:
        return len(self.images)

    def take(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(images (B, S, S) uint8, labels (B,) int64) of items `index` (B,), as `stream.ShardedSplit`."""
        return self.images[index], self.labels[index]

    def labels_of(self, index: np.ndarray) -> np.ndarray:
        """(B,) int64 labels of items `index` (B,), as `stream.ShardedSplit`."""
        return self.labels[index]

    def blocks(self, size: int) -> np.ndarray:
        """(K, 2) int64 [start, stop) ranges of at most `size` consecutive items, as `stream.ShardedSplit`."""
        starts = np.arange(0, len(self), size, dtype=np.int64)
        return np.stack([starts, np.minimum(starts + size, len(self))], axis=1)

    def strokes_of(self, i: int) -> strokes.Strokes | None:
        """The simplified strokes of item i, or None when it is a bitmap."""
        d = int(self.drawing[i])
        return None if d < 0 else unpack(self.points, self.stroke_ends, self.drawing_ends, d)

    def strokes_many(self, index: np.ndarray) -> list[strokes.Strokes | None]:
        """`strokes_of` each of items `index` (B,), as `stream.ShardedSplit`."""
        return [self.strokes_of(int(i)) for i in index]


def split_shards(
    split: str,
    names: Sequence[str] | None = None,
    size: int = 28,
    config: splits.SplitConfig = splits.DEFAULT_SPLIT,
    root: Path | None = None,
    cache_root: Path | None = None,
    max_per_category: int = 0,
    verify: bool = True,
) -> list[tuple[Path, dict, int]]:
    """(folder, manifest entry, official category index) of every shard of one split, categories in the
    order of `names` (default: all with data); builds or rebuilds categories as `ensure_category` does."""
    if split not in splits.SPLITS:
        raise DataError(f"unknown split {split!r} (choose from {', '.join(splits.SPLITS)})")
    root = root or settings.quickdraw_dir()
    asked = names
    names = [c for c in (names or all_categories()) if formats.category_files(root, c)]
    if not names:  # nothing to read: say where the data was looked for, rather than return an empty split
        which = "of these categories " if asked else ""
        raise DataError(
            f"no Quick, Draw! drawings {which}in {root}: set DOODLELAB_DATA or run `doodlelab data download`"
        )
    out = []
    for name in names:
        folder, manifest, _ = ensure_category(name, size, config, root, cache_root, max_per_category, verify)
        out += [(folder, e, category_index(name)) for e in manifest["shards"] if e["group"] == split]
    return out


def load_split_arrays(
    split: str,
    names: Sequence[str] | None = None,
    size: int = 28,
    sources: Sequence[str] = SOURCES,
    config: splits.SplitConfig = splits.DEFAULT_SPLIT,
    root: Path | None = None,
    cache_root: Path | None = None,
    max_per_category: int = 0,
) -> SplitArrays:
    """All cached drawings of one split in memory, each drawing once: a Google bitmap that is also present
    as strokes (same qd_index) is dropped in favour of the strokes. (Training streams instead: stream.py.)"""
    unknown = set(sources) - set(SOURCES)
    if unknown:
        raise DataError(f"unknown source {sorted(unknown)} (choose from {', '.join(SOURCES)})")
    wanted = np.array([s in sources for s in SOURCES])
    parts: dict[str, list] = {k: [] for k in ("images", "labels", "drawing", "drawings")}
    n_drawings = 0
    for folder, entry, label in split_shards(split, names, size, config, root, cache_root, max_per_category):
        shard = shards.Shard(folder, entry, verify=False)
        keep = np.flatnonzero(wanted[shard.source])
        drawings = [d for d in map(shard.strokes_of, keep.tolist()) if d is not None]
        parts["images"].append(np.asarray(shard.images[keep]))
        parts["labels"].append(np.full(len(keep), label, dtype=np.int64))
        index = np.full(len(keep), -1, dtype=np.int64)
        index[: len(drawings)] = np.arange(n_drawings, n_drawings + len(drawings))  # strokes come first
        parts["drawing"].append(index)
        parts["drawings"].extend(drawings)
        n_drawings += len(drawings)
    if not parts["images"]:
        parts["images"] = [np.zeros((0, size, size), np.uint8)]
    packed = pack(parts.pop("drawings"))
    cat = {k: np.concatenate(v) if v else np.zeros(0, np.int64) for k, v in parts.items()}
    return SplitArrays(cat["images"], cat["labels"], cat["drawing"], *packed)


def load_split(split: str, *args, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """All cached drawings of one split (each drawing once): images (N, size, size) uint8 and labels
    (N,) int64 indexing the 345 official categories. Same arguments as `load_split_arrays`."""
    a = load_split_arrays(split, *args, **kwargs)
    return a.images, a.labels
