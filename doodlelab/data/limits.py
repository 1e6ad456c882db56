"""The one set of input limits: what a drawing or an image may be, wherever it comes from (ndjson and binary
files read by the CLI and the data pipeline, the web API, whose OpenAPI schema states them too).
"""

from __future__ import annotations

# A drawing: `[[xs], [ys]]` or `[[xs], [ys], [ts]]` per stroke (checked by `strokes.parse_strokes`).
# Far above any real doodle (Quick, Draw! drawings have a few dozen strokes and a few hundred points).
MAX_STROKES = 1_000  # strokes in one drawing
MAX_POINTS = 100_000  # points in one drawing, all strokes together (so also in one stroke)
MAX_COORDINATE = 1e6  # |x| and |y| at most this, in canvas units; and finite (no NaN or infinity)
MAX_TIMESTAMP = 1e13  # raw format: timestamps are finite, 0 <= t <= this, in milliseconds (epoch ms fit)
MIN_EXTENT = 1e-3  # a drawing spans 0 (a dot) or at least this many units: else it is no drawing at any scale
MAX_INK_LENGTH = 500_000  # total stroke length once scaled to the 255 box: bounds the resampling work

# Bytes, before any parsing.
MAX_LINE_BYTES = 10_000_000  # one line of an ndjson file (`doodlelab predict`)
MAX_JSON_BYTES = 2 * 1024 * 1024  # one JSON request body of the web API
MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # one multipart upload (an image) to the web API

# Images (uploads and files): refused before decoding when larger (a 20000x20000 PNG is 400 megapixels).
MAX_PIXELS = 40_000_000


def coordinate_range() -> str:
    """The coordinate limit as people read it: `±1,000,000`."""
    return f"±{MAX_COORDINATE:,.0f}"
