"""`doodlelab export web OUT_DIR`: the folder, served by `python -m http.server` (a real subprocess, no
doodlelab server) to real Chromium with every /api/ request blocked, names a test-split drawing drawn with the
mouse as the Python Recognizer does, and so does doodlelab.js loaded from it alone; the command's errors."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.web.pagekit import ROOT, TIMEOUT, draw, require_browser
from tests.web.test_page_engine import open_page, server_top, settle, test_drawings  # noqa: F401

WEIGHTS = ROOT / "doodlelab" / "weights"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from doodlelab.cli.main import main

    out = tmp_path_factory.mktemp("export") / "site"
    assert main(["export", "web", str(out)]) == 0
    return out


@contextmanager
def static_server(folder: Path) -> Iterator[str]:
    """`folder` served by Python's own static file server in its own process; its URL."""
    server = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = server.stdout.readline()  # "Serving HTTP on 127.0.0.1 port 41234 (http://...) ..."
        port = re.search(r"port (\d+)", line)
        assert port, f"http.server said {line!r}"
        yield f"http://127.0.0.1:{port.group(1)}/"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def site_url(site) -> Iterator[str]:
    """The site in a subfolder of the served folder (http://host/site/), as on a project's pages site."""
    with static_server(site.parent) as url:
        yield url + site.name + "/"


@pytest.fixture
def offline_page(browser, site_url):
    """A page of the static site in which every /api/ request fails (as with no doodlelab server)."""
    require_browser()
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    blocked: list[str] = []

    def block(route):
        blocked.append(route.request.url)
        route.abort()

    context.route(re.compile(r".*/api/.*"), block)
    page = context.new_page()
    page.blocked = blocked
    yield page
    context.close()


def test_export_writes_the_page_the_module_and_the_models(site):
    assert (site / "index.html").is_file() and 'src="static/engine.js"' in (site / "index.html").read_text()
    for name in (
        "doodlelab.js",
        "recognizer-worker.js",
        "pipeline.js",
        "vendor/onnxruntime-web/ort-wasm-simd-threaded.wasm",
        "vendor/onnxruntime-web/LICENSE",
    ):
        assert (site / "static" / name).is_file(), name
    assert (site / "models" / "classifier.int8.onnx").read_bytes() == (
        WEIGHTS / "classifier.int8.onnx"
    ).read_bytes()
    assert (site / "models" / "classifier.int8.onnx.json").is_file()
    assert not (site / "static" / "vendor" / "swagger-ui").exists()  # the API docs need the server
    assert not list(site.glob(".export-*"))  # the temporary folder is gone


def test_the_module_alone_names_a_drawing_from_the_static_folder(offline_page, site_url, bicycle, recognizer):
    page = offline_page
    page.goto(site_url + "models/classifier.int8.onnx.json")  # any page of the site's origin
    drawing = [[[float(x) for x in s[:, 0]], [float(y) for y in s[:, 1]]] for s in bicycle]
    guesses = page.evaluate(
        """async ([site, drawing]) => {
        const { Recognizer } = await import(site + "static/doodlelab.js");
        const r = await Recognizer.load(site + "models/", {worker: true});
        return r.classify(drawing, {top: 3});
    }""",
        [site_url, drawing],
    )
    assert [g["category"] for g in guesses] == [c for c, _ in recognizer.classify([bicycle], k=3)[0]]


def test_the_page_names_a_drawing_with_no_server(offline_page, site_url, bicycle, recognizer):
    from playwright.sync_api import expect

    from doodlelab.web.inference import parse_drawing

    page = offline_page
    page.goto(site_url)
    expect(page.get_by_test_id("engine")).to_contain_text("in your browser", timeout=30_000)
    draw(page, bicycle)
    expect(page.get_by_test_id("prediction")).to_have_count(5, timeout=TIMEOUT)
    sent = page.evaluate("window.doodlelab.lastSent")  # the strokes the page named, as drawn (raw)
    strokes, raw = parse_drawing(sent)
    probs = recognizer.probabilities(recognizer.rasterize(strokes, raw=raw)[None])[0]
    first = page.get_by_test_id("prediction").locator(".name").first
    expect(first).to_have_text(recognizer.top(probs, 1)[0][0], timeout=TIMEOUT)
    expect(page.get_by_test_id("engine")).to_contain_text("in your browser")
    expect(page.get_by_test_id("generate")).to_be_hidden()  # generation needs the server
    assert not any("/api/generate" in url for url in page.blocked)
    assert page.evaluate("fetch('/api/health').then(() => 'answered', () => 'blocked')") == "blocked"
    page.get_by_test_id("tab-game").click()  # the game's settings load from the site's folder too
    page.get_by_test_id("game-start").click()
    expect(page.get_by_test_id("game-card-word")).not_to_be_empty(timeout=TIMEOUT)


def test_the_example_page_names_a_drawing(offline_page, bicycle, recognizer):
    """examples/recognize.html, served from the repository's root as its README says, with only the module."""
    from playwright.sync_api import expect

    with static_server(ROOT) as url:
        page = offline_page
        page.goto(url + "examples/recognize.html")
        expect(page.locator("#status")).to_have_text("ready", timeout=30_000)
        draw(page, bicycle)
        expect(page.get_by_test_id("guesses").locator("li")).to_have_count(3, timeout=TIMEOUT)
        expect(page.get_by_test_id("guesses").locator("li").first).to_contain_text(
            recognizer.classify([bicycle], k=1)[0][0][0], timeout=TIMEOUT
        )


@pytest.mark.slow  # about 2.5 min on the busy 2-core host
def test_the_exported_page_names_test_drawings_as_the_server(browser, site_url, base_url, test_drawings):  # noqa: F811 (the fixture)
    """test_page_engine's test on the exported folder: every /api/ request blocked, 60 test-split drawings
    drawn with the mouse; the first guess the page shows is the doodlelab server's for >= 97% of them."""
    from playwright.sync_api import expect

    page, tried = open_page(browser, site_url.rstrip("/"))
    try:
        expect(page.get_by_test_id("engine")).to_contain_text("in your browser")
        misses = []
        for category, strokes in test_drawings:
            page.get_by_test_id("clear").click()
            draw(page, strokes, steps=1)
            shown = settle(page, len(strokes))
            expected = server_top(base_url, page.evaluate("window.doodlelab.lastSent"))
            if shown[0] != expected[0]:
                misses.append((category, shown[0], expected[0]))
        assert 1 - len(misses) / len(test_drawings) >= 0.97, misses
        assert not tried  # it needed no /api/, and any it asked would have failed:
        assert page.evaluate("fetch('/api/health').then(() => 'answered', () => 'blocked')") == "blocked"
    finally:
        page.context.close()


@pytest.mark.parametrize("case", ["not empty", "a file"])
def test_export_refuses_a_folder_in_use(tmp_path, capsys, case):
    from doodlelab.cli.main import main

    out = tmp_path / "out"
    if case == "a file":
        out.write_text("mine")
    else:
        out.mkdir()
        (out / "notes.txt").write_text("mine")
    assert main(["export", "web", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not an empty folder" in err[0]
    if case == "not empty":  # --force replaces what an export writes and keeps the rest
        assert main(["export", "web", "--force", str(out)]) == 0
        assert (out / "notes.txt").read_text() == "mine" and (out / "index.html").is_file()
