"""Shared fixtures: a cache of rendered arrays kept out of the user's own, the real data (skipped cleanly
when absent), decompression-bomb PNGs, the scripts/ modules."""

from __future__ import annotations

import importlib.util
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from doodlelab import settings


@pytest.fixture(scope="session", autouse=True)
def suite_cache(tmp_path_factory) -> Iterator[Path]:
    """The cache of rendered arrays for this session: $DOODLELAB_TEST_CACHE if set (kept between runs, so
    later runs skip the rendering), else a fresh temporary directory. Never the user's own cache: a
    DOODLELAB_CACHE from the environment is replaced for the session (subprocesses inherit the change)."""
    chosen = os.environ.get("DOODLELAB_TEST_CACHE")
    cache = Path(chosen).expanduser() if chosen else tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DOODLELAB_CACHE", str(cache))
        yield cache


@pytest.fixture(scope="session")
def quickdraw_root() -> Path:
    root = settings.quickdraw_dir()
    if not (root / "simplified").is_dir():
        pytest.skip(f"Quick, Draw! data not found at {root} (set DOODLELAB_DATA)")
    return root


@pytest.fixture(scope="session")
def paired_root(quickdraw_root: Path) -> Path:
    paired = quickdraw_root / "paired"
    if not (paired / "strokes.ndjson").is_file():
        pytest.skip(f"golden pairs not found at {paired}")
    return paired


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height but holds almost no data: cheap to write, huge to decode."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


@pytest.fixture(scope="session")
def png_header_only():
    """Factory of decompression-bomb PNGs: png_header_only(20000, 20000) -> bytes."""
    return _png_header_only


@pytest.fixture(scope="session")
def load_script():
    """`load_script(name)`: the module scripts/NAME.py (the scripts are not a package)."""

    def load(name: str):
        path = Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
