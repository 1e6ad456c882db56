"""Where doodlelab finds its data and cache: `DOODLELAB_DATA`, `DOODLELAB_CACHE`, or sensible defaults."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ATTRIBUTION = "Quick, Draw! dataset, Google Inc., CC BY 4.0"


def user_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/doodlelab`, or `~/.cache/doodlelab`."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "doodlelab"


def data_dir() -> Path:
    """The data root: `$DOODLELAB_DATA`, else `../shared/data` beside the repository, else the user cache.

    The root holds `quickdraw/` (simplified/, raw/, numpy_bitmap/, binary/) and `mnist/mnist.npz`.
    """
    env = os.environ.get("DOODLELAB_DATA")
    if env:
        return Path(env).expanduser()
    shared = REPO_ROOT.parent / "shared" / "data"
    if shared.is_dir():
        return shared
    return user_cache_dir() / "data"


def cache_dir() -> Path:
    """Where rendered arrays are cached: `$DOODLELAB_CACHE`, else the user cache directory."""
    env = os.environ.get("DOODLELAB_CACHE")
    return Path(env).expanduser() if env else user_cache_dir() / "cache"


def quickdraw_dir() -> Path:
    return data_dir() / "quickdraw"


def mnist_path() -> Path:
    return data_dir() / "mnist" / "mnist.npz"


def download_dir() -> Path:
    """Where `doodlelab data download` puts files: `$DOODLELAB_DATA/quickdraw`, else the user cache."""
    env = os.environ.get("DOODLELAB_DATA")
    base = Path(env).expanduser() if env else user_cache_dir() / "data"
    return base / "quickdraw"
