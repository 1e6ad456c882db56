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
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from doodlelab import settings
from doodlelab.data import formats, splits, strokes
from doodlelab.data.categories import categories as all_categories
from doodlelab.data.categories import category_index
from doodlelab.errors import DataError

CACHE_VERSION = 1  # bump when the renderer or the layout of the cache files changes
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


def _fingerprint(files: dict[str, Path], size: int, config: splits.SplitConfig) -> str:
    stats = {k: [str(p), p.stat().st_size, p.stat().st_mtime_ns] for k, p in sorted(files.items())}
    return json.dumps({"v": CACHE_VERSION, "size": size, "split": asdict(config), "files": stats})


def cache_file(category: str, size: int, cache_root: Path | None = None) -> Path:
    return (cache_root or settings.cache_dir()) / f"quickdraw-v{CACHE_VERSION}-{size}px" / f"{category}.npz"


def render_category(category: str, root: Path, size: int, config: splits.SplitConfig) -> CategoryArrays:
    """Read, render and split one category from every source found under `root` (no caching)."""
    files = formats.category_files(root, category)
    stroke_fmt = next((f for f in STROKE_FORMATS if f in files), None)
    images, qd, keys = [], [], []
    report = formats.ReadReport()
    if stroke_fmt is not None:
        seen: set[str] = set()
        for d in formats.iter_drawings(files[stroke_fmt], on_error="skip", report=report):
            if d.key_id is not None:
                if d.key_id in seen:  # the same drawing listed twice
                    continue
                seen.add(d.key_id)
            images.append(strokes.rasterize(d.strokes, size, raw=d.is_raw))
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
    )


def _save_atomic(path: Path, arrays: CategoryArrays, meta: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, images=arrays.images, split=arrays.split, source=arrays.source,
                     qd_index=arrays.qd_index, skipped=np.int64(arrays.skipped), meta=np.array(meta))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load(path: Path, meta: str) -> CategoryArrays | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["meta"]) != meta:
                return None
            return CategoryArrays(z["images"], z["split"], z["source"], z["qd_index"], int(z["skipped"]))
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


def load_split(
    split: str,
    names: Sequence[str] | None = None,
    size: int = 28,
    sources: Sequence[str] = SOURCES,
    config: splits.SplitConfig = splits.DEFAULT_SPLIT,
    root: Path | None = None,
    cache_root: Path | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """All cached drawings of one split: images (N, size, size) uint8 and labels (N,) int64.

    Labels index the 345 official categories (`categories.category_index`), whatever subset is loaded.
    """
    if split not in splits.SPLITS:
        raise DataError(f"unknown split {split!r} (choose from {', '.join(splits.SPLITS)})")
    unknown = set(sources) - set(SOURCES)
    if unknown:
        raise DataError(f"unknown source {sorted(unknown)} (choose from {', '.join(SOURCES)})")
    root = root or settings.quickdraw_dir()
    names = [c for c in (names or all_categories()) if formats.category_files(root, c)]
    wanted = np.array([s in sources for s in SOURCES])
    xs, ys = [], []
    for name in names:
        a = load_category(name, size, config, root, cache_root)
        keep = (a.split == splits.SPLIT_CODE[split]) & wanted[a.source]
        xs.append(a.images[keep])
        ys.append(np.full(int(keep.sum()), category_index(name), dtype=np.int64))
    if not xs:
        return np.zeros((0, size, size), np.uint8), np.zeros(0, np.int64)
    return np.concatenate(xs), np.concatenate(ys)
