"""The public Python API: `doodlelab.recognize(...)` names doodles, `doodlelab.generate(...)` paints them,
`doodlelab.sketch(...)` draws them in strokes and `doodlelab.complete(...)` finishes a person's drawing.

All four load the shipped models on first use and keep them for the process; a wrong call raises a
`DoodleError` whose message is one sentence.
"""

from __future__ import annotations

import os
from functools import lru_cache
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np

from doodlelab.errors import DataError, DoodleError

GENERATORS = ("diffusion", "gan", "sketch")
SIZE = 28  # the shipped models' bitmaps are 28x28 (0 background, 255 ink)


class InputError(DoodleError, TypeError):
    """An argument of the wrong kind (a dict where a drawing was expected, one stroke for a drawing)."""


class Guess(NamedTuple):
    """One guess of the classifier: a category and its calibrated probability."""

    category: str
    probability: float


def recognize(drawing_or_image: object, top: int = 5) -> list[Guess] | list[list[Guess]]:
    """Name a doodle with the shipped 345-category classifier.

    Args:
        drawing_or_image: one doodle, or a list of them. A doodle is any of:

            - a drawing: a list of strokes, each `[xs, ys]` (or `[xs, ys, ts]` as a browser canvas
              records it), in any coordinates: raw canvas or the dataset's simplified 0..255 form;
            - an image: a file path, a `PIL.Image.Image`, or a NumPy array (H, W) grey or (H, W, 3|4)
              colour, dark ink on light paper or the reverse;
            - a bitmap in the dataset's layout: a (28, 28) uint8 array, 0 background and 255 ink (what
              `generate` returns); an (N, 28, 28) uint8 array is N of them.
        top: how many guesses per doodle, best first (1 to 345).

    Returns:
        For one doodle, a list of `top` `Guess(category, probability)`; for a list (or an (N, 28, 28)
        array) of doodles, one such list per doodle, in order.

    Raises:
        InputError: an argument of the wrong type, or a single stroke where a drawing was expected.
        DataError: a malformed drawing (no points, NaN, out of limits), an unreadable or blank image.

    Example:
        >>> import doodlelab
        >>> square = [[[0, 100, 100, 0, 0], [0, 0, 100, 100, 0]]]
        >>> doodlelab.recognize(square, top=1)[0].category
        'square'
    """
    k = _check_top(top)
    if (
        isinstance(drawing_or_image, np.ndarray)
        and drawing_or_image.ndim == 3
        and drawing_or_image.shape[1:] == (SIZE, SIZE)
        and drawing_or_image.dtype == np.uint8
    ):
        if not len(drawing_or_image):
            raise InputError("nothing to recognize: got an empty (0, 28, 28) array")
        return _name(list(drawing_or_image), k)
    if _is_drawing(drawing_or_image) or not isinstance(drawing_or_image, (list, tuple)):
        return _name([drawing_or_image], k)[0]
    if not drawing_or_image:
        raise InputError("nothing to recognize: got an empty list instead of a drawing or a list of them")
    _check_not_a_part(drawing_or_image, "")
    return _name(list(drawing_or_image), k)


def generate(
    category: str, model: str = "diffusion", n: int = 4, seed: int = 0, steps: int | None = None
) -> np.ndarray:
    """Draw new doodles of a category with a shipped generator.

    Args:
        category: one of the 345 Quick, Draw! categories (case-insensitive; `_` for spaces is accepted).
        model: `"diffusion"` (more recognizable; 16 doodles take 1 to 4 s on a 2-core CPU), `"gan"`
            (one forward pass: 16 doodles in a few milliseconds) or `"sketch"` (the stroke model's
            drawings of `sketch`, rendered by the pipeline; 16 take under a second).
        n: how many doodles (1 to 1024; sketch: 1 to 64).
        seed: the same seed gives the same doodles.
        steps: diffusion only, DDIM steps (default 50; 10 is faster and nearly as good).

    Returns:
        (n, 28, 28) uint8 array: 0 background, 255 ink, like Google's numpy_bitmap files.

    Raises:
        InputError: an argument of the wrong type.
        UnknownCategoryError: a category that is not one of the 345 (with suggestions).
        DataError: n, seed or steps out of range.

    Example:
        >>> import doodlelab
        >>> doodlelab.generate("cat", model="gan", n=2).shape
        (2, 28, 28)
    """
    if not isinstance(category, str):
        raise InputError(f"category must be a category name (a string), not {type(category).__name__}")
    if model not in GENERATORS:
        raise DataError(f"model must be one of {', '.join(GENERATORS)}, not {model!r}")
    for name, value in (("n", n), ("seed", seed), ("steps", steps)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, Integral)):
            raise InputError(f"{name} must be an integer, not {type(value).__name__}")
    if model == "sketch":
        if steps is not None:
            raise DataError("steps is a setting of the diffusion model, not of sketch")
        from doodlelab.data.strokes import parse_strokes, rasterize

        drawings = sketch(category, n=n, seed=seed)
        return np.stack([rasterize(parse_strokes(d), SIZE, raw=False) for d in drawings])
    return _generator(model)(category, n=int(n), seed=int(seed), steps=None if steps is None else int(steps))


