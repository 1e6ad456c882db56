"""Resumable downloads of the official Quick, Draw! files from Google's public storage (urllib only)."""

from __future__ import annotations

import http.client
import os
import re
import sys
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import quote
from urllib.request import Request, urlopen

from doodlelab.data.categories import resolve
from doodlelab.data.formats import FORMATS, category_path
from doodlelab.errors import DoodleError

BASE_URL = "https://storage.googleapis.com/quickdraw_dataset/full"
BASE_URL_ENV = "DOODLELAB_DOWNLOAD_URL"
CHUNK_BYTES = 1 << 16
_CONTENT_RANGE = re.compile(r"bytes (\d+)-\d+/(\d+|\*)")


def file_url(base_url: str, fmt: str, category: str) -> str:
    """URL of one official file, e.g. `<base>/simplified/house%20plant.ndjson`."""
    return f"{base_url.rstrip('/')}/{fmt}/{quote(category)}{FORMATS[fmt][0]}"


def download(
    categories: list[str],
    formats: list[str],
    dest: Path,
    *,
    base_url: str | None = None,
    progress: bool = True,
    timeout: float = 30,
) -> list[Path]:
    """Download `formats` of `categories` into `dest/<format>/<category>.<ext>`; returns the file paths.

    Names are checked before any network traffic (UnknownCategoryError, or DoodleError for a format).
    Files already complete are skipped; interrupted ones resume from their `.part` file.
    `base_url` defaults to `$DOODLELAB_DOWNLOAD_URL`, else Google's public bucket.
    """
    names = list(dict.fromkeys(resolve(c) for c in categories))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise DoodleError(f"unknown format {unknown[0]!r} (choose from {', '.join(FORMATS)})")
    base = base_url or os.environ.get(BASE_URL_ENV) or BASE_URL
    paths = []
    for fmt in dict.fromkeys(formats):
        for name in names:
            target = category_path(dest, fmt, name)
            fetch(file_url(base, fmt, name), target, progress=progress, timeout=timeout)
            paths.append(target)
    return paths


def fetch(url: str, target: Path, *, progress: bool = True, timeout: float = 30) -> Path:
    """Download `url` to `target` through `<target>.part`, resuming it with a Range request.

    Skips the download when `target` already has the size the server reports (HEAD Content-Length).
    The `.part` file is renamed atomically once complete; an interrupted download leaves it to resume.
    """
    size = remote_size(url, timeout)
    if target.is_file() and size is not None and target.stat().st_size == size:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    offset = part.stat().st_size if part.is_file() else 0
    if size is not None and offset > size:  # not a prefix of this file: start again
        offset = 0
    if size is None or offset < size:
        size = _transfer(url, part, offset, size, progress=progress, timeout=timeout)
    if size is not None and part.stat().st_size != size:
        got = part.stat().st_size
        raise DoodleError(f"incomplete download of {url}: {got} of {size} bytes (run again to resume)")
    os.replace(part, target)
    return target


def remote_size(url: str, timeout: float = 30) -> int | None:
    """Content-Length from a HEAD request, or None when the server does not say (or refuses HEAD)."""
    try:
        with urlopen(Request(url, method="HEAD"), timeout=timeout) as response:
            length = response.headers.get("Content-Length")
    except HTTPError as exc:
        if exc.code in (405, 501):  # HEAD not allowed: the GET will tell the size
            return None
        raise _failure(exc, url) from None
    except (URLError, OSError, http.client.HTTPException) as exc:
        raise _failure(exc, url) from None
    return int(length) if length and length.isdigit() else None


def _transfer(
    url: str, part: Path, offset: int, size: int | None, *, progress: bool, timeout: float
) -> int | None:
    """Append the bytes from `offset` on to `part`; returns the file's total size (None if unknown).

    A server that answers a Range request with 200 (the whole file) makes the download restart at 0.
    """
    from tqdm import tqdm  # imported on use: importing doodlelab stays light

    headers = {"Range": f"bytes={offset}-"} if offset else {}
    with _open(Request(url, headers=headers), timeout) as response:
        if offset and response.status == 206:
            match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != offset:
                raise DoodleError(f"download of {url}: server sent an unexpected range")
            if size is None and match.group(2) != "*":
                size = int(match.group(2))
        else:
            offset = 0
            length = response.headers.get("Content-Length")
            size = int(length) if size is None and length and length.isdigit() else size
        name = part.name.removesuffix(".part")
        with (
            part.open("ab" if offset else "wb") as out,
            tqdm(
                total=size,
                initial=offset,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=name,
                disable=not progress,
                file=sys.stderr,
            ) as bar,
        ):
            while chunk := _read(response, url):
                out.write(chunk)
                bar.update(len(chunk))
    return size


def _open(request: Request, timeout: float) -> http.client.HTTPResponse:
    """`urlopen`, turning HTTP and network errors into a one-line DoodleError naming the URL."""
    try:
        return urlopen(request, timeout=timeout)
    except (URLError, OSError, http.client.HTTPException) as exc:  # HTTPError is a URLError
        raise _failure(exc, request.full_url) from None


def _failure(exc: Exception, url: str) -> DoodleError:
    """A one-line error naming the URL: `download failed: HTTP 404 Not Found for <url>`."""
    if isinstance(exc, HTTPError):
        return DoodleError(f"download failed: HTTP {exc.code} {exc.reason} for {url}")
    reason = getattr(exc, "reason", None) or exc
    return DoodleError(f"download failed: {reason} for {url}")


def _read(response: http.client.HTTPResponse, url: str) -> bytes:
    """The next chunk of the body; a dropped connection becomes a DoodleError (the .part file is kept)."""
    try:
        return response.read(CHUNK_BYTES)
    except (OSError, http.client.HTTPException) as exc:
        raise DoodleError(f"download of {url} interrupted ({exc}); run again to resume") from None
