"""One Quick, Draw! drawing as the readers deliver it (`Drawing`), the ndjson record parser, and the read
policy every reader shares: the `recognized` filter, skip-or-raise on malformed entries, a limit."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from doodlelab.data.strokes import parse_strokes
from doodlelab.errors import DataError


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


def deliver(
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
