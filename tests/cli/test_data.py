"""`doodlelab data ...` end to end: info matches counts.json, render writes a grid, errors are one line."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from doodlelab import __version__
from doodlelab.cli.main import main


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse exits on usage errors and --help/--version
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_console_script_version_and_help():
    done = subprocess.run([sys.executable, "-m", "doodlelab", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == f"doodlelab {__version__}"
    done = subprocess.run([sys.executable, "-m", "doodlelab", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "data" in done.stdout


def test_info_counts_equal_counts_json(quickdraw_root, capsys):
    code, out, _ = run(["data", "info", "--json"], capsys)
    assert code == 0
    report = json.loads(out)
    expected = json.loads((quickdraw_root / "counts.json").read_text())
    assert report["categories"] == 345
    assert report["counts"]["simplified"] == expected["counts"]
    assert report["counts"]["numpy_bitmap"] == expected["bitmap_counts"]


def test_info_table(quickdraw_root, capsys):
    code, out, _ = run(["data", "info"], capsys)
    assert code == 0 and "categories: 345" in out and "house plant" in out


@pytest.mark.parametrize("source", ["strokes", "bitmaps"])
def test_render_writes_a_grid(quickdraw_root, tmp_path, capsys, source):
    out = tmp_path / "grid.png"
    argv = ["data", "render", "house_plant", "-n", "9", "--source", source, "--size", "28", "--out", str(out)]
    code, _, _ = run(argv, capsys)
    assert code == 0
    grid = np.asarray(Image.open(out))
    assert grid.shape == (3 * 30 + 2, 3 * 30 + 2)
    assert 0 < (grid < 128).mean() < 0.5  # dark ink on white


def test_cache_command_on_a_small_root(tmp_path, monkeypatch, capsys):
    root = tmp_path / "data" / "quickdraw" / "simplified"
    root.mkdir(parents=True)
    line = {"word": "cat", "key_id": "1", "drawing": [[[0, 255], [0, 100]]]}
    (root / "cat.ndjson").write_text(json.dumps(line) + "\n")
    monkeypatch.setenv("DOODLELAB_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("DOODLELAB_CACHE", str(tmp_path / "cache"))
    code, out, _ = run(["data", "cache", "--workers", "1"], capsys)
    assert code == 0 and "cached 1 drawings of 1 categories" in out
    manifests = list((tmp_path / "cache").rglob("cat/manifest.json"))  # the category's shard folder
    assert len(manifests) == 1 and json.loads(manifests[0].read_text())["category"] == "cat"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["data", "render", "catt"], "unknown category 'catt' (did you mean: cat"),
        (["data", "render", "cat", "-n", "0"], "-n must be"),
        (["data", "render", "cat", "--source", "bitmaps", "--size", "56"], "Google's bitmaps are 28x28"),
        (["data", "download"], "name categories"),
        (["data", "download", "cat", "--all"], "name categories"),
        (["data", "download", "no such thing"], "unknown category"),
        (["data", "render"], "required"),
        (["data"], "choose a command"),
        (["train"], "choose a command"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(argv, capsys)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1


def test_missing_data_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DOODLELAB_DATA", str(tmp_path / "nowhere"))
    code, _, err = run(["data", "info"], capsys)
    assert code == 2 and "DOODLELAB_DATA" in err and len(err.strip().splitlines()) == 1


def _write_ndjson(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


GOOD = '{"word": "cat", "key_id": "1", "drawing": [[[0, 255], [0, 100]]]}'


@pytest.mark.parametrize(
    "bad_line, reason",
    [
        ('{"word": "cat", "drawing": [[[0, 1], [0', "invalid JSON"),
        ('{"word": "cat", "drawing": []}', "non-empty"),
        ('{"word": "cat", "drawing": [[[], []]]}', "no points"),
        ('{"word": "cat", "drawing": [[[0, NaN], [0, 1]]]}', "finite"),
        ('{"word": "cat", "drawing": [[[0, Infinity], [0, 1]]]}', "finite"),
        ('{"word": "unicorn dragon", "drawing": [[[0, 255], [0, 100]]]}', "unknown category"),
    ],
)
def test_check_names_file_and_line_of_bad_input(tmp_path, capsys, bad_line, reason):
    path = _write_ndjson(tmp_path / "d.ndjson", [GOOD, GOOD, bad_line, GOOD])
    code, _, err = run(["data", "check", str(path)], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "d.ndjson:3: " in err and reason in err
    code, out, err = run(["data", "check", "--skip-bad", str(path)], capsys)
    assert code == 0 and "3 drawings of 1 categories, 1 skipped" in out and "d.ndjson:3" in err


def test_check_truncated_npy_and_good_files(tmp_path, capsys):
    good = tmp_path / "cat.npy"
    np.save(good, np.zeros((10, 784), np.uint8))
    truncated = tmp_path / "dog.npy"
    truncated.write_bytes(good.read_bytes()[:-100])
    code, out, _ = run(["data", "check", str(good)], capsys)
    assert code == 0 and "10 drawings" in out
    code, _, err = run(["data", "check", str(truncated)], capsys)
    assert code == 2 and "dog.npy" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(["data", "check", str(tmp_path / "missing.ndjson")], capsys)
    assert code == 2 and "missing.ndjson" in err and len(err.strip().splitlines()) == 1


def test_check_real_category_file(quickdraw_root, capsys):
    code, out, _ = run(["data", "check", str(quickdraw_root / "simplified" / "ant.ndjson")], capsys)
    assert code == 0 and "352 drawings of 1 categories" in out


def test_download_command_fetches_from_a_local_server(tmp_path, capsys, monkeypatch):
    """End to end: `doodlelab data download` against a real HTTP server on loopback, then `data info`."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    served = tmp_path / "served"
    (served / "simplified").mkdir(parents=True)
    _write_ndjson(served / "simplified" / "house plant.ndjson", [GOOD.replace("cat", "house plant")] * 3)

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(served))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
        dest = tmp_path / "data" / "quickdraw"
        argv = ["data", "download", "House_Plant", "--base-url", url, "--dest", str(dest)]
        code, _, err = run(argv, capsys)
        server.shutdown()
    assert code == 0, err
    assert (dest / "simplified" / "house plant.ndjson").read_bytes() == (
        served / "simplified" / "house plant.ndjson"
    ).read_bytes()
    monkeypatch.setenv("DOODLELAB_DATA", str(tmp_path / "data"))
    code, out, _ = run(["data", "info", "--json"], capsys)
    assert json.loads(out)["counts"]["simplified"] == {"house plant": 3}


def test_piping_into_a_reader_that_stops_early_is_quiet(quickdraw_root):
    """`doodlelab data info | head -3`: no error message when the reader closes the pipe."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "doodlelab", "data", "info"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )
    proc.stdout.readline()
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert err == b"" and proc.returncode in (0, 141)
