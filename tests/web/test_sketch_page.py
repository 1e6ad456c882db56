"""The stroke model in the page (real Chromium, a real server with the tiny stroke model): "Finish my drawing"
adds the model's strokes to the person's, exactly as the library draws them, and one Undo takes them back;
generated doodles are drawn stroke by stroke and download as SVG and ndjson that the pipeline reads."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest

from tests.generative.test_sketch import sketch_run  # noqa: F401
from tests.web.pagekit import TIMEOUT, draw, require_browser, wait_for_strokes

require_browser()

from playwright.sync_api import expect  # noqa: E402

from doodlelab.data import strokes as pipeline  # noqa: E402
from doodlelab.data.formats import parse_record  # noqa: E402
from doodlelab.generative.sketch_sample import load  # noqa: E402

SEED = 4  # sent by the test (the page asks for a random one): the tiny model draws some strokes with it
PERSON = [np.array([[30.0, 40], [200, 60], [120, 220]])]  # one stroke, in the test's 0..255 box


@pytest.fixture(scope="module")
def weights(sketch_run):  # noqa: F811
    return sketch_run[0] / "sketch.safetensors"


@pytest.fixture(scope="module")
def base_url(weights) -> Iterator[str]:
    from doodlelab.web.app import create_app
    from doodlelab.web.local import serving

    with serving(create_app(workers=0, generators={}, sketch_weights=weights)) as client:
        yield str(client.base_url)


def with_seed(route) -> None:
    """Playwright route: the page's request, with the test's seed added."""
    body = route.request.post_data_json | {"seed": SEED}
    route.continue_(post_data=json.dumps(body))


def test_finish_my_drawing_adds_the_models_strokes_and_undo_takes_them_back(page, weights):
    page.goto(page.url + "?engine=server")
    button = page.get_by_test_id("finish")
    expect(button).to_be_visible(timeout=TIMEOUT)  # the server has a stroke model
    draw(page, PERSON)
    wait_for_strokes(page, 1)
    person = page.evaluate("window.doodlelab.strokes")
    sketcher = load(weights)
    page.route("**/api/complete", with_seed)
    sent = []
    page.on("request", lambda r: sent.append(r.post_data_json) if r.url.endswith("/api/complete") else None)
    guess = page.evaluate(  # the top guess at the moment of the click
        "() => { const g = document.getElementById('top-name').textContent; "
        "document.getElementById('finish').click(); return g; }"
    )
    canvas = page.get_by_test_id("canvas")
    expect(canvas).not_to_have_attribute("data-ai-strokes", "0", timeout=30_000)
    # the top guess stands in for a category; a model that does not know it finishes without one
    known = guess in sketcher.classes
    bodies = [{k: v for k, v in b.items() if k != "seed"} for b in sent]  # the test's route adds the seed
    assert bodies == [{"drawing": person, "category": guess}] + ([] if known else [{"drawing": person}])
    drawing = pipeline.parse_strokes(person)  # as the server reads it: raw, for it has timestamps
    expected = sketcher.complete(drawing, True, guess if known else None, 1, SEED)[0]
    assert expected, "the tiny model drew nothing with this seed: choose another SEED"
    expect(canvas).to_have_attribute("data-ai-strokes", str(len(expected)), timeout=30_000)
    status = page.get_by_test_id("status")
    expect(status).to_have_text(f"Finished as {guess}." if known else "")  # said once the guesses are in
    strokes = page.evaluate("window.doodlelab.strokes")
    assert strokes[0] == person[0]  # the person's stroke unchanged
    assert [s[:2] for s in strokes[1:]] == pipeline.to_json(expected)  # then the model's, as the library
    times = [t for s in strokes for t in s[2]]
    assert times == sorted(times)  # raw format: the model's points come after the person's, in order
    page.get_by_test_id("undo").click()  # one Undo: all of the model's strokes
    expect(canvas).to_have_attribute("data-ai-strokes", "0")
    assert page.evaluate("window.doodlelab.strokes") == person


def test_a_top_guess_the_model_does_not_know_finishes_without_a_category(page, weights):
    """The tiny model knows four shapes; the classifier names a spiral otherwise, so the page asks again
    without a category and draws that answer."""
    page.goto(page.url + "?engine=server")
    expect(page.get_by_test_id("finish")).to_be_visible(timeout=TIMEOUT)
    turns = np.linspace(0, 6 * np.pi, 60)
    spiral = np.column_stack([128 + 4 * turns * np.cos(turns), 128 + 4 * turns * np.sin(turns)])
    draw(page, [spiral])
    wait_for_strokes(page, 1)
    page.wait_for_function("window.doodlelab.settled")
    guess = page.locator("#top-name").text_content()
    sketcher = load(weights)
    assert guess not in sketcher.classes, f"the classifier named the spiral {guess!r}: draw another shape"
    page.route("**/api/complete", with_seed)
    sent = []
    page.on("request", lambda r: sent.append(r.post_data_json) if r.url.endswith("/api/complete") else None)
    page.get_by_test_id("finish").click()
    person = page.evaluate("window.doodlelab.strokes")
    expected = sketcher.complete(pipeline.parse_strokes(person), True, None, 1, SEED)[0]
    canvas = page.get_by_test_id("canvas")
    expect(canvas).to_have_attribute("data-ai-strokes", str(len(expected)), timeout=30_000)
    bodies = [{k: v for k, v in b.items() if k != "seed"} for b in sent]
    assert bodies == [{"drawing": person, "category": guess}, {"drawing": person}]
    expect(page.get_by_test_id("error")).to_have_text("")


def test_finish_as_the_category_typed_beside_it(page, weights):
    page.goto(page.url + "?engine=server")
    expect(page.get_by_test_id("finish")).to_be_visible(timeout=TIMEOUT)
    draw(page, PERSON)
    wait_for_strokes(page, 1)
    page.get_by_test_id("finish-as").fill("Triangle")
    page.route("**/api/complete", with_seed)
    with page.expect_request("**/api/complete") as sent:
        page.get_by_test_id("finish").click()
    assert sent.value.post_data_json == {
        "drawing": page.evaluate("window.doodlelab.strokes"),
        "category": "Triangle",
        "seed": SEED,  # added by the test's route
    }
    expected = load(weights).complete(
        pipeline.parse_strokes(sent.value.post_data_json["drawing"]), True, "triangle", 1, SEED
    )[0]
    expect(page.get_by_test_id("canvas")).to_have_attribute(
        "data-ai-strokes", str(len(expected)), timeout=30_000
    )
    expect(page.get_by_test_id("status")).to_have_text("Finished as triangle.")
    page.get_by_test_id("undo").click()
    page.get_by_test_id("finish-as").fill("triangel")  # not a category: the server's message, nothing drawn
    page.get_by_test_id("finish").click()
    expect(page.get_by_test_id("error")).to_contain_text("triangle", timeout=10_000)
    expect(page.get_by_test_id("canvas")).to_have_attribute("data-ai-strokes", "0")


def test_finish_is_hidden_for_digits(page):
    expect(page.get_by_test_id("finish")).to_be_visible(timeout=TIMEOUT)
    page.get_by_test_id("tab-digits").click()
    expect(page.get_by_test_id("finish")).to_be_hidden()


def test_generated_doodles_are_drawn_as_strokes_and_download(page, tmp_path):
    expect(page.locator("#model option[value=sketch]")).to_have_count(1, timeout=TIMEOUT)
    page.get_by_test_id("category").fill("triangle")
    page.get_by_label("Model").select_option("sketch")
    expect(page.get_by_test_id("steps")).to_be_hidden()
    page.locator("#n").fill("3")
    page.locator("#seed").fill("2")
    with page.expect_response("**/api/generate/jobs/*") as polled:
        page.get_by_test_id("generate").click()
    expect(page.get_by_test_id("generate-status")).to_contain_text("3 × triangle", timeout=30_000)
    answer = page.evaluate(
        "async () => { const r = await fetch('/api/generate', {method: 'POST', headers: {'Content-Type': "
        "'application/json'}, body: JSON.stringify({model: 'sketch', category: 'triangle', n: 3, seed: 2})});"
        " return r.json(); }"
    )
    assert polled.value.ok
    canvases = page.locator("[data-testid=generated] canvas.strokes")
    expect(canvases).to_have_count(3)
    inked = page.evaluate(
        "[...document.querySelectorAll('[data-testid=generated] canvas')].map((c) => { const d = "
        "c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0; "
        "for (let i = 0; i < d.length; i += 4) if (d[i] < 128) n++; return n; })"
    )
    drew = [len(s) > 0 for s in answer["strokes"]]
    assert [n > 0 for n in inked] == drew  # each canvas holds its doodle's ink (none if the model drew none)
    with page.expect_download() as download:
        page.get_by_test_id("download-ndjson").click()
    path = tmp_path / "doodles.ndjson"
    download.value.save_as(path)
    records = [parse_record(line) for line in path.read_text().splitlines()]
    assert [r.word for r in records] == ["triangle"] * 3
    assert [pipeline.to_json(r.strokes) for r in records] == answer["strokes"]  # the page's = the server's
    with page.expect_download() as download:
        page.get_by_test_id("download-svg").click()
    svg = download.value.path().read_text()
    assert svg.startswith("<svg") and svg.count("<polyline") == sum(len(s) for s in answer["strokes"])


def test_the_stroke_model_takes_a_guidance_within_its_own_limit(page):
    """Guidance is offered for the stroke model (no steps), sent as typed, and above its limit of 10 (the
    diffusion model's is 20) refused by the page (the browser's own check of the field) before any request."""
    expect(page.locator("#model option[value=sketch]")).to_have_count(1, timeout=TIMEOUT)
    page.get_by_test_id("category").fill("triangle")
    page.get_by_label("Model").select_option("sketch")
    expect(page.get_by_test_id("guidance")).to_be_visible()
    expect(page.get_by_test_id("steps")).to_be_hidden()
    page.locator("#n").fill("1")
    page.get_by_test_id("guidance").fill("1.5")
    with page.expect_request("**/api/generate/jobs") as sent:
        page.get_by_test_id("generate").click()
    assert sent.value.post_data_json["guidance"] == 1.5 and "steps" not in sent.value.post_data_json
    expect(page.get_by_test_id("generate-status")).to_contain_text("1 × triangle", timeout=30_000)
    requests = []
    page.on("request", lambda r: requests.append(r.url) if "/api/generate" in r.url else None)
    page.get_by_test_id("guidance").fill("12")
    page.get_by_test_id("generate").click()
    assert page.get_by_test_id("guidance").evaluate("(e) => e.validity.rangeOverflow")
    page.get_by_label("Model").select_option("diffusion")
    assert not page.get_by_test_id("guidance").evaluate("(e) => e.validity.rangeOverflow")
    assert page.get_by_test_id("guidance").get_attribute("max") == "20"
    page.wait_for_timeout(300)
    assert requests == []  # refused by the page, not by a round trip
