"""The shard cache: written streaming, read memory-mapped, equal to the drawings it came from; truncated or
corrupt shards and changed sources are found and rebuilt, or reported in one line."""

from __future__ import annotations

import json
import mmap
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from doodlelab.data import cache, formats, shards, splits, stream, strokes
from doodlelab.errors import DataError
from tests.data.test_cache import tiny_root  # noqa: F401 (a fixture)


def _build(root, cache_root, **kw) -> tuple:
    return cache.ensure_category("cat", root=root, cache_root=cache_root, **kw)


def test_shards_hold_exactly_the_source_drawings_rendered_and_split(tiny_root, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr(shards, "SHARD_SIZE", 16)  # several shards per split
    a = cache.load_category("cat", root=tiny_root, cache_root=tmp_path)
    drawings = list(formats.iter_drawings(tiny_root / "simplified" / "cat.ndjson", on_error="skip"))
    bitmaps = np.load(tiny_root / "numpy_bitmap" / "cat.npy").reshape(-1, 28, 28)
    expected = np.concatenate([np.stack([strokes.render(d.strokes) for d in drawings]), bitmaps])
    assert np.array_equal(a.images, expected)  # reading order: strokes, then Google's rows
    for i, d in enumerate(drawings):
        assert all(np.array_equal(x, y) for x, y in zip(a.strokes_of(i), d.strokes))
    ids = [splits.identity("cat", int(q)) for q in a.qd_index]  # every drawing is linked to its row
    assert np.array_equal(a.split, splits.assign_splits(ids))
    _, manifest, _ = _build(tiny_root, tmp_path)
    assert max(e["n"] for e in manifest["shards"]) == 16 and len(manifest["shards"]) > 4
    # the split read streaming is the split read into memory, item for item
    whole = cache.load_split_arrays("train", ["cat"], root=tiny_root, cache_root=tmp_path)
    split = stream.open_split("train", ["cat"], root=tiny_root, cache_root=tmp_path)
    images, labels = split.take(np.arange(len(split)))
    assert len(split) == len(whole) and np.array_equal(images, whole.images)
    assert np.array_equal(labels, whole.labels)
    for i in range(len(split)):
        mine, theirs = split.strokes_of(i), whole.strokes_of(i)
        assert (mine is None) == (theirs is None)
        assert mine is None or all(np.array_equal(x, y) for x, y in zip(mine, theirs))


def test_a_split_is_read_through_memory_maps_in_any_order(tiny_root, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr(shards, "SHARD_SIZE", 8)
    split = stream.open_split("train", ["cat", "dog"], root=tiny_root, cache_root=tmp_path)
    base = split.shard(0).images
    while not isinstance(base, mmap.mmap):  # the array is a view of the file's mapped pages
        base = base.obj if isinstance(base, memoryview) else base.base
    assert len(split.parts) > 3
    order = np.random.default_rng(0).permutation(len(split))
    images, labels = split.take(order)
    in_order, in_labels = split.take(np.arange(len(split)))
    assert np.array_equal(images, in_order[order]) and np.array_equal(labels, in_labels[order])
    # a batch's strokes, read shard by shard, come back in the batch's order
    many = split.strokes_many(order)
    assert len(many) == len(order)
    for got, i in zip(many, order.tolist()):
        one = split.strokes_of(i)
        assert (got is None) == (one is None)
        assert got is None or (len(got) == len(one) and all(np.array_equal(x, y) for x, y in zip(got, one)))
    assert np.array_equal(split.labels_of(order), labels)  # labels without reading a shard
    blocks = split.blocks(5)
    assert blocks[0, 0] == 0 and blocks[-1, 1] == len(split) and (blocks[1:, 0] == blocks[:-1, 1]).all()
    starts = set(split.starts.tolist())
    assert all(not (a < s < b) for a, b in blocks.tolist() for s in starts)  # never across shards
    with pytest.raises(IndexError):
        split.take(np.array([len(split)]))


def _resident_file_kb() -> int | None:
    status = Path("/proc/self/status")
    found = (
        [line for line in status.read_text().splitlines() if line.startswith("RssFile:")]
        if status.exists()
        else []
    )
    return int(found[0].split()[1]) if found else None


def test_released_pages_leave_the_process_memory_and_read_back_the_same(tmp_path):
    # Training reads random rows of shards through memory maps; pages that stay mapped count in the
    # process's resident memory (what /usr/bin/time reports), so a run over 40 GB of shards would "grow"
    # with the data. Shards drop their pages after each batch; the data reads back unchanged.
    if _resident_file_kb() is None:
        pytest.skip("needs Linux's /proc/self/status")
    data = np.random.default_rng(0).integers(0, 256, 16 << 20, dtype=np.uint8)
    (tmp_path / "big.bin").write_bytes(data.tobytes())
    mapped = shards.Mapped(tmp_path / "big.bin")
    before = _resident_file_kb()
    assert int(mapped.array[::4096].sum(dtype=np.int64)) == int(
        data[::4096].sum(dtype=np.int64)
    )  # every page
    touched = _resident_file_kb()
    mapped.release()
    released = _resident_file_kb()
    assert touched - before > 12 * 1024 and released - before < 2 * 1024  # kB: 16 MB in, then out
    assert np.array_equal(mapped.array[-4096:], data[-4096:])


def _first_shard(manifest: dict, folder):
    return folder / manifest["shards"][0]["file"]


def test_truncated_or_corrupt_shard_is_detected_and_rebuilt(tiny_root, tmp_path):  # noqa: F811
    folder, manifest, why = _build(tiny_root, tmp_path)
    assert why is None  # a first build
    path = _first_shard(manifest, folder)
    good = path.read_bytes()
    path.write_bytes(good[:-100])
    with pytest.raises(DataError, match="truncated"):
        shards.Shard(folder, manifest["shards"][0], verify=False)
    folder, manifest, why = _build(tiny_root, tmp_path, verify=False)
    assert "truncated" in why
    path = _first_shard(manifest, folder)
    assert path.read_bytes() == good  # the same drawings again
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0xFF  # same size, one byte changed
    path.write_bytes(bytes(flipped))
    assert _build(tiny_root, tmp_path, verify=False)[2] is None  # sizes alone cannot see it
    with pytest.raises(DataError, match="CRC-32"):
        shards.Shard(folder, manifest["shards"][0], verify=True)
    folder, manifest, why = _build(tiny_root, tmp_path, verify=True)
    assert "CRC-32" in why and _first_shard(manifest, folder).read_bytes() == good
    assert sorted(p.name for p in folder.glob("*.bin")) == sorted(e["file"] for e in manifest["shards"])


def test_a_changed_source_file_is_detected_and_rebuilt(tiny_root, tmp_path):  # noqa: F811
    before = _build(tiny_root, tmp_path)[1]
    src = tiny_root / "simplified" / "cat.ndjson"
    lines = src.read_text().splitlines()
    src.write_text("\n".join(lines[:10]) + "\n")
    _, after, why = _build(tiny_root, tmp_path)
    assert "source files" in why and after["drawings"] == before["drawings"] - 30
    assert _build(tiny_root, tmp_path)[2] is None  # and then reused


def test_max_per_category_caps_each_source_in_its_own_cache(tiny_root, tmp_path):  # noqa: F811
    a = cache.load_category("cat", root=tiny_root, cache_root=tmp_path, max_per_category=10)
    assert (a.source == 0).sum() == 10 and (a.source == 1).sum() == 10
    assert cache.cache_file("cat", 28, tmp_path, 10) != cache.cache_file("cat", 28, tmp_path)
    assert len(cache.load_category("cat", root=tiny_root, cache_root=tmp_path).images) == 100


def test_data_cache_reports_a_corrupt_shard_in_one_line_and_rebuilds_it(tiny_root, tmp_path):  # noqa: F811
    env = os.environ | {"DOODLELAB_DATA": str(tiny_root.parent), "DOODLELAB_CACHE": str(tmp_path / "c")}
    command = [sys.executable, "-m", "doodlelab", "data", "cache", "cat", "--workers", "1"]
    first = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert first.returncode == 0 and "cached 100 drawings of 1 categories" in first.stdout
    folder = cache.category_dir("cat", 28, tmp_path / "c")
    manifest = json.loads((folder / shards.MANIFEST).read_text())
    path = _first_shard(manifest, folder)
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    again = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 0, again.stderr
    rebuilt = [line for line in again.stderr.splitlines() if line.startswith("rebuilt")]
    assert rebuilt == [f"rebuilt 'cat': shard {path.name} fails its CRC-32 check (corrupt)"]
