"""The page in a real browser (Playwright driving Debian's /usr/bin/chromium) against the real app with the
shipped classifier: drawing with the mouse, live top-5, undo / clear, upload, digits, generate, and a phone-
sized viewport. Screenshots go to artifacts/page.png (and docs/page.png once the bicycle was recognized).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests.web.pagekit import ROOT, TIMEOUT, draw, names, require_browser, wait_for_strokes

require_browser()

from playwright.sync_api import Page, expect  # noqa: E402

from doodlelab.cli.main import main  # noqa: E402
from doodlelab.data import strokes as pipeline  # noqa: E402


@pytest.fixture
def page(page, base_url):
    """The page asking the server for every guess (?engine=server): these tests watch its API requests and
    compare with `doodlelab predict`; test_page_engine.py tests the in-browser engine."""
    page.goto(base_url + "/?engine=server")
    return page


def test_drawing_a_bicycle_names_it_as_doodlelab_predict_does(page, bicycle, recognizer, tmp_path, capsys):
    draw(page, bicycle)
    wait_for_strokes(page, len(bicycle))
    predictions = page.get_by_test_id("predictions")
    expect(predictions).to_contain_text("bicycle", timeout=TIMEOUT)
    expect(page.get_by_test_id("prediction")).to_have_count(5)

    sent = page.evaluate("window.doodlelab.lastSent")
    assert len(sent) == len(bicycle) and all(len(s) == 3 for s in sent)  # every stroke, with timestamps
    strokes = pipeline.parse_strokes(sent)
    assert not pipeline.is_simplified(strokes)  # raw canvas pixels: classify rasterizes them as the API does
    drawing = tmp_path / "drawn.ndjson"
    drawing.write_text(json.dumps({"drawing": sent}) + "\n")
    capsys.readouterr()
    assert main(["predict", "--json", "--top", "5", str(drawing)]) == 0  # the CLI on the page's strokes
    expected = [g["category"] for g in json.loads(capsys.readouterr().out)["top"]]
    assert expected == [c for c, _ in recognizer.classify([strokes], k=5)[0]]
    expect(page.get_by_test_id("prediction").locator(".name")).to_have_text(expected, timeout=TIMEOUT)
    assert "bicycle" in names(page)

    (ROOT / "artifacts").mkdir(exist_ok=True)  # docs/page.png, in the README, is a copy of this one
    page.screenshot(path=str(ROOT / "artifacts" / "page.png"), full_page=True)


def test_undo_and_clear(page, bicycle):
    canvas = page.get_by_test_id("canvas")
    draw(page, bicycle)
    n = len(bicycle)
    wait_for_strokes(page, n)
    expect(page.get_by_test_id("prediction")).to_have_count(5, timeout=TIMEOUT)

    with page.expect_request(lambda r: r.url.endswith("/api/predict")) as request:
        page.get_by_test_id("undo").click()
    wait_for_strokes(page, n - 1)
    assert len(request.value.post_data_json["drawing"]) == n - 1  # re-predicted without the last stroke

    canvas.focus()
    with page.expect_request(lambda r: r.url.endswith("/api/predict")) as request:
        page.keyboard.press("Control+z")
    wait_for_strokes(page, n - 2)
    assert len(request.value.post_data_json["drawing"]) == n - 2
    expect(page.get_by_test_id("prediction")).to_have_count(5, timeout=TIMEOUT)

    page.get_by_test_id("clear").click()
    wait_for_strokes(page, 0)
    expect(page.get_by_test_id("prediction")).to_have_count(0, timeout=TIMEOUT)
    page.wait_for_timeout(500)  # no late answer brings predictions back
    expect(page.get_by_test_id("prediction")).to_have_count(0)


def dark_pixels(page: Page) -> int:
    return page.evaluate("""() => {
        const c = document.querySelector('[data-testid=canvas]');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] < 128) n++;
        return n;
    }""")


def test_upload_draws_the_image_and_predicts_at_once(page, bicycle, tmp_path):
    bitmap = 255 - pipeline.render(bicycle, size=280)  # dark on white
    path = tmp_path / "bicycle.png"
    Image.fromarray(bitmap).save(path)
    assert dark_pixels(page) == 0

    with page.expect_request(lambda r: r.url.endswith("/api/predict")) as request:
        page.get_by_test_id("upload").set_input_files(str(path))
    assert request.value.headers["content-type"].startswith("multipart/form-data")
    canvas = page.get_by_test_id("canvas")
    expect(canvas).to_have_attribute("data-has-image", "true", timeout=TIMEOUT)
    assert dark_pixels(page) > 1000  # the image is on the canvas
    expect(page.get_by_test_id("prediction")).to_have_count(5, timeout=TIMEOUT)
    expect(page.get_by_test_id("predictions")).to_contain_text("bicycle")

    draw(page, [np.array([[20, 20], [200, 200]])])  # a stroke replaces the image
    expect(canvas).to_have_attribute("data-has-image", "false")
    wait_for_strokes(page, 1)


def test_digits_tab_asks_the_digits_model(page):
    page.get_by_test_id("tab-digits").click()
    with page.expect_request(lambda r: r.url.endswith("/api/digits")):
        draw(page, [np.array([[128, 10], [128, 245]])])
    predictions = page.get_by_test_id("prediction")
    expect(predictions).to_have_count(5, timeout=TIMEOUT)
    for name in names(page):
        assert name in "0123456789"
    page.get_by_test_id("tab-doodles").click()
    with page.expect_request(lambda r: r.url.endswith("/api/predict")):
        draw(page, [np.array([[10, 128], [245, 128]])])


def test_touch_and_pen_strokes(page):
    """Pointer Events from a finger and a pen draw strokes as the mouse does."""
    page.get_by_test_id("canvas").evaluate("""c => {
        const r = c.getBoundingClientRect();
        const fire = (type, kind, id, f) => c.dispatchEvent(new PointerEvent(type, {
            pointerId: id, pointerType: kind, isPrimary: true, bubbles: true, cancelable: true, button: 0,
            clientX: r.left + r.width * f, clientY: r.top + r.height * f}));
        for (const [kind, id] of [["touch", 7], ["pen", 8]]) {
            fire("pointerdown", kind, id, 0.2);
            for (const f of [0.3, 0.5, 0.7]) fire("pointermove", kind, id, f);
            fire("pointerup", kind, id, 0.8);
        }
    }""")
    wait_for_strokes(page, 2)
    expect(page.get_by_test_id("prediction")).to_have_count(5, timeout=TIMEOUT)


@pytest.mark.parametrize("model", ["gan", "diffusion"])
def test_generate_draws_the_shipped_models_samples(page, model):
    """The panel asks the shipped model for 4 cats; the diffusion answer is replayed as an animation first."""
    expect(page.locator("#category-list option")).to_have_count(345, timeout=TIMEOUT)
    page.get_by_test_id("category").fill("cat")
    page.get_by_label("Model").select_option(model)
    page.locator("#seed").fill("3")
    polls: list = []  # the job's answers (POST /api/generate/jobs, then GET until done)
    page.on("response", lambda r: polls.append(r) if "/api/generate/jobs" in r.url else None)
    with page.expect_request("**/api/generate/jobs") as sent:
        page.get_by_test_id("generate").click()
    # diffusion runs at a low priority beside other work: allow a busy machine time to finish its 50 steps
    expect(page.get_by_test_id("generate-status")).to_contain_text("4 × cat", timeout=6 * TIMEOUT)
    answer = polls[-1].json()["result"]
    assert len(answer["images"]) == 4 and answer["seed"] == 3
    assert "guidance" not in sent.value.post_data_json  # left empty: the model's own
    assert (len(answer["frames"]) > 0) == (model == "diffusion")
    canvases = page.get_by_test_id("generated").locator("canvas")
    expect(canvases).to_have_count(4)
    shown = page.evaluate("""() => [...document.querySelectorAll('[data-testid=generated] canvas')].map(c => {
        const d = c.getContext('2d').getImageData(0, 0, 28, 28).data;
        return Array.from({length: 784}, (_, i) => 255 - d[4 * i]); })""")
    assert shown == [sum(rows, []) for rows in answer["images"]]  # the final samples, ink as sent


def test_phone_viewport(browser, base_url):
    context = browser.new_context(viewport={"width": 375, "height": 740}, has_touch=True)
    try:
        page = context.new_page()
        page.goto(base_url + "/")
        canvas = page.get_by_test_id("canvas")
        expect(canvas).to_be_visible()
        box = canvas.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
        assert box["width"] > 250 and abs(box["width"] - box["height"]) < 2
        assert page.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scrolling
        assert canvas.evaluate("c => getComputedStyle(c).touchAction") == "none"
        (ROOT / "artifacts").mkdir(exist_ok=True)
        page.screenshot(path=str(ROOT / "artifacts" / "page-375.png"), full_page=True)
    finally:
        context.close()
