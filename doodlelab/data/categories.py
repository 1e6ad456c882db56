"""The 345 official Quick, Draw! category names (metadata shipped inside the package)."""

from __future__ import annotations

import difflib
from functools import lru_cache
from importlib import resources

from doodlelab.errors import UnknownCategoryError


@lru_cache(maxsize=1)
def categories() -> tuple[str, ...]:
    """All 345 names in the official order (spelled as in the official file names)."""
    text = resources.files("doodlelab.data").joinpath("categories.txt").read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


@lru_cache(maxsize=1)
def _index() -> dict[str, int]:
    return {name: i for i, name in enumerate(categories())}


def category_index(name: str) -> int:
    """Index of `name` among the 345 categories; raises UnknownCategoryError with suggestions."""
    try:
        return _index()[name]
    except KeyError:
        raise UnknownCategoryError(name, suggest(name)) from None


def resolve(name: str) -> str:
    """The official spelling of `name` (case-insensitive, `_` accepted for spaces)."""
    if name in _index():
        return name
    folded = {c.lower(): c for c in categories()}
    key = name.strip().replace("_", " ").lower()
    if key in folded:
        return folded[key]
    raise UnknownCategoryError(name, suggest(name))


def suggest(name: str, n: int = 3) -> list[str]:
    return difflib.get_close_matches(name, categories(), n=n, cutoff=0.6)
