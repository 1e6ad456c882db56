"""Streaming readers for the official Quick, Draw! formats: simplified/raw ndjson, numpy_bitmap, binary.

Malformed input raises DataError naming the file and line (or record); `on_error="skip"` counts it instead.
"""

from __future__ import annotations

import gzip
import json
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from doodlelab.data.categories import resolve
from doodlelab.data.strokes import parse_strokes
from doodlelab.errors import DataError

# Format name (also its folder under the quickdraw root) -> accepted file suffixes, preferred first.
FORMATS: dict[str, tuple[str, ...]] = {
    "simplified": (".ndjson", ".ndjson.gz"),
    "raw": (".ndjson", ".ndjson.gz"),
    "numpy_bitmap": (".npy",),
    "binary": (".bin",),
}
BITMAP_PIXELS = 28 * 28
NPY_MAGIC = b"\x93NUMPY"
# Binary record header: key_id u64, countrycode 2 chars, recognized u8, timestamp u32, n_strokes u16.
_HEADER = struct.Struct("<Q2sBIH")
_UINT16 = struct.Struct("<H")


@dataclass(frozen=True, eq=False)  # eq=False: comparing lists of arrays with == is ambiguous
class Drawing:
    """One doodle. `strokes`: list of (n, 2) float64 (x, y) arrays; metadata fields are None when unknown."""

    word: str
    strokes: list[np.ndarray]
    key_id: str | None = None
    recognized: bool | None = None
    countrycode: str | None = None
    qd_index: int | None = None
    timestamps: list[np.ndarray] | None = None  # raw format: (n,) float64 ms per stroke, as `strokes`

    @property
    def is_raw(self) -> bool:
        """True for the raw format (canvas coordinates with per-point timestamps)."""
        return self.timestamps is not None


@dataclass
class ReadReport:
    """Tally of reads: drawings yielded, dropped by the `recognized` filter, and skipped as malformed."""

    read: int = 0
    filtered: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)  # first `max_errors` messages, naming file and line
    max_errors: int = 20

    def add_error(self, error: DataError) -> None:
        """Count a skipped entry and keep its message while fewer than `max_errors` are kept."""
        self.skipped += 1
        if len(self.errors) < self.max_errors:
            self.errors.append(str(error))


def parse_record(line: str | bytes) -> Drawing:
    """One ndjson line (simplified or raw, detected from the strokes) -> Drawing; DataError if malformed."""
    try:
        record = json.loads(line)
    except ValueError as exc:  # JSONDecodeError, or bytes that are not UTF-8
        raise DataError(f"invalid JSON ({exc})") from None
    if not isinstance(record, dict):
        raise DataError("line is not a JSON object")
    word = record.get("word")
    if not isinstance(word, str) or not word:
        raise DataError("missing or invalid 'word'")
    if "drawing" not in record:
        raise DataError("missing 'drawing'")
    key_id = _optional(record, "key_id", (str, int))
    return Drawing(
        word=word,
        strokes=parse_strokes(record["drawing"]),
        key_id=None if key_id is None else str(key_id),
        recognized=_optional(record, "recognized", (bool,)),
        countrycode=_optional(record, "countrycode", (str,)),
        qd_index=_optional(record, "qd_index", (int,)),
        timestamps=_timestamps(record["drawing"]),
    )


def _optional(record: dict, name: str, kinds: tuple[type, ...]) -> object:
    """`record[name]` if absent/null or of one of `kinds` (bool never counts as int); else DataError."""
    value = record.get(name)
    if value is None or (isinstance(value, kinds) and (bool in kinds or not isinstance(value, bool))):
        return value
    raise DataError(f"field {name!r} has the wrong type ({type(value).__name__})")


def _timestamps(drawing: list) -> list[np.ndarray] | None:
    """Per-stroke timestamp arrays of a drawing that `parse_strokes` validated, or None for the simplified
    format."""
    has_times = [len(stroke) == 3 for stroke in drawing]
    if not any(has_times):
        return None
    if not all(has_times):
        raise DataError("drawing mixes strokes with and without timestamps")
    # parse_strokes checked the values (numbers within the limits) and dropped empty strokes: stay aligned
    return [np.asarray(ts, dtype=np.float64) for xs, _ys, ts in drawing if xs]


def iter_ndjson(
    path: str | Path,
    *,
    recognized: bool | None = None,
    on_error: str = "raise",
    report: ReadReport | None = None,
    limit: int | None = None,
) -> Iterator[Drawing]:
    """Stream the drawings of a simplified or raw `.ndjson` (or `.ndjson.gz`) file, line by line.

    `recognized`: keep only drawings whose flag equals it (drawings without the flag are kept).
    `on_error`: "raise" a DataError naming the file and 1-based line, or "skip" and count it in `report`.
    `limit`: stop after this many drawings. Blank lines are ignored.
    """
    if on_error not in ("raise", "skip"):  # fail now, not at the first next()
        raise ValueError(f"on_error must be 'raise' or 'skip', not {on_error!r}")
    return _deliver((e for _, e in numbered_entries(Path(path))), recognized, on_error, report, limit)


