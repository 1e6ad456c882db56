"""A cache of rendered Quick, Draw! arrays: each category is rendered once, so an epoch never re-renders.

One `.npz` per category and image size under `settings.cache_dir()`, rebuilt when its source files,
the renderer or the split configuration change.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from doodlelab import settings
from doodlelab.data import formats, splits, strokes
from doodlelab.data.categories import categories as all_categories
from doodlelab.data.categories import category_index
from doodlelab.errors import DataError

CACHE_VERSION = 2  # bump when the renderer or the layout of the cache files changes
SOURCES = ("strokes", "bitmaps")  # source codes 0 and 1 in CategoryArrays.source
STROKE_FORMATS = ("simplified", "binary", "raw")  # first one present is used


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


def _fingerprint(files: dict[str, Path], size: int, config: splits.SplitConfig) -> str:
    stats = {k: [str(p), p.stat().st_size, p.stat().st_mtime_ns] for k, p in sorted(files.items())}
    return json.dumps({"v": CACHE_VERSION, "size": size, "split": asdict(config), "files": stats})


def cache_file(category: str, size: int, cache_root: Path | None = None) -> Path:
    return (cache_root or settings.cache_dir()) / f"quickdraw-v{CACHE_VERSION}-{size}px" / f"{category}.npz"


def render_category(category: str, root: Path, size: int, config: splits.SplitConfig) -> CategoryArrays:
    """Read, render and split one category from every source found under `root` (no caching)."""
    files = formats.category_files(root, category)
    stroke_fmt = next((f for f in STROKE_FORMATS if f in files), None)
    images, qd, keys, simple = [], [], [], []
    report = formats.ReadReport()
    if stroke_fmt is not None:
        seen: set[str] = set()
        for d in formats.iter_drawings(files[stroke_fmt], on_error="skip", report=report):
            if d.key_id is not None:
                if d.key_id in seen:  # the same drawing listed twice
                    continue
                seen.add(d.key_id)
            simplified = strokes.simplify(d.strokes) if d.is_raw else d.strokes
            simple.append(simplified)
            images.append(strokes.render(simplified, size))
            qd.append(-1 if d.qd_index is None else d.qd_index)
            keys.append(d.key_id)
    n_strokes = len(images)
    stroke_images = np.stack(images) if images else np.zeros((0, size, size), np.uint8)
    qd_index = np.array(qd, dtype=np.int64)
    bitmaps = np.zeros((0, size, size), np.uint8)
    if "numpy_bitmap" in files and size == 28:  # Google's bitmaps exist only at 28x28
        rows = formats.read_bitmaps(files["numpy_bitmap"])
        unknown = np.flatnonzero(qd_index < 0)
        flat = stroke_images[unknown].reshape(len(unknown), 28 * 28)
        qd_index[unknown] = splits.link_to_bitmaps(flat, rows)
        bitmaps = np.asarray(rows, dtype=np.uint8).reshape(-1, 28, 28)
    ids = [splits.identity(category, int(q), k) for q, k in zip(qd_index, keys)]
    ids += [splits.identity(category, r) for r in range(len(bitmaps))]
    return CategoryArrays(
        images=np.concatenate([stroke_images, bitmaps]),
        split=splits.assign_splits(ids, config),
        source=np.repeat(np.array([0, 1], np.uint8), [n_strokes, len(bitmaps)]),
        qd_index=np.concatenate([qd_index, np.arange(len(bitmaps), dtype=np.int64)]),
        skipped=report.skipped,
        **dict(zip(("points", "stroke_ends", "drawing_ends"), pack(simple))),
    )


_FIELDS = [f.name for f in fields(CategoryArrays)]


def _save_atomic(path: Path, arrays: CategoryArrays, meta: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **{f: getattr(arrays, f) for f in _FIELDS}, meta=np.array(meta))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load(path: Path, meta: str) -> CategoryArrays | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["meta"]) != meta:
                return None
            return CategoryArrays(**{f: z[f] for f in _FIELDS} | {"skipped": int(z["skipped"])})
    except (OSError, ValueError, KeyError, EOFError):  # missing, stale or corrupt: rebuild
        return None


def load_category(
    category: str,
    size: int = 28,
    config: splits.SplitConfig = splits.DEFAULT_SPLIT,
    root: Path | None = None,
    cache_root: Path | None = None,
) -> CategoryArrays:
    """One category's arrays from the cache, rendering and caching them first if needed."""
    root = root or settings.quickdraw_dir()
    files = formats.category_files(root, category)
    if not files:
        raise DataError(f"no data for category {category!r}", root)
    meta = _fingerprint(files, size, config)
    path = cache_file(category, size, cache_root)
    arrays = _load(path, meta)
    if arrays is None:
        arrays = render_category(category, root, size, config)
        _save_atomic(path, arrays, meta)
    return arrays


