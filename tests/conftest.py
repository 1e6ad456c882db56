"""Shared fixtures: locate the real data and skip cleanly when it is absent."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from doodlelab import settings


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
