"""The downloader against a real local HTTP server that supports Range requests."""

from __future__ import annotations

import io
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest

from doodlelab.data import download as dl
from doodlelab.data import formats
from doodlelab.errors import DoodleError, UnknownCategoryError


class RangeHandler(BaseHTTPRequestHandler):
    """Serves `server.files` (URL path -> bytes), honouring `Range: bytes=N-` unless `server.ignore_range`.

    With `server.cut_after` set, a body stops after that many bytes, as when a connection drops.
    """

    def do_HEAD(self) -> None:
        self.respond(send_body=False)

    def do_GET(self) -> None:
        self.respond(send_body=True)

    def respond(self, send_body: bool) -> None:
        server = self.server
        server.requests.append((self.command, unquote(self.path), self.headers.get("Range")))
        data = server.files.get(unquote(self.path))
        if data is None:
            self.send_error(404)
            return
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        start = int(match.group(1)) if match and not server.ignore_range else 0
        if start >= len(data) > 0:
            self.send_error(416)
            return
        self.send_response(206 if match and not server.ignore_range else 200)
        if start or (match and not server.ignore_range):
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        if send_body:
            self.wfile.write(data[start:][: server.cut_after])

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass


def npy_bytes(n: int) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.random.default_rng(n).integers(0, 256, (n, 784), dtype=np.uint8))
    return buffer.getvalue()


LINE = b'{"word": "%s", "drawing": [[[0, 255], [0, 9]]]}\n'
FILES = {
    "/full/simplified/house plant.ndjson": LINE % b"house plant" * 300,
    "/full/simplified/cat.ndjson": LINE % b"cat" * 50,
    "/full/numpy_bitmap/house plant.npy": npy_bytes(40),
    "/full/numpy_bitmap/cat.npy": npy_bytes(3),
}


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1")  # never send the test's requests through a proxy
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    httpd.files, httpd.requests, httpd.ignore_range, httpd.cut_after = dict(FILES), [], False, None
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    httpd.base_url = f"http://127.0.0.1:{httpd.server_address[1]}/full"
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def get(server, *categories: str, formats_=("simplified",), dest: Path, **kw) -> list[Path]:
    return dl.download(list(categories), list(formats_), dest, base_url=server.base_url, progress=False, **kw)


def test_full_download_uses_the_readers_layout(server, tmp_path):
    paths = get(server, "house_plant", "cat", formats_=("simplified", "numpy_bitmap"), dest=tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        "simplified/house plant.ndjson",
        "simplified/cat.ndjson",
        "numpy_bitmap/house plant.npy",
        "numpy_bitmap/cat.npy",
    ]
    for path in paths:
        assert path.read_bytes() == FILES[f"/full/{path.parent.name}/{path.name}"]
    assert not list(tmp_path.rglob("*.part"))
    assert ("GET", "/full/simplified/house plant.ndjson", None) in server.requests
    assert dl.file_url("http://h/full/", "raw", "house plant") == "http://h/full/raw/house%20plant.ndjson"
    assert formats.counts(tmp_path)["numpy_bitmap"] == {"cat": 3, "house plant": 40}
    files = formats.category_files(tmp_path, "house plant")
    assert files == {"simplified": paths[0], "numpy_bitmap": paths[2]}


def test_resume_from_a_part_file(server, tmp_path):
    data = FILES["/full/simplified/house plant.ndjson"]
    part = tmp_path / "simplified" / "house plant.ndjson.part"
    part.parent.mkdir()
    part.write_bytes(data[:1000])
    (path,) = get(server, "house plant", dest=tmp_path)
    assert ("GET", "/full/simplified/house plant.ndjson", "bytes=1000-") in server.requests
    assert path.read_bytes() == data and not part.exists()


def test_dropped_connection_keeps_the_part_file_for_the_next_run(server, tmp_path):
    data = FILES["/full/simplified/house plant.ndjson"]
    server.cut_after = 5000
    with pytest.raises(DoodleError, match="5000 of 17100 bytes.*run again to resume"):
        get(server, "house plant", dest=tmp_path)
    assert (tmp_path / "simplified" / "house plant.ndjson.part").read_bytes() == data[:5000]
    server.cut_after = None
    (path,) = get(server, "house plant", dest=tmp_path)
    assert server.requests[-1] == ("GET", "/full/simplified/house plant.ndjson", "bytes=5000-")
    assert path.read_bytes() == data


def test_server_ignoring_range_restarts_the_file(server, tmp_path):
    data = FILES["/full/simplified/cat.ndjson"]
    part = tmp_path / "simplified" / "cat.ndjson.part"
    part.parent.mkdir()
    part.write_bytes(data[:100])
    server.ignore_range = True
    (path,) = get(server, "cat", dest=tmp_path)
    assert server.requests[-1][2] == "bytes=100-"  # asked for a range, got the whole file with 200
    assert path.read_bytes() == data


def test_complete_part_file_and_complete_target(server, tmp_path):
    data = FILES["/full/simplified/cat.ndjson"]
    part = tmp_path / "simplified" / "cat.ndjson.part"
    part.parent.mkdir()
    part.write_bytes(data)
    (path,) = get(server, "cat", dest=tmp_path)
    assert path.read_bytes() == data and [r[0] for r in server.requests] == ["HEAD"]
    get(server, "cat", dest=tmp_path)  # complete already: only a HEAD, no GET
    assert [r[0] for r in server.requests] == ["HEAD", "HEAD"]


def test_a_different_size_is_downloaded_again(server, tmp_path):
    target = tmp_path / "simplified" / "cat.ndjson"
    target.parent.mkdir()
    target.write_bytes(b"stale\n")
    get(server, "cat", dest=tmp_path)
    assert target.read_bytes() == FILES["/full/simplified/cat.ndjson"]


def test_missing_file_is_a_one_line_error_naming_the_url(server, tmp_path):
    with pytest.raises(DoodleError) as info:
        get(server, "dog", dest=tmp_path)
    message = str(info.value)
    assert "404" in message and f"{server.base_url}/simplified/dog.ndjson" in message and "\n" not in message
    assert not (tmp_path / "simplified" / "dog.ndjson").exists()


def test_unreachable_server_is_a_doodle_error(tmp_path):
    with pytest.raises(DoodleError, match="download failed: .* for http://127.0.0.1:9/x/simplified/cat"):
        dl.download(["cat"], ["simplified"], tmp_path, base_url="http://127.0.0.1:9/x", progress=False)


def test_bad_names_are_rejected_before_any_request(server, tmp_path):
    with pytest.raises(UnknownCategoryError, match="did you mean"):
        get(server, "cat", "hous plant", dest=tmp_path)
    with pytest.raises(DoodleError, match="unknown format 'svg'"):
        get(server, "cat", formats_=("simplified", "svg"), dest=tmp_path)
    assert server.requests == [] and not any(tmp_path.iterdir())


def test_base_url_from_the_environment_and_progress_bar(server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(dl.BASE_URL_ENV, server.base_url)
    (path,) = dl.download(["cat"], ["simplified"], tmp_path, progress=True)
    assert path.read_bytes() == FILES["/full/simplified/cat.ndjson"]
    assert "cat.ndjson" in capsys.readouterr().err
