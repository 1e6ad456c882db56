"""`doodlelab predict [--model NAME] INPUT...`: name each drawing or image, one line (or JSON object) each.

INPUT is an image file, an `.ndjson` file of drawings (raw or simplified, detected per line; `.gz` too),
or `-` for ndjson on stdin. Errors for one item (an ndjson input without drawings is one) go to stderr,
one line each naming the input once, and the rest go on.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from doodlelab.cli.common import HELP, require_weights
from doodlelab.data.limits import MAX_LINE_BYTES
from doodlelab.errors import DataError, DoodleError

CHUNK = 512  # drawings rasterized and classified together


def register(groups: dict) -> None:
    from doodlelab.classifier.recognizer import BACKENDS

    parser = groups["_top"].add_parser(
        "predict",
        help=HELP["predict"],
        description="Classify each drawing (ndjson line) or image, in input order. Errors for one item are "
        "reported on stderr and the rest go on; an .ndjson input without drawings counts as one that failed. "
        "Exit code 2 when nothing could be read, 1 when some items could not.",
    )
    parser.add_argument(
        "--model",
        default="classifier",
        choices=sorted(MODELS),
        help="classifier (345 doodle categories, default) or digits (the NumPy network; images only)",
    )
    parser.add_argument("--weights", type=Path, default=None, help="weights file (default: shipped weights)")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="classifier engine (auto: the 8-bit ONNX export beside the weights, else the "
        "float one, else PyTorch, which only the [train] extra installs)",
    )
    parser.add_argument("--top", type=_positive, default=3, metavar="K", help="guesses per item (default: 3)")
    parser.add_argument("--json", action="store_true", help="one JSON object per item")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="images, .ndjson files, - for stdin")
    parser.set_defaults(handler=cmd_predict)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _is_ndjson(name: str) -> bool:
    return name == "-" or name.endswith((".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz"))


def _lines(name: str) -> Iterator[tuple[int, bytes]]:
    from doodlelab.data.formats import open_bytes

    stream = sys.stdin.buffer if name == "-" else open_bytes(Path(name))
    try:
        for number, line in enumerate(iter(lambda: stream.readline(MAX_LINE_BYTES + 1), b""), start=1):
            rest = line
            while len(rest) > MAX_LINE_BYTES and not rest.endswith(b"\n"):  # parse_line refuses the line:
                rest = stream.readline(MAX_LINE_BYTES + 1)  # its rest is skipped, not read as more lines
            if line.strip():
                yield number, line
    finally:
        if name != "-":
            stream.close()


class NoDrawingsError(DataError):
    """An ndjson input that holds no drawing: empty, or blank lines only. Its message names the input."""

    def __init__(self, name: str):
        super().__init__("no drawings on standard input" if name == "-" else f"no drawings in {name}")
        self.path = name


def parse_line(line: bytes) -> tuple[list, str | None, bool | None]:
    """An ndjson line -> (strokes, key_id, raw?) where the line is an object with "drawing" (the dataset's
    record) or a bare list of strokes. Raises DataError."""
    from doodlelab.data.strokes import has_timestamps, parse_strokes

    if len(line) > MAX_LINE_BYTES:
        raise DataError(f"line longer than {MAX_LINE_BYTES:,} bytes")
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise DataError(f"invalid JSON ({exc})") from None
    key_id = None
    if isinstance(record, dict):
        if "drawing" not in record:
            raise DataError("missing 'drawing'")
        key_id = record.get("key_id")
        key_id = str(key_id) if isinstance(key_id, (str, int)) and not isinstance(key_id, bool) else None
        record = record["drawing"]
    return parse_strokes(record), key_id, True if has_timestamps(record) else None


def drawing_items(name: str, recognizer) -> Iterator[tuple[dict, str | None, object]]:
    """(where, key_id, bitmap or the DoodleError/OSError that prevented it) for each line of ndjson input
    `name`; a NoDrawingsError when it holds no line."""
    found = False
    try:
        for number, line in _lines(name):
            found, where = True, {"input": name, "line": number}
            try:
                drawing, key_id, raw = parse_line(line)
                yield where, key_id, recognizer.rasterize(drawing, raw=raw)
            except DoodleError as exc:
                yield where, None, exc
    except (OSError, EOFError, DoodleError) as exc:  # unreadable file or corrupt gzip
        yield {"input": name}, None, exc if not isinstance(exc, EOFError) else DataError(str(exc))
        return
    if not found:
        yield {"input": name}, None, NoDrawingsError(name)


def classifier_items(names: list[str], recognizer) -> Iterator[tuple[dict, str | None, object]]:
    """(where, key_id, bitmap or the DoodleError/OSError that prevented it) for every drawing and image."""
    from doodlelab.data.doodle_image import load_doodle

    for name in names:
        if _is_ndjson(name):
            yield from drawing_items(name, recognizer)
        else:
            try:
                yield {"input": name}, None, load_doodle(name, recognizer.size)
            except (DoodleError, OSError) as exc:
                yield {"input": name}, None, exc


def _describe(where: dict, exc: Exception) -> str:
    """`input[:line]: reason`, naming the input once (a DataError with a path names it already)."""
    place = where["input"] + (f":{where['line']}" if "line" in where else "")
    if isinstance(exc, OSError):
        return f"{exc.filename or place}: {exc.strerror or exc}"
    if isinstance(exc, DataError) and exc.path is not None:
        return str(exc)
    return f"{place}: {exc}"


def _emit(where: dict, key_id: str | None, top: list[tuple[str, float]], as_json: bool) -> None:
    if as_json:
        guesses = [{"category": c, "probability": round(p, 6)} for c, p in top]
        print(json.dumps({**where, **({"key_id": key_id} if key_id else {}), "top": guesses}))
    else:
        place = where["input"] + (f":{where['line']}" if "line" in where else "")
        print(f"{place}: " + ", ".join(f"{c} ({p:.1%})" for c, p in top))


def run_classifier(args: argparse.Namespace) -> tuple[int, int]:
    import numpy as np

    from doodlelab.classifier.recognizer import Recognizer

    require_weights(args.weights)
    recognizer = Recognizer(args.weights, backend=args.backend)
    done = failed = 0
    pending: list[tuple[dict, str | None, np.ndarray]] = []

    def flush() -> None:
        if pending:
            probs = recognizer.probabilities(np.stack([p[2] for p in pending]))
            for (where, key_id, _), row in zip(pending, probs):
                _emit(where, key_id, recognizer.top(row, args.top), args.json)
            sys.stdout.flush()
            pending.clear()

    for where, key_id, result in classifier_items(args.inputs, recognizer):
        if isinstance(result, Exception):
            flush()  # keep the output in input order around the error
            failed += 1
            print(f"doodlelab: error: {_describe(where, result)}", file=sys.stderr, flush=True)
            continue
        done += 1
        pending.append((where, key_id, result))
        if len(pending) >= CHUNK:
            flush()
    flush()
    return done, failed


def run_digits(args: argparse.Namespace) -> tuple[int, int]:
    from doodlelab.data.images import load_digit
    from doodlelab.scratch.digits import DigitClassifier, shipped

    require_weights(args.weights)
    classifier = shipped() if args.weights is None else DigitClassifier.load(args.weights)
    done = failed = 0
    for name in args.inputs:
        try:
            if name != "-" and _is_ndjson(name):
                raise DataError("digits reads images only (name drawings with --model classifier)", name)
            source = io.BytesIO(sys.stdin.buffer.read()) if name == "-" else name
            top = classifier.top(load_digit(source), args.top)
        except (DoodleError, OSError) as exc:
            failed += 1
            print(f"doodlelab: error: {_describe({'input': name}, exc)}", file=sys.stderr, flush=True)
            continue
        done += 1
        _emit({"input": name}, None, top, args.json)
    return done, failed


MODELS = {"classifier": run_classifier, "digits": run_digits}


def cmd_predict(args: argparse.Namespace) -> int:
    done, failed = MODELS[args.model](args)
    if done == 0:
        return 2
    return 1 if failed else 0
