"""The rendered-array cache: built once, reused, split by identity across sources."""

from __future__ import annotations

import json

import numpy as np
import pytest

from doodlelab.data import cache, splits, strokes
from doodlelab.errors import DataError


def _random_drawing(rng: np.random.Generator) -> list[np.ndarray]:
    return strokes.simplify([np.cumsum(rng.normal(0, 30, size=(8, 2)), axis=0) for _ in range(2)])


@pytest.fixture()
def tiny_root(tmp_path):
    """A data root with 'cat' strokes (some lacking qd_index) whose bitmaps are also present."""
    rng = np.random.default_rng(0)
    root = tmp_path / "quickdraw"
    (root / "simplified").mkdir(parents=True)
    (root / "numpy_bitmap").mkdir()
    drawings = [_random_drawing(rng) for _ in range(60)]
    lines = []
    for i, d in enumerate(drawings[:40]):  # strokes 0..39; 30..39 do not know their qd_index
        record = {"word": "cat", "key_id": str(1000 + i), "drawing": strokes.to_json(d)}
        if i < 30:
            record["qd_index"] = i
        lines.append(json.dumps(record))
    lines.append("{not json")  # one malformed line, skipped and counted
    (root / "simplified" / "cat.ndjson").write_text("\n".join(lines) + "\n")
    bitmaps = np.stack([strokes.render(d) for d in drawings]).reshape(60, 784)  # rows = qd_index
    np.save(root / "numpy_bitmap" / "cat.npy", bitmaps)
    dog = {"word": "dog", "key_id": "1", "drawing": strokes.to_json(drawings[0])}
    (root / "simplified" / "dog.ndjson").write_text(json.dumps(dog) + "\n")
    return root


def test_category_arrays_split_each_drawing_once_across_sources(tiny_root, tmp_path):
    a = cache.load_category("cat", root=tiny_root, cache_root=tmp_path / "c")
    assert a.images.shape == (100, 28, 28) and a.skipped == 1
    assert a.source.tolist() == [0] * 40 + [1] * 60
    # strokes without qd_index were linked to their bitmap rows by content
    assert a.qd_index[30:40].tolist() == list(range(30, 40))
    by_row = {}
    for q, s in zip(a.qd_index, a.split):
        by_row.setdefault(int(q), set()).add(int(s))
    assert len(by_row) == 60 and all(len(s) == 1 for s in by_row.values())
    assert splits.split_counts(a.split[a.source == 1]) == {"train": 48, "val": 6, "test": 6}


def test_cache_is_reused_and_rebuilt_when_the_source_changes(tiny_root, tmp_path):
    cache_root = tmp_path / "c"
    cache.load_category("cat", root=tiny_root, cache_root=cache_root)
    path = cache.cache_file("cat", 28, cache_root)
    stamp = path.stat().st_mtime_ns
    cache.load_category("cat", root=tiny_root, cache_root=cache_root)
    assert path.stat().st_mtime_ns == stamp  # reused, not re-rendered
    src = tiny_root / "simplified" / "cat.ndjson"
    src.write_text(src.read_text().splitlines()[0] + "\n")
    again = cache.load_category("cat", root=tiny_root, cache_root=cache_root)
    assert (again.source == 0).sum() == 1


def test_corrupt_cache_file_is_rebuilt(tiny_root, tmp_path):
    cache_root = tmp_path / "c"
    path = cache.cache_file("cat", 28, cache_root)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage")
    assert len(cache.load_category("cat", root=tiny_root, cache_root=cache_root).images) == 100


def test_build_cache_and_load_split(tiny_root, tmp_path):
    cache_root = tmp_path / "c"
    counts = cache.build_cache(root=tiny_root, cache_root=cache_root, workers=2, progress=False)
    assert counts == {"cat": 100, "dog": 1}
    x_parts, y_parts = [], []
    for split in splits.SPLITS:
        x, y = cache.load_split(split, root=tiny_root, cache_root=cache_root)
        assert x.dtype == np.uint8 and x.shape[1:] == (28, 28) and len(x) == len(y)
        x_parts.append(x)
        y_parts.append(y)
    # 40 cat strokes are the same drawings as bitmap rows 0..39: each drawing is counted once
    assert sum(map(len, x_parts)) == 60 + 1
    only_strokes, _ = cache.load_split(
        "train", ["cat"], sources=["strokes"], root=tiny_root, cache_root=cache_root
    )
    assert 0 < len(only_strokes) < 40
    at64 = cache.load_category("cat", size=64, root=tiny_root, cache_root=cache_root)
    assert at64.images.shape == (40, 64, 64)  # Google's bitmaps exist only at 28 px
    with pytest.raises(DataError, match="unknown split"):
        cache.load_split("holdout", root=tiny_root, cache_root=cache_root)
    # no data where it was looked for: an error naming the place, not an empty split
    missing = tmp_path / "none"
    with pytest.raises(DataError, match=f"no Quick, Draw! drawings in {missing}: set DOODLELAB_DATA"):
        cache.load_split("train", root=missing, cache_root=cache_root)
    with pytest.raises(DataError, match="drawings of these categories in"):
        cache.load_split("test", ["zebra"], root=tiny_root, cache_root=cache_root)


def test_real_categories_keep_each_drawing_in_one_split(quickdraw_root, tmp_path):
    """On the real data: a stroke drawing and its Google bitmap never land in different splits."""
    for name in ("camel", "pizza"):
        a = cache.load_category(name, root=quickdraw_root, cache_root=tmp_path)
        assert (a.source == 0).sum() > 300 and (a.source == 1).sum() > 250
        known = a.qd_index >= 0
        for q in np.unique(a.qd_index[known]):
            assert len(set(a.split[a.qd_index == q].tolist())) == 1
        shares = np.bincount(a.split, minlength=3) / len(a.split)
        assert np.allclose(shares, [0.8, 0.1, 0.1], atol=0.02)


def test_split_arrays_keep_the_strokes_that_rendered_each_image(tiny_root, tmp_path):
    a = cache.load_split_arrays("train", root=tiny_root, cache_root=tmp_path / "c")
    from_strokes = np.flatnonzero(a.drawing >= 0)
    assert len(from_strokes) > 20 and (a.drawing < 0).sum() > 0  # both sources present
    for i in from_strokes:
        assert np.array_equal(strokes.render(a.strokes_of(int(i))), a.images[i])
    assert a.strokes_of(int(np.flatnonzero(a.drawing < 0)[0])) is None
    mixed = np.random.default_rng(0).permutation(len(a))[:40]  # a batch of both sources, in its order
    for got, i in zip(a.strokes_many(mixed), mixed.tolist()):
        one = a.strokes_of(i)
        assert (got is None) == (one is None) and (
            got is None or np.array_equal(np.concatenate(got), np.concatenate(one))
        )


def test_pack_round_trips_drawings():
    rng = np.random.default_rng(1)
    drawings = [_random_drawing(rng) for _ in range(5)] + [[np.array([[3.0, 4.0]])]]
    packed = cache.pack(drawings)
    for i, d in enumerate(drawings):
        back = cache.unpack(*packed, i)
        assert len(back) == len(d) and all(np.array_equal(x, y) for x, y in zip(back, d))
