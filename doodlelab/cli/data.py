"""`doodlelab data`: see where the data is and what it holds, render a category, download, build the cache."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from doodlelab import settings
from doodlelab.cli.common import HELP, Parser, progress_enabled
from doodlelab.errors import DataError, DoodleError

FORMATS = ("simplified", "raw", "numpy_bitmap", "binary")
BITMAP_SIDE = 28  # Google's numpy_bitmap files hold 28x28 images, and 28 is the default rendering size


def register(groups: dict) -> None:
    data = groups["_top"].add_parser("data", help=HELP["data"])
    sub = data.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser)

    info = sub.add_parser("info", help="where the data was found, and drawings per category and format")
    info.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    info.set_defaults(handler=cmd_info)

    render = sub.add_parser("render", help="a PNG grid of one category's drawings, to eyeball")
    render.add_argument("category", help="category name, e.g. 'cat' or 'house plant'")
    render.add_argument(
        "--source",
        choices=("strokes", "bitmaps"),
        default="strokes",
        help="render strokes through doodlelab's pipeline, or show Google's bitmaps",
    )
    render.add_argument("-n", type=int, default=64, help="number of drawings (default: 64)")
    render.add_argument(
        "--size",
        type=int,
        default=None,
        help="bitmap size in pixels, for --source strokes (default: 28, the only size of Google's bitmaps)",
    )
    render.add_argument("--out", type=Path, default=None, help="output PNG (default: <category>.png)")
    render.set_defaults(handler=cmd_render)

    dl = sub.add_parser("download", help="download official files from Google's public storage (resumable)")
    dl.add_argument("categories", nargs="*", help="category names (or --all)")
    dl.add_argument("--all", action="store_true", help="all 345 categories")
    dl.add_argument(
        "--formats",
        nargs="+",
        choices=FORMATS,
        default=["simplified"],
        help="which formats (default: simplified)",
    )
    dl.add_argument(
        "--dest",
        type=Path,
        default=None,
        help="folder to fill (default: $DOODLELAB_DATA/quickdraw or the user cache)",
    )
    dl.add_argument("--base-url", default=None, help="mirror of Google's storage (default: official)")
    dl.set_defaults(handler=cmd_download)

    check = sub.add_parser("check", help="validate drawing files (.ndjson, .ndjson.gz, .bin, .npy)")
    check.add_argument("files", nargs="+", type=Path, help="files to check")
    check.add_argument(
        "--skip-bad",
        action="store_true",
        help="skip malformed lines and report how many, instead of stopping at the first",
    )
    check.set_defaults(handler=cmd_check)

    cache = sub.add_parser("cache", help="render every category once into the array cache")
    cache.add_argument("categories", nargs="*", help="category names (default: all with data)")
    cache.add_argument("--size", type=int, default=28, help="bitmap size in pixels (default: 28)")
    cache.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    cache.add_argument(
        "--max-per-category",
        type=int,
        default=0,
        metavar="N",
        help="at most N drawings of each source per category (default: 0, all)",
    )
    cache.set_defaults(handler=cmd_cache)


def _quickdraw_root() -> Path:
    root = settings.quickdraw_dir()
    if not root.is_dir():
        hint = "set DOODLELAB_DATA or run `doodlelab data download`"
        raise DataError(f"no Quick, Draw! data here: {hint}", root)
    return root


def cmd_info(args: argparse.Namespace) -> int:
    from doodlelab.data import formats
    from doodlelab.data.categories import categories

    root = _quickdraw_root()
    counts = formats.counts(root)
    report = {
        "data_dir": str(settings.data_dir()),
        "source": "DOODLELAB_DATA" if os.environ.get("DOODLELAB_DATA") else "default",
        "cache_dir": str(settings.cache_dir()),
        "mnist": settings.mnist_path().is_file(),
        "formats": {fmt: {"categories": len(c), "drawings": sum(c.values())} for fmt, c in counts.items()},
        "categories": len({name for c in counts.values() for name in c}),
        "counts": counts,
    }
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(f"data:  {report['data_dir']} ({report['source']})")
    print(f"cache: {report['cache_dir']}")
    print(f"mnist: {'found' if report['mnist'] else 'missing'}")
    for fmt, summary in report["formats"].items():
        print(f"{fmt:>13}: {summary['drawings']:>9,} drawings in {summary['categories']} categories")
    print(f"{'categories':>13}: {report['categories']}\n")
    present = [fmt for fmt, c in counts.items() if c]
    print(f"{'category':<28}" + "".join(f"{fmt:>14}" for fmt in present))
    for name in categories():
        cells = [counts[fmt].get(name) for fmt in present]
        if any(cells):
            print(f"{name:<28}" + "".join(f"{c if c else '-':>14}" for c in cells))
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    import numpy as np

    from doodlelab.data import formats, strokes
    from doodlelab.data.categories import resolve

    size = args.size or BITMAP_SIDE
    if not 1 <= args.n <= 1024 or not 8 <= size <= 512:
        raise DoodleError("-n must be in 1..1024 and --size in 8..512")
    if args.source == "bitmaps" and size != BITMAP_SIDE:  # resampling would only blur or block them
        side = f"{BITMAP_SIDE}x{BITMAP_SIDE}"
        raise DoodleError(f"Google's bitmaps are {side}; --size {size} needs --source strokes")
    name = resolve(args.category)
    files = formats.category_files(_quickdraw_root(), name)
    if args.source == "bitmaps":
        if "numpy_bitmap" not in files:
            raise DataError(f"no bitmaps for {name!r}", settings.quickdraw_dir() / "numpy_bitmap")
        images = np.asarray(formats.read_bitmaps(files["numpy_bitmap"])[: args.n])
        images = images.reshape(-1, BITMAP_SIDE, BITMAP_SIDE)
    else:
        fmt = next((f for f in ("simplified", "binary", "raw") if f in files), None)
        if fmt is None:
            raise DataError(f"no strokes for {name!r}", settings.quickdraw_dir())
        drawings = formats.iter_drawings(files[fmt], on_error="skip", limit=args.n)
        images = np.stack([strokes.rasterize(d.strokes, size, raw=d.is_raw) for d in drawings])
    out = args.out or Path(f"{name}.png")
    grid_image(images).save(out)
    print(f"wrote {out} ({len(images)} drawings of {name!r}, {args.source})")
    return 0


def grid_image(images, columns: int | None = None, pad: int = 2):  # noqa: ANN001, ANN201
    """(N, H, W) uint8 ink-on-black -> a PIL image of black ink on white, in a near-square grid."""
    import math

    import numpy as np
    from PIL import Image

    n, h, w = images.shape
    cols = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    canvas = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad), 255, np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        canvas[y : y + h, x : x + w] = 255 - img
    return Image.fromarray(canvas)


def cmd_download(args: argparse.Namespace) -> int:
    from doodlelab.data.categories import categories, resolve
    from doodlelab.data.download import download

    if args.all == bool(args.categories):
        raise DoodleError("name categories to download, or pass --all")
    names = list(categories()) if args.all else [resolve(c) for c in args.categories]
    dest = args.dest or settings.download_dir()
    paths = download(names, list(args.formats), dest, base_url=args.base_url, progress=progress_enabled())
    print(f"{len(paths)} files in {dest}", file=sys.stderr)
    if not os.environ.get("DOODLELAB_DATA") and dest != settings.quickdraw_dir():
        print(f"use them with: export DOODLELAB_DATA={dest.parent}", file=sys.stderr)
    return 0


def check_file(path: Path, skip_bad: bool) -> tuple[int, set[str], list[str]]:
    """Validate one file: (drawings read, categories seen, error messages of skipped entries).

    Raises DataError naming the file and line at the first problem unless `skip_bad`.
    """
    from doodlelab.data import binary, formats
    from doodlelab.data.categories import resolve

    if path.suffix == ".npy":
        return len(formats.read_bitmaps(path)), set(), []
    if path.suffix == ".bin":
        report = formats.ReadReport()
        n = sum(1 for _ in binary.iter_binary(path, on_error="skip" if skip_bad else "raise", report=report))
        return n, set(), report.errors
    if not path.name.endswith((".ndjson", ".ndjson.gz")):
        raise DataError("unknown file type; expected .ndjson, .ndjson.gz, .bin or .npy", path)
    n, words, errors = 0, set(), []
    for number, entry in formats.numbered_entries(path):
        try:
            if isinstance(entry, DataError):
                raise entry
            words.add(resolve(entry.word))
            n += 1
        except DoodleError as exc:
            error = exc if isinstance(exc, DataError) else DataError(str(exc), path, number)
            if not skip_bad:
                raise error from None
            errors.append(str(error))
    return n, words, errors


def cmd_check(args: argparse.Namespace) -> int:
    total_errors = 0
    for path in args.files:
        n, words, errors = check_file(path, args.skip_bad)
        total_errors += len(errors)
        kinds = f" of {len(words)} categories" if words else ""
        print(f"{path}: {n} drawings{kinds}" + (f", {len(errors)} skipped" if errors else ""))
        for message in errors[:5]:
            print(f"  skipped {message}", file=sys.stderr)
    return 0


def cmd_cache(args: argparse.Namespace) -> int:
    from doodlelab.data.cache import build_cache
    from doodlelab.data.categories import resolve

    if not 8 <= args.size <= 512:
        raise DoodleError("--size must be in 8..512")
    names = [resolve(c) for c in args.categories] or None
    if args.max_per_category < 0:
        raise DoodleError("--max-per-category must be >= 0")
    counts = build_cache(
        names,
        size=args.size,
        root=_quickdraw_root(),
        workers=args.workers,
        progress=progress_enabled(),
        max_per_category=args.max_per_category,
    )
    print(
        f"cached {sum(counts.values()):,} drawings of {len(counts)} categories at {args.size}px "
        f"in {settings.cache_dir()}"
    )
    return 0
