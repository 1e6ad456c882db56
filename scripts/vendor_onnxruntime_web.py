"""Vendor ONNX Runtime Web for recognition in the browser: fetch the pinned `onnxruntime-web` tarball from the
npm registry, check its sha256, and copy only the WebAssembly build into
doodlelab/web/static/vendor/onnxruntime-web/ (nothing is loaded from a CDN at run time).

    python scripts/vendor_onnxruntime_web.py            # the pinned version (what is committed)
    python scripts/vendor_onnxruntime_web.py --check    # the vendored files against VERSION (no network)

Two files are enough: `ort.wasm.bundle.min.mjs` (the API and the WebAssembly loader in one ES module) and
`ort-wasm-simd-threaded.wasm`. The same binary runs single-threaded where the page is not cross-origin
isolated (no SharedArrayBuffer), so it needs no special headers; doodlelab.js asks for one thread.
To upgrade: set VERSION, run with --print-sha256 to see the new tarball's hash, check the release notes,
set SHA256, run again, run tests/web/test_js_module.py and commit the files.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import tarfile
import urllib.request
from pathlib import Path

VERSION = "1.31.1"
SHA256 = "bdccdb9fbb9ab537247c0c734e9b1d2b1b338b4f2a09faa58f0dc1cfa27c312c"
URL = "https://registry.npmjs.org/onnxruntime-web/-/onnxruntime-web-{version}.tgz"
FILES = ("dist/ort.wasm.bundle.min.mjs", "dist/ort-wasm-simd-threaded.wasm")  # under package/ in the tarball
ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "doodlelab" / "web" / "static" / "vendor" / "onnxruntime-web"
# The tarball has no LICENSE file; package.json says "MIT" and the bundle's header names the holder.
LICENSE = """MIT License

Copyright (c) Microsoft Corporation.

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


class ChecksumError(Exception):
    """Bytes whose sha256 is not the pinned one: a changed download or a modified vendored file."""


def verify(data: bytes, expected: str, what: str) -> None:
    """Raise ChecksumError unless sha256(data) is `expected` (hex)."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        raise ChecksumError(f"{what}: sha256 {digest}, expected {expected}")


def fetch(version: str) -> bytes:
    with urllib.request.urlopen(URL.format(version=version), timeout=120) as response:
        return response.read()


def unpack(tarball: bytes, out: Path) -> list[Path]:
    """Write FILES from the npm tarball into `out` (flat), LICENSE and VERSION (each file's sha256)."""
    out.mkdir(parents=True, exist_ok=True)
    written, lines = [], [f"onnxruntime-web {VERSION} from {URL.format(version=VERSION)}", f"sha256 {SHA256}"]
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for name in FILES:
            member = archive.extractfile(f"package/{name}")
            if member is None:
                raise SystemExit(f"package/{name} is not a file in the tarball")
            data = member.read()
            path = out / Path(name).name
            path.write_bytes(data)
            written.append(path)
            lines.append(f"file {path.name} {hashlib.sha256(data).hexdigest()}")
    (out / "LICENSE").write_text(LICENSE, encoding="utf-8")
    (out / "VERSION").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return written + [out / "LICENSE", out / "VERSION"]


def check(out: Path = OUT) -> list[Path]:
    """Verify each vendored file against the sha256 that VERSION recorded; the files checked.
    Raises ChecksumError for a changed file, FileNotFoundError for a missing one."""
    version = (out / "VERSION").read_text(encoding="utf-8").splitlines()
    if not version or version[0].split()[:2] != ["onnxruntime-web", VERSION]:
        raise ChecksumError(f"{out / 'VERSION'}: not onnxruntime-web {VERSION}; run this script again")
    checked = []
    for line in version:
        if line.startswith("file "):
            _, name, digest = line.split()
            verify((out / name).read_bytes(), digest, str(out / name))
            checked.append(out / name)
    if sorted(p.name for p in checked) != sorted(Path(name).name for name in FILES):
        raise ChecksumError(f"{out / 'VERSION'}: lists {[p.name for p in checked]}, not the files vendored")
    return checked


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print-sha256", action="store_true", help="print the tarball's sha256 and stop")
    parser.add_argument("--check", action="store_true", help="verify the vendored files (no network)")
    args = parser.parse_args()
    try:
        if args.check:
            for path in check(OUT):
                print(f"ok {path.stat().st_size:>11,}  {path.relative_to(ROOT)}")
            return 0
        tarball = fetch(VERSION)
        if args.print_sha256:
            print(hashlib.sha256(tarball).hexdigest())
            return 0
        verify(tarball, SHA256, f"onnxruntime-web {VERSION} tarball")
    except (ChecksumError, OSError) as exc:
        print(f"not vendored: {exc}" if not args.check else f"check failed: {exc}", file=sys.stderr)
        return 1
    for path in unpack(tarball, OUT):
        print(f"{path.stat().st_size:>11,}  {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