def sketch(
    category: str | None,
    n: int = 4,
    seed: int = 0,
    temperature: float | None = None,
    guidance: float | None = None,
) -> list[list[list[list[int]]]]:
    """Draw new doodles in strokes with the shipped stroke model (NumPy only; no PyTorch needed).

    Args:
        category: one of the 345 categories (as in `generate`), or None for no category.
        n: how many drawings (1 to 64).
        seed: the same seed gives the same drawings.
        temperature: sampling temperature, > 0 and <= 10 (None: the model's 0.7; lower is tidier).
        guidance: classifier-free guidance, 0 to 10 (None: the model's 2; 0 draws more varied, less
            recognizable doodles).

    Returns:
        n drawings in the dataset's simplified format: each a list of strokes `[xs, ys]` of integers in
        0..255, the `drawing` field of Google's ndjson files and what `recognize` reads.

    Example:
        >>> import doodlelab
        >>> cats = doodlelab.sketch("cat", n=2)
        >>> len(cats), all(0 <= v <= 255 for d in cats for s in d for xy in s for v in xy)
        (2, True)
    """
    from doodlelab.data.strokes import to_json

    word, count = _sketch_args(category, n, seed)
    drawings = _sketcher().generate(word, count, int(seed), *_sampling(temperature, guidance))
    return [to_json(d) for d in drawings]


def complete(
    drawing: object,
    category: str | None = None,
    n: int = 1,
    seed: int = 0,
    temperature: float | None = None,
    guidance: float | None = None,
) -> list[list[list[list[float]]]]:
    """Finish a person's drawing with the shipped stroke model, as the page's "Finish my drawing" does.

    Args:
        drawing: a list of strokes `[xs, ys]` (or `[xs, ys, ts]`), raw canvas or simplified coordinates.
        category: what the drawing should become (None: the model guesses from the strokes alone).
        n: how many different completions (1 to 64).
        seed: the same seed gives the same completions.
        temperature: as in `sketch`.
        guidance: as in `sketch`.

    Returns:
        n drawings: each the input's strokes unchanged, then the new strokes in the same coordinates.
    """
    word, count = _sketch_args(category, n, seed)
    from doodlelab.data import strokes

    if not _is_drawing(drawing):
        _check_not_a_part(drawing, "")
        raise InputError(f"expected a drawing (a list of [xs, ys] strokes), not {type(drawing).__name__}")
    parsed = strokes.parse_strokes(drawing)
    raw = True if strokes.has_timestamps(drawing) else None
    new = _sketcher().complete(parsed, raw, word, count, int(seed), *_sampling(temperature, guidance))
    given = [[list(part) for part in stroke] for stroke in drawing]  # exactly as passed in
    return [given + strokes.to_json(d) for d in new]


@lru_cache(maxsize=1)
def _sketcher():
    from doodlelab.generative.sketch_sample import load

    return load("sketch")


