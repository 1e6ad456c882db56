"""The Generate panel in Chromium with the shipped models: progress counted by the server, the button off
while a request runs and Cancel freeing the server, a too-large request explained before it is sent, the
GAN without steps or guidance, and samples that appear in reserved space, drawn crisp."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from tests.web.pagekit import TIMEOUT, require_browser

require_browser()

from playwright.sync_api import expect  # noqa: E402

LONG = 120_000  # ms: the page's largest request on a busy 2-core host


def fill(page, model: str, n: int, steps: int | None = None) -> None:
    expect(page.locator("#category-list option")).to_have_count(345, timeout=TIMEOUT)
    page.get_by_test_id("category").fill("cat")
    page.get_by_label("Model").select_option(model)
    page.locator("#n").fill(str(n))
    page.locator("#seed").fill("3")
    if steps is not None:
        page.get_by_test_id("steps").fill(str(steps))


def test_progress_disabled_button_and_cancel(page):
    fill(page, "diffusion", 1, 400)  # the cap in the most steps: the longest progress bar
    button, cancel = page.get_by_test_id("generate"), page.get_by_test_id("generate-cancel")
    expect(cancel).to_be_disabled()
    button.click()
    expect(button).to_be_disabled()
    status = page.get_by_test_id("generate-status")
    expect(status).to_contain_text("of 400", timeout=LONG)  # "step 3 of 400", counted by the server
    page.wait_for_function(
        "document.querySelector('[data-testid=generate-progress]').value >= 2", timeout=LONG
    )
    with page.expect_response(lambda r: r.request.method == "DELETE") as deleted:
        cancel.click()
    assert deleted.value.json()["status"] == "cancelled"
    expect(status).to_have_text("cancelled")
    expect(button).to_be_enabled()
    expect(cancel).to_be_disabled()


def test_a_request_over_the_cap_is_explained_before_sending(page):
    fill(page, "diffusion", 16, 1000)
    sent: list = []
    page.on("request", lambda r: sent.append(r.url) if "/api/generate" in r.url else None)
    page.get_by_test_id("generate").click()
    error = page.get_by_test_id("generate-error")
    expect(error).to_contain_text("at most 400 per request")
    assert error.get_attribute("role") == "alert"
    page.wait_for_timeout(300)
    assert sent == []  # refused by the page, not by a round trip
    expect(page.get_by_test_id("generate")).to_be_enabled()


def test_the_gan_has_no_steps_or_guidance(page):
    fill(page, "diffusion", 2)
    expect(page.get_by_test_id("steps")).to_be_visible()
    page.get_by_label("Model").select_option("gan")
    expect(page.get_by_test_id("steps")).to_be_hidden()
    expect(page.get_by_test_id("guidance")).to_be_hidden()
    with page.expect_request("**/api/generate/jobs") as sent:
        page.get_by_test_id("generate").click()
    assert set(sent.value.post_data_json) == {"model", "category", "n", "seed"}
    expect(page.get_by_test_id("generate-status")).to_contain_text("2 × cat", timeout=TIMEOUT)


def test_samples_appear_in_reserved_space_and_crisp(page):
    fill(page, "gan", 16)
    area = page.get_by_test_id("generated")
    panel = page.locator("section", has=page.locator("#gen-title"))
    with page.expect_request("**/api/generate/jobs"):
        page.get_by_test_id("generate").click()
    before = panel.bounding_box()["height"], area.bounding_box()["height"]
    expect(page.get_by_test_id("generate-status")).to_contain_text("16 × cat", timeout=TIMEOUT)
    assert (panel.bounding_box()["height"], area.bounding_box()["height"]) == before  # nothing moved
    canvas = area.locator("canvas").first
    assert canvas.evaluate("c => getComputedStyle(c).imageRendering") == "pixelated"
    # on screen each 28x28 pixel is a block of one colour: no blurred edges between ink and paper
    box = canvas.bounding_box()
    shot = page.screenshot(clip={"x": box["x"] + 2, "y": box["y"] + 2, "width": 80, "height": 80})
    grey = np.asarray(Image.open(io.BytesIO(shot)).convert("L"), dtype=int)
    red = "c => Array.from(c.getContext('2d').getImageData(0, 0, 28, 28).data.filter((_, i) => i % 4 === 0))"
    assert len(np.unique(grey)) <= len(np.unique(np.array(canvas.evaluate(red))))
