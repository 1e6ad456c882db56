"""Writing stroke drawings: ndjson records in the dataset's schema, SVG, and through the one pipeline a PNG
grid or an (N, 28, 28) .npy like Google's numpy_bitmap. Every file is written atomically."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from doodlelab import modelfile
from doodlelab.data import strokes as pipeline
from doodlelab.errors import DataError

SUFFIXES = (".ndjson", ".svg", ".png", ".npy", "")  # "" : a folder of SVGs


def record(word: str | None, drawing: list, key_id: str | None = None) -> dict:
    """One ndjson record: {"word", "key_id" (if any), "drawing"}; `drawing` in the JSON form. No "word"
    when the unconditional model drew it."""
    out: dict = {} if word is None else {"word": word}
    return out | ({"key_id": key_id} if key_id is not None else {}) | {"drawing": drawing}


def write_ndjson(path: Path, records: Sequence[dict]) -> None:
    text = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
    modelfile.write_atomically(Path(path), lambda f: f.write(text.encode()))


def svg(drawings: Sequence[Sequence[np.ndarray]], columns: int = 4, cell: int = 256) -> str:
    """Simplified drawings (0..255 box) as one SVG: a grid of `cell`-unit squares, one polyline per stroke,
    16 units wide with round caps and joins (the width of Google's renderer)."""
    rows = -(-len(drawings) // columns)
    pad = pipeline.LINE_WIDTH
    width, height = min(columns, len(drawings)) * cell, rows * cell
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{-pad:g} {-pad:g} {width + 2 * pad:g} '
        f'{height + 2 * pad:g}" width="{width + 2 * pad:g}" height="{height + 2 * pad:g}">',
        f'<g fill="none" stroke="black" stroke-width="{pipeline.LINE_WIDTH:g}" stroke-linecap="round" '
        'stroke-linejoin="round">',
    ]
    for i, drawing in enumerate(drawings):
        r, c = divmod(i, columns)
        parts.append(f'<g transform="translate({c * cell} {r * cell})">')
        for stroke in drawing:
            points = " ".join(f"{x:g},{y:g}" for x, y in np.asarray(stroke).tolist())
            parts.append(f'<polyline points="{points}"/>')
        parts.append("</g>")
    return "\n".join([*parts, "</g>", "</svg>"]) + "\n"


def check_out(out: Path) -> None:
    """DataError unless `out` ends in .ndjson, .svg, .png or .npy, or names a folder (of SVGs)."""
    suffix = out.suffix.lower()
    if suffix not in SUFFIXES or (suffix and out.is_dir()):
        raise DataError(f"--out must end in .ndjson, .svg, .png or .npy, or name a folder; got {out}")


def write_drawings(drawings: Sequence[Sequence[np.ndarray]], out: Path, word: str | None) -> None:
    """Simplified drawings -> `out` by its suffix: .ndjson (one record per line), .svg (one grid), .png
    (grid of the pipeline's 28 x 28 renderings), .npy ((N, 28, 28) uint8), else a folder of SVGs."""
    from doodlelab.generative import files

    check_out(out)
    suffix, name = out.suffix.lower(), (word or "doodle").replace(" ", "_")
    if suffix == ".ndjson":
        write_ndjson(out, [record(word, pipeline.to_json(d)) for d in drawings])
    elif suffix == ".svg":
        text = svg(drawings)
        modelfile.write_atomically(out, lambda f: f.write(text.encode()))
    elif suffix in (".png", ".npy"):
        images = np.stack([pipeline.render(d) for d in drawings])
        if suffix == ".png":
            files.save_png(files.grid(images, min(8, len(images))), out)
        else:
            buffer = io.BytesIO()
            np.save(buffer, images, allow_pickle=False)
            modelfile.write_atomically(out, lambda f: f.write(buffer.getvalue()))
    else:
        out.mkdir(parents=True, exist_ok=True)
        for i, d in enumerate(drawings):
            text = svg([d], columns=1)
            modelfile.write_atomically(out / f"{name}_{i:03d}.svg", lambda f, t=text: f.write(t.encode()))