def _sketch_args(category: object, n: object, seed: object) -> tuple[str | None, int]:
    """(category resolved or None, n) for `sketch` and `complete`; InputError/DataError when wrong."""
    from doodlelab.data.categories import resolve
    from doodlelab.generative.sketch_config import MAX_DRAWINGS

    if category is not None and not isinstance(category, str):
        raise InputError(
            f"category must be a category name (a string) or None, not {type(category).__name__}"
        )
    for name, value in (("n", n), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise InputError(f"{name} must be an integer, not {type(value).__name__}")
    if not 1 <= n <= MAX_DRAWINGS:
        raise DataError(f"n must be from 1 to {MAX_DRAWINGS}, got {n}")
    if not 0 <= seed < 2**63:
        raise DataError(f"seed must be from 0 to 2**63 - 1, got {seed}")
    return (None if category is None else resolve(category)), int(n)


def _sampling(temperature: object, guidance: object) -> tuple[float | None, None, float | None]:
    """(temperature, top_p, guidance) for `Sketcher`: numbers or None; the sketcher checks the ranges."""
    for name, value in (("temperature", temperature), ("guidance", guidance)):
        if value is not None and not _is_number(value):
            raise InputError(f"{name} must be a number or None, not {type(value).__name__}")
    return temperature, None, guidance


@lru_cache(maxsize=1)
def _recognizer():
    from doodlelab.classifier.recognizer import Recognizer

    return Recognizer()


@lru_cache(maxsize=len(GENERATORS))
def _generator(model: str):
    from doodlelab.generative.generator import load

    return load(model)


def _check_top(top: object) -> int:
    if isinstance(top, bool) or not isinstance(top, Integral):
        raise InputError(f"top must be an integer, not {type(top).__name__}")
    if not 1 <= top <= 345:
        raise DataError(f"top must be from 1 to 345, got {top}")
    return int(top)


def _name(doodles: list, k: int) -> list[list[Guess]]:
    """Doodles (see `recognize`) -> the top-k guesses of each."""
    recognizer = _recognizer()
    bitmaps = np.stack([_bitmap(d, i if len(doodles) > 1 else None) for i, d in enumerate(doodles)])
    return [[Guess(c, p) for c, p in recognizer.top(probs, k)] for probs in recognizer.probabilities(bitmaps)]


def _bitmap(doodle: object, index: int | None) -> np.ndarray:
    """One doodle -> (28, 28) uint8 bitmap through the same pipeline as training and the web app."""
    from doodlelab.data import doodle_image, strokes

    where = "" if index is None else f"item {index}: "
    if _is_drawing(doodle):
        try:
            return strokes.rasterize(strokes.parse_strokes(doodle), SIZE)
        except DataError as exc:
            raise DataError(f"{where}{exc}") from None
    if isinstance(doodle, np.ndarray):
        if doodle.shape == (SIZE, SIZE) and doodle.dtype == np.uint8:
            return doodle
        return _image_bitmap(_array_image(doodle, where))
    if isinstance(doodle, (str, os.PathLike)):
        return doodle_image.load_doodle(doodle, SIZE)
    from PIL import Image

    if isinstance(doodle, Image.Image):
        return _image_bitmap(doodle)
    _check_not_a_part(doodle, where)
    raise InputError(
        f"{where}expected a drawing (a list of [xs, ys] strokes), an image path, a PIL image or "
        f"a NumPy array, not {type(doodle).__name__}"
    )


def _check_not_a_part(value: object, where: str) -> None:
    """InputError for a list that is part of a drawing: one stroke `[xs, ys]`, or bare numbers."""
    if isinstance(value, (list, tuple)) and value and _is_number_list(value[0]):
        raise InputError(
            f"{where}got one stroke [xs, ys] where a drawing was expected; a drawing is a list "
            "of strokes, so write [[xs, ys]]"
        )
    if isinstance(value, (list, tuple)) and value and _is_number(value[0]):
        raise InputError(
            f"{where}got a list of numbers where a drawing was expected; a drawing is a list "
            "of strokes: [[xs, ys], ...]"
        )


def _image_bitmap(image) -> np.ndarray:
    from doodlelab.data import doodle_image, images

    return doodle_image.doodle_from_ink(images.ink_from_gray(images.to_gray(image)), SIZE)


def _array_image(array: np.ndarray, where: str):
    from PIL import Image

    if array.ndim == 3 and array.shape[2] in (3, 4):
        array = array.astype(np.uint8) if array.dtype != np.uint8 else array
    elif array.ndim != 2:
        raise InputError(f"{where}an image array must be (H, W) or (H, W, 3|4), got shape {array.shape}")
    if array.size == 0 or not np.isfinite(array).all():
        raise DataError(f"{where}an image array must be non-empty and finite")
    if array.ndim == 2 and array.dtype != np.uint8:
        array = array.astype(np.float32)
    return Image.fromarray(array)


def _is_number(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _is_number_list(value: object) -> bool:
    return isinstance(value, (list, tuple)) and (not value or _is_number(value[0]))


def _is_drawing(value: object) -> bool:
    """A list of strokes: its first item is `[xs, ys]` or `[xs, ys, ts]`, lists of numbers."""
    if not isinstance(value, (list, tuple)) or not value:
        return False
    first = value[0]
    return isinstance(first, (list, tuple)) and len(first) in (2, 3) and all(map(_is_number_list, first))
