"""The official binary `.bin` Quick, Draw! format: a streaming reader and a writer (simplified strokes only).

Records as in the dataset's documentation; a truncated or invalid record raises DataError naming its number.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from doodlelab.data.records import Drawing, ReadReport, deliver
from doodlelab.data.strokes import parse_strokes
from doodlelab.errors import DataError

# Record header: key_id u64, countrycode 2 chars, recognized u8, timestamp u32, n_strokes u16.
_HEADER = struct.Struct("<Q2sBIH")
_UINT16 = struct.Struct("<H")


def iter_binary(
    path: str | Path,
    *,
    word: str | None = None,
    recognized: bool | None = None,
    on_error: str = "raise",
    report: ReadReport | None = None,
    limit: int | None = None,
) -> Iterator[Drawing]:
    """Stream the drawings of an official binary `.bin` file (options as in `iter_ndjson`).

    The format stores no word: it defaults to the file name (`house plant.bin` -> "house plant").
    A record cut short by the end of the file ends the read with DataError naming the record number.
    """
    if on_error not in ("raise", "skip"):  # fail now, not at the first next()
        raise ValueError(f"on_error must be 'raise' or 'skip', not {on_error!r}")
    path = Path(path)
    word = word or path.name.removesuffix(".bin")
    return deliver(_binary_entries(path, word), recognized, on_error, report, limit)


def _read_exact(f: BinaryIO, size: int, path: Path, number: int) -> bytes:
    """Exactly `size` bytes, or DataError for a record cut short."""
    data = f.read(size)
    if len(data) != size:
        raise DataError(f"record {number}: truncated (file ends at byte {f.tell()})", path)
    return data


def _binary_records(path: Path) -> Iterator[tuple[int, tuple, list[list[list[int]]]]]:
    """Yield (record number, header fields, `[[xs], [ys]]` per stroke) without validating the values."""
    with path.open("rb") as f:
        number = 0
        while head := f.read(_HEADER.size):
            number += 1
            if len(head) != _HEADER.size:
                raise DataError(f"record {number}: truncated (file ends at byte {f.tell()})", path)
            header = _HEADER.unpack(head)
            strokes = []
            for _ in range(header[-1]):
                (n_points,) = _UINT16.unpack(_read_exact(f, _UINT16.size, path, number))
                xy = _read_exact(f, 2 * n_points, path, number)
                strokes.append([list(xy[:n_points]), list(xy[n_points:])])
            yield number, header, strokes


def count_records(path: Path) -> int:
    """Records in a `.bin` file, reading headers and lengths without validating the values."""
    return sum(1 for _ in _binary_records(path))


def _binary_entries(path: Path, word: str) -> Iterator[Drawing | DataError]:
    """Each record as a Drawing or a DataError; a truncated record is the last entry."""
    try:
        for number, (key_id, country, flag, _timestamp, _n), strokes in _binary_records(path):
            try:
                entry: Drawing | DataError = _binary_drawing(word, key_id, country, flag, strokes)
            except DataError as exc:
                entry = DataError(f"record {number}: {exc.reason}", path)
            yield entry
    except DataError as exc:  # cannot resynchronise after a truncated record
        yield exc


def _binary_drawing(word: str, key_id: int, country: bytes, flag: int, strokes: list) -> Drawing:
    """Validated Drawing from the fields of one binary record."""
    if flag not in (0, 1):
        raise DataError(f"recognized flag must be 0 or 1, not {flag}")
    try:
        code = country.rstrip(b"\0").decode("ascii")
    except UnicodeDecodeError:
        raise DataError(f"countrycode {country!r} is not ASCII") from None
    key = str(key_id) if key_id else None  # write_binary stores a missing key_id as 0
    return Drawing(word, parse_strokes(strokes), key, bool(flag), code or None)


def write_binary(path: str | Path, drawings: Iterable[Drawing]) -> int:
    """Write drawings in the official binary format; returns how many. Only simplified strokes fit.

    `key_id` must be a decimal number or None (written as 0); a missing `recognized` and the timestamp are 0.
    """
    count = 0
    with Path(path).open("wb") as f:
        for drawing in drawings:
            f.write(_pack(drawing))
            count += 1
    return count


def _pack(drawing: Drawing) -> bytes:
    """One Drawing -> the bytes of its binary record; DataError if it does not fit the format."""
    parts = []
    for stroke in drawing.strokes:
        if len(stroke) > 0xFFFF:
            raise DataError("binary format allows at most 65535 points per stroke")
        if not np.all((stroke == np.round(stroke)) & (stroke >= 0) & (stroke <= 255)):
            raise DataError("binary format needs integer coordinates in 0..255 (simplified strokes)")
        parts += [_UINT16.pack(len(stroke)), stroke.T.astype(np.uint8).tobytes()]  # all xs, then all ys
    try:
        country = (drawing.countrycode or "").encode("ascii").ljust(2, b"\0")
        key_id = int(drawing.key_id or 0)
        header = _HEADER.pack(key_id, country, int(bool(drawing.recognized)), 0, len(drawing.strokes))
    except (ValueError, struct.error) as exc:  # non-numeric key_id, non-ASCII country, overflow
        raise DataError(f"drawing does not fit the binary format ({exc})") from None
    return header + b"".join(parts)