def _worker(job: tuple) -> tuple[str, int, int]:
    arrays = load_category(*job)
    return job[0], len(arrays.images), arrays.skipped


def build_cache(
    names: Sequence[str] | None = None,
    size: int = 28,
    config: splits.SplitConfig = splits.DEFAULT_SPLIT,
    root: Path | None = None,
    cache_root: Path | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> dict[str, int]:
    """Render and cache every category that has data (in parallel); returns drawings per category."""
    from tqdm import tqdm

    root = root or settings.quickdraw_dir()
    names = [c for c in (names or all_categories()) if formats.category_files(root, c)]
    jobs = [(c, size, config, root, cache_root) for c in names]
    workers = workers or min(len(jobs), os.cpu_count() or 1) or 1
    counts, skipped = {}, 0
    bar = tqdm(total=len(jobs), desc=f"caching {size}px", unit="category", disable=not progress)
    pool = ProcessPoolExecutor(workers) if workers > 1 else None
    try:
        for name, n, s in (pool.map if pool else map)(_worker, jobs):
            counts[name] = n
            skipped += s
            bar.update()
            bar.set_postfix(drawings=sum(counts.values()), skipped=skipped)
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

    def strokes_of(self, i: int) -> strokes.Strokes | None:
        """The simplified strokes of item i, or None when it is a bitmap."""
        d = int(self.drawing[i])
        return None if d < 0 else unpack(self.points, self.stroke_ends, self.drawing_ends, d)


def load_split_arrays(
    split: str,
    names: Sequence[str] | None = None,
    size: int = 28,
    sources: Sequence[str] = SOURCES,
    config: splits.SplitConfig = splits.DEFAULT_SPLIT,
    root: Path | None = None,
    cache_root: Path | None = None,
) -> SplitArrays:
    """All cached drawings of one split, each drawing once: a Google bitmap that is also present as
    strokes (same qd_index) is dropped in favour of the strokes."""
    if split not in splits.SPLITS:
        raise DataError(f"unknown split {split!r} (choose from {', '.join(splits.SPLITS)})")
    unknown = set(sources) - set(SOURCES)
    if unknown:
        raise DataError(f"unknown source {sorted(unknown)} (choose from {', '.join(SOURCES)})")
    root = root or settings.quickdraw_dir()
    names = [c for c in (names or all_categories()) if formats.category_files(root, c)]
    wanted = np.array([s in sources for s in SOURCES])
    parts: dict[str, list] = {k: [] for k in ("images", "labels", "drawing", "drawings")}
    n_drawings = 0
    for name in names:
        a = load_category(name, size, config, root, cache_root)
        n = len(a.drawing_ends)  # stroke drawings come first
        duplicate = (a.source == 1) & np.isin(a.qd_index, a.qd_index[:n][a.qd_index[:n] >= 0])
        keep = np.flatnonzero((a.split == splits.SPLIT_CODE[split]) & wanted[a.source] & ~duplicate)
        strokes_kept = keep[keep < n]
        parts["images"].append(a.images[keep])
        parts["labels"].append(np.full(len(keep), category_index(name), dtype=np.int64))
        index = np.full(len(keep), -1, dtype=np.int64)
        index[: len(strokes_kept)] = np.arange(n_drawings, n_drawings + len(strokes_kept))
        parts["drawing"].append(index)
        parts["drawings"].extend(a.strokes_of(int(i)) for i in strokes_kept)
        n_drawings += len(strokes_kept)
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
