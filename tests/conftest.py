"""Shared fixtures: locate the real data and skip cleanly when it is absent."""

from __future__ import annotations

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
