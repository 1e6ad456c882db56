"""Images of doodles -> Google's 28x28 layout, whatever the line width, polarity or size."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image, ImageDraw

from doodlelab.data import strokes
from doodlelab.data.doodle_image import load_doodle, thin
from doodlelab.data.images import BlankImageError


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _sketch(drawing, width: int, ink: int = 30, paper: int = 250, side: int = 600) -> bytes:
    """The drawing as a scan would show it: lines `width` px wide on a `side`-px page."""
    image = Image.new("L", (side, side), paper)
    draw = ImageDraw.Draw(image)
    for s in drawing:
        points = [tuple(p) for p in (s * 2 + 40).tolist()]
        if len(points) > 1:
            draw.line(points, fill=ink, width=width, joint="curve")
    return _png(image)


@pytest.fixture(scope="module")
def cats(quickdraw_root):
    lines = (quickdraw_root / "simplified" / "cat.ndjson").read_text().splitlines()[:30]
    return [strokes.parse_strokes(json.loads(line)["drawing"]) for line in lines]


@pytest.mark.parametrize("width", [3, 8, 24])
def test_sketches_of_any_line_width_match_the_pipeline(cats, width):
    scores = [
        np.corrcoef(
            load_doodle(_sketch(d, width)).ravel().astype(float), strokes.render(d).ravel().astype(float)
        )[0, 1]
        for d in cats
    ]
    assert np.median(scores) > 0.85


def test_polarity_and_canvas_exports(cats):
    d = cats[0]
    dark_on_light = load_doodle(_sketch(d, 6))
    light_on_dark = load_doodle(_sketch(d, 6, ink=240, paper=10))
    assert np.abs(dark_on_light.astype(int) - light_on_dark.astype(int)).mean() < 3
    export = Image.fromarray(255 - strokes.render(d, size=280))  # the app's own canvas, exported
    again = load_doodle(_png(export))
    assert np.corrcoef(again.ravel().astype(float), strokes.render(d).ravel().astype(float))[0, 1] > 0.85


def test_thinning_leaves_one_pixel_wide_lines():
    bar = np.zeros((30, 60), bool)
    bar[10:20, 5:55] = True
    skeleton = thin(bar)
    assert skeleton.any() and skeleton.sum(axis=0).max() == 1  # one pixel per column


def test_blank_image_is_refused():
    with pytest.raises(BlankImageError):
        load_doodle(_png(Image.new("L", (50, 50), 255)))
