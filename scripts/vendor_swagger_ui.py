"""Vendor Swagger UI for the offline `/docs` page: fetch the pinned `swagger-ui-dist` tarball from the npm
registry, check its sha256, and copy only the files the page needs into
doodlelab/web/static/vendor/swagger-ui/.

    python scripts/vendor_swagger_ui.py            # the pinned version (what is committed)

To upgrade: set VERSION, run with --print-sha256 to see the new tarball's hash, check the release notes,
set SHA256, run again and commit the files.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import tarfile
import urllib.request
from pathlib import Path

VERSION = "5.35.0"
SHA256 = "1b8e891893404ea4c3558b6a87e2a3e494e7eedba41168c2ece5800a391a6ea6"
URL = "https://registry.npmjs.org/swagger-ui-dist/-/swagger-ui-dist-{version}.tgz"
FILES = (  # the script, its styles, an icon, and the licences (Apache-2.0, and those of the bundled code)
    "swagger-ui-bundle.js",
    "swagger-ui.css",
    "favicon-32x32.png",
    "LICENSE",
    "NOTICE",
    "swagger-ui-bundle.js.LICENSE.txt",
)
ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "doodlelab" / "web" / "static" / "vendor" / "swagger-ui"


def fetch(version: str) -> bytes:
    with urllib.request.urlopen(URL.format(version=version), timeout=60) as response:
        return response.read()


def unpack(tarball: bytes, out: Path) -> list[Path]:
    """Write FILES from the npm tarball (members under package/) into `out`; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for name in FILES:
            member = archive.extractfile(f"package/{name}")
            if member is None:
                raise SystemExit(f"package/{name} is not a file in the tarball")
            path = out / name
            path.write_bytes(member.read())
            written.append(path)
    (out / "VERSION").write_text(
        f"swagger-ui-dist {VERSION} from {URL.format(version=VERSION)}\nsha256 {SHA256}\n", encoding="utf-8"
    )
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print-sha256", action="store_true", help="print the tarball's sha256 and stop")
    args = parser.parse_args()
    tarball = fetch(VERSION)
    digest = hashlib.sha256(tarball).hexdigest()
    if args.print_sha256:
        print(digest)
        return 0
    if digest != SHA256:
        print(f"swagger-ui-dist {VERSION}: sha256 {digest}, expected {SHA256}; not vendored", file=sys.stderr)
        return 1
    for path in unpack(tarball, OUT):
        print(f"{path.stat().st_size:>9,}  {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
