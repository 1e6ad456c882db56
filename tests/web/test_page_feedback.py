"""The page's feedback in real Chromium: errors are alerts (styled apart, cleared by the next action, no
"Draw something" beside them), one keyboard-usable upload button, the guess panel keeps its place and size
(no blank gap under "I see...", nothing jumps when guesses arrive), and no 404 (a favicon) on load."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

from tests.web import pagekit as kit
from tests.web.pagekit import TIMEOUT, draw, wait_for_strokes

kit.require_browser()

from playwright.sync_api import Page, expect  # noqa: E402

from doodlelab.data import strokes as pipeline  # noqa: E402
from doodlelab.web.app import create_app  # noqa: E402
from doodlelab.web.local import serving  # noqa: E402


@pytest.fixture
def broken_png(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"this is not a PNG")  # the browser sends it as image/png; the server refuses it
    return path


@pytest.fixture
def bicycle_png(tmp_path, bicycle):
    path = tmp_path / "bicycle.png"
    Image.fromarray(255 - pipeline.render(bicycle, size=280)).save(path)
    return path


def alert(page: Page):
    """The drawing panel's error line (the Generate panel has its own)."""
    box = page.get_by_test_id("error")
    expect(box).to_have_attribute("role", "alert")
    return box


def fail_an_upload(page: Page, broken_png) -> None:
    page.get_by_test_id("upload").set_input_files(str(broken_png))
    expect(alert(page)).to_contain_text("image", timeout=TIMEOUT)


def test_a_failed_upload_is_an_alert_without_the_placeholder(page, broken_png):
    fail_an_upload(page, broken_png)
    expect(alert(page)).to_be_visible()
    styles = page.evaluate("""() => {
        const style = (el, pseudo) => getComputedStyle(el, pseudo);
        const alert = document.querySelector('[data-testid=error]');
        const list = document.querySelector('[data-testid=predictions]');
        return {alert: style(alert).color, status: style(document.querySelector('#status')).color,
                border: style(alert).borderLeftWidth, placeholder: style(list, '::before').content,
                top: document.querySelector('[data-testid=top-guess]').textContent};
    }""")
    assert styles["alert"] != styles["status"] and styles["border"] != "0px"  # it looks like an error
    assert styles["placeholder"] in ("none", "normal")  # no "Draw something" beside the error
    assert "draw something" not in styles["top"].lower()
    expect(page.get_by_test_id("prediction")).to_have_count(0)


@pytest.mark.parametrize("action", ["draw", "undo", "clear", "upload", "digits tab"])
def test_the_next_action_clears_a_stale_error(page, broken_png, bicycle_png, action):
    fail_an_upload(page, broken_png)
    if action == "draw":
        draw(page, [np.array([[20, 20], [200, 200]])])
        wait_for_strokes(page, 1)
    elif action == "upload":
        page.get_by_test_id("upload").set_input_files(str(bicycle_png))
        expect(page.get_by_test_id("prediction")).to_have_count(5, timeout=TIMEOUT)
    elif action == "digits tab":
        page.get_by_test_id("tab-digits").click()
    else:
        page.get_by_test_id(action).click()
    error = alert(page)  # the live region stays in the page, empty and not shown
    expect(error).to_have_text("")
    expect(error).to_be_hidden()


def test_upload_is_one_button_that_the_keyboard_opens(page, bicycle_png):
    button = page.get_by_role("button", name="Upload an image")
    expect(button).to_have_count(1)
    expect(page.get_by_test_id("upload")).to_be_hidden()  # the raw file picker is not a second control
    expect(page.get_by_text("Upload an image", exact=True)).to_have_count(1)  # no separate label
    with page.expect_file_chooser(timeout=TIMEOUT) as chooser:
        button.press("Enter")  # focuses the button and presses Enter on it
    chooser.value.set_files(str(bicycle_png))
    expect(page.get_by_test_id("predictions")).to_contain_text("bicycle", timeout=TIMEOUT)


def test_the_guess_panel_has_no_gap_below_and_nothing_jumps(page, bicycle):
    def boxes() -> tuple[dict, dict]:
        guess = page.locator("section", has=page.locator("#guess-title")).bounding_box()
        generate = page.locator("section", has=page.locator("#gen-title")).bounding_box()
        assert guess is not None and generate is not None
        return guess, generate

    guess, generate = boxes()
    gap = generate["y"] - (guess["y"] + guess["height"])
    assert 0 <= gap <= 24, gap  # the grid gap, not a blank stretch
    draw(page, bicycle)
    expect(page.get_by_test_id("prediction")).to_have_count(5, timeout=TIMEOUT)
    after, generate_after = boxes()
    assert abs(after["height"] - guess["height"]) <= 1  # room for the top-5 was reserved
    assert abs(generate_after["y"] - generate["y"]) <= 1  # the Generate panel did not move


class Recorder:
    """ASGI wrapper that records (path, status) of every response the real app sends."""

    def __init__(self, app):
        self.app, self.seen = app, []

    async def __call__(self, scope, receive, send):
        async def record(message):
            if message["type"] == "http.response.start":
                self.seen.append((scope["path"], message["status"]))
            await send(message)

        await self.app(scope, receive, record)


def test_the_page_loads_a_favicon_and_nothing_404s(browser):
    recorder = Recorder(create_app(workers=0, generators={}))
    with serving(recorder) as client:
        context = browser.new_context()
        try:
            context.new_page().goto(str(client.base_url) + "/")
            deadline = time.monotonic() + TIMEOUT / 1000
            while not any("favicon" in path for path, _ in recorder.seen) and time.monotonic() < deadline:
                time.sleep(0.05)  # the browser asks for the icon after the page
        finally:
            context.close()
        assert any("favicon" in path for path, _ in recorder.seen), recorder.seen
        assert all(status < 400 for _, status in recorder.seen), recorder.seen  # the icon linked, no 404
        icon = client.get("/static/favicon.svg")
        assert icon.headers["content-type"].startswith("image/svg+xml") and b"<svg" in icon.content