def open_bytes(path: Path) -> BinaryIO:
    """The file opened for binary reading, decompressing `.gz` on the fly."""
    return gzip.open(path, "rb") if path.name.endswith(".gz") else path.open("rb")


def numbered_entries(path: Path) -> Iterator[tuple[int, Drawing | DataError]]:
    """(line number, Drawing or the DataError naming file and line that it raised) per non-blank line."""
    number = 0
    with open_bytes(path) as lines:
        try:
            for number, line in enumerate(lines, start=1):
                if line.isspace() or not line:
                    continue
                try:
                    yield number, parse_record(line)
                except DataError as exc:
                    yield number, DataError(exc.reason, path, number)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            yield number + 1, DataError(f"corrupt gzip data ({exc})", path, number + 1)


def _deliver(
    entries: Iterable[Drawing | DataError],
    recognized: bool | None,
    on_error: str,
    report: ReadReport | None,
    limit: int | None,
) -> Iterator[Drawing]:
    """Apply the error policy, the `recognized` filter and `limit` to parsed entries."""
    report = report if report is not None else ReadReport()
    yielded = 0
    if limit is not None and limit <= 0:
        return
    for entry in entries:
        if isinstance(entry, DataError):
            if on_error == "raise":
                raise entry
            report.add_error(entry)
        elif recognized is not None and entry.recognized is not None and entry.recognized != recognized:
            report.filtered += 1
        else:
            report.read += 1
            yielded += 1
            yield entry
            if limit is not None and yielded >= limit:
                return


def read_bitmaps(path: str | Path, mmap: bool = True) -> np.ndarray:
    """A numpy_bitmap `.npy` file -> (N, 784) uint8 array (memory-mapped read-only when `mmap`).

    A file that is not a .npy, is truncated or corrupt, or has another dtype or shape -> DataError.
    """
    path = Path(path)
    with path.open("rb") as f:
        if f.read(len(NPY_MAGIC)) != NPY_MAGIC:
            raise DataError("not a .npy file (bad magic bytes)", path)
    try:
        array = np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except (ValueError, EOFError, OSError) as exc:  # truncated data or header, object dtype
        raise DataError(f"corrupt or truncated .npy file ({exc})", path) from None
    if array.dtype != np.uint8 or array.ndim != 2 or array.shape[1] != BITMAP_PIXELS:
        raise DataError(f"expected a (N, {BITMAP_PIXELS}) uint8 array, got {array.shape} {array.dtype}", path)
    return array


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
    return _deliver(_binary_entries(path, word), recognized, on_error, report, limit)


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


def iter_drawings(path: str | Path, **kw) -> Iterator[Drawing]:
    """Stream drawings from `.ndjson`, `.ndjson.gz` or `.bin`, chosen by suffix (options of `iter_ndjson`)."""
    path = Path(path)
    if path.name.endswith((".ndjson", ".ndjson.gz")):
        return iter_ndjson(path, **kw)
    if path.name.endswith(".bin"):
        return iter_binary(path, **kw)
    hint = " (.npy holds bitmaps: use read_bitmaps)" if path.suffix == ".npy" else ""
    raise DataError(f"unknown drawing file type; expected .ndjson, .ndjson.gz or .bin{hint}", path)


def category_path(root: str | Path, fmt: str, category: str) -> Path:
    """Where `category` lives in format `fmt` under a quickdraw root: `root/simplified/house plant.ndjson`."""
    return Path(root) / fmt / f"{category}{FORMATS[fmt][0]}"


def category_files(root: str | Path, category: str) -> dict[str, Path]:
    """Format name -> existing file for `category` (any accepted spelling) under a quickdraw data root."""
    name = resolve(category)
    found = {}
    for fmt, suffixes in FORMATS.items():
        for suffix in suffixes:
            path = Path(root) / fmt / f"{name}{suffix}"
            if path.is_file():
                found[fmt] = path
                break
    return found


def counts(root: str | Path) -> dict[str, dict[str, int]]:
    """Format -> {category: number of drawings} for every file under a quickdraw root (all four formats)."""
    result: dict[str, dict[str, int]] = {}
    for fmt, suffixes in FORMATS.items():
        per_category: dict[str, int] = {}
        folder = Path(root) / fmt
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            suffix = next((s for s in suffixes if path.name.endswith(s)), None)
            name = path.name[: -len(suffix)] if suffix else None
            if name and name not in per_category and path.is_file():  # `.ndjson` wins over `.ndjson.gz`
                per_category[name] = count_file(path)
        result[fmt] = per_category
    return result


def count_file(path: str | Path) -> int:
    """Drawings in one file, cheaply: non-blank lines (no JSON parsing), the .npy shape, or .bin records."""
    path = Path(path)
    if path.name.endswith(".npy"):
        return len(read_bitmaps(path))
    if path.name.endswith(".bin"):
        return sum(1 for _ in _binary_records(path))
    with open_bytes(path) as lines:
        try:
            return sum(1 for line in lines if line and not line.isspace())
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise DataError(f"corrupt gzip data ({exc})", path) from None
