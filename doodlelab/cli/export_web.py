"""`doodlelab export web OUT_DIR`: the page as a static site that recognizes doodles and digits in the browser
(doodlelab.js, ONNX Runtime Web, the 8-bit classifier), served by any static file server, no doodlelab server.
"""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
from pathlib import Path

from doodlelab.errors import DoodleError

STATIC = Path(__file__).resolve().parent.parent / "web" / "static"
SKIPPED = ("index.html", "vendor/swagger-ui")  # the page is OUT_DIR/index.html; /docs needs the server
WRITTEN = ("index.html", "static", "models")  # what an export holds, under OUT_DIR


def register(groups: dict) -> None:
    web = groups["export"].add_parser(
        "web",
        help="the page as a static site that recognizes in the browser (no server needed)",
        description="Write a folder that any static file server can serve (python -m http.server -d "
        "OUT_DIR): index.html, its scripts, ONNX Runtime Web, the 8-bit classifier and its card "
        "(classes, temperature), the digits network. Guesses are computed in the browser; "
        "generation needs the doodlelab server and is unavailable there.",
    )
    web.add_argument("out", type=Path, metavar="OUT_DIR", help="the folder to write (new or empty)")
    web.add_argument(
        "--weights",
        type=Path,
        default=None,
        help="classifier weights whose 8-bit ONNX export is used (default: the shipped one)",
    )
    web.add_argument(
        "--force",
        action="store_true",
        help="write into a folder that is not empty (its index.html, static/, models/ replaced)",
    )
    web.set_defaults(handler=cmd_export_web)


def cmd_export_web(args: argparse.Namespace) -> int:
    files = export_web(args.out, args.weights, force=args.force)
    total = sum(f.stat().st_size for f in files)
    print(f"wrote {len(files)} files, {total / 2**20:.1f} MiB, to {args.out}")
    print(f"serve it with: python -m http.server -d {args.out} 8000  (then open http://127.0.0.1:8000/)")
    return 0


def model_files(weights: Path | None) -> dict[str, Path]:
    """name under models/ -> file: the classifier's 8-bit export and its card (checked against the
    weights' hashes, as the server does), and the digits network."""
    from doodlelab.classifier.export import exports_of, onnx_card_path
    from doodlelab.classifier.recognizer import SHIPPED
    from doodlelab.scratch.digits import WEIGHTS as DIGITS
    from doodlelab.web.app import check_export

    weights = Path(weights) if weights is not None else SHIPPED
    int8 = exports_of(weights)["int8"]
    if not int8.is_file() or not onnx_card_path(int8).is_file():
        raise DoodleError(
            f"{int8}: no 8-bit ONNX export with its card beside {weights.name} "
            f"(doodlelab export onnx --int8 --weights {weights} --out {int8})"
        )
    check_export(weights)
    files = {"classifier.int8.onnx": int8, "classifier.int8.onnx.json": onnx_card_path(int8)}
    if DIGITS.is_file():
        files["mlp_digits.npz"] = DIGITS
    return files


def page(index: str) -> str:
    """The server's index.html for a static site: its /static/ URLs made relative (so the folder works under
    any path), and the generate panel hidden, its script and the stroke model's left out (both run on the
    server)."""
    index = index.replace('="/static/', '="static/')
    index = index.replace('<script src="static/generate.js"></script>', "")
    index = index.replace('<script src="static/sketch.js"></script>', "")  # its button stays hidden
    return re.sub(r'<section class="panel"( aria-labelledby="gen-title")', r"<section hidden\1", index)


def export_web(out: Path, weights: Path | None = None, force: bool = False) -> list[Path]:
    """Write the static site into `out` (built in a temporary folder beside it, then moved in); the files."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not force)):
        raise DoodleError(f"{out} is not an empty folder (use --force to replace its {', '.join(WRITTEN)})")
    models = model_files(weights)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out, prefix=".export-") as tmp:
        build = Path(tmp)
        (build / "index.html").write_text(
            page((STATIC / "index.html").read_text(encoding="utf-8")), encoding="utf-8"
        )
        shutil.copytree(STATIC, build / "static", ignore=_skipped)
        (build / "models").mkdir()
        for name, source in models.items():
            shutil.copyfile(source, build / "models" / name)
        for name in WRITTEN:
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            (build / name).rename(target)
    return sorted(p for name in WRITTEN for p in [out / name, *(out / name).rglob("*")] if p.is_file())


def _skipped(folder: str, names: list[str]) -> list[str]:
    """shutil.copytree's ignore: SKIPPED, caches and hidden files (editor leftovers)."""
    here = Path(folder).relative_to(STATIC).as_posix()
    return [
        n
        for n in names
        if (f"{here}/{n}".removeprefix("./") in SKIPPED or n == "__pycache__" or n.startswith("."))
    ]
