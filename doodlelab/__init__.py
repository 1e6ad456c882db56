"""doodlelab: recognize and generate Quick, Draw! doodles, from raw strokes to a web app.

`doodlelab.recognize`, `generate`, `sketch` and `complete` (in `doodlelab.api`) are loaded on first use, so
`import doodlelab` stays instant and imports neither torch nor the models.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["DoodleError", "Guess", "InputError", "complete", "generate", "recognize", "sketch"]

_LAZY = {
    "recognize": "doodlelab.api",
    "generate": "doodlelab.api",
    "sketch": "doodlelab.api",
    "complete": "doodlelab.api",
    "Guess": "doodlelab.api",
    "InputError": "doodlelab.api",
    "DoodleError": "doodlelab.errors",
}


def __getattr__(name: str):
    """Import `doodlelab.api` only when one of its names is first used (PEP 562)."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'doodlelab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
