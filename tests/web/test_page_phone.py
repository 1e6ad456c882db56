"""The page on a phone, a tablet and a desktop, drawn with a finger: the current top guess
([data-testid=top-guess]) stays on screen while drawing, and the full top-5 follows it. Real Chromium with
touch (CDP touch events become Pointer Events of type "touch"); the screenshot is artifacts/page_phone.png."""

from __future__ import annotations

import re

import pytest

from tests.web import pagekit as kit
from tests.web.pagekit import TIMEOUT, names, wait_for_strokes

kit.require_browser()

from playwright.sync_api import expect  # noqa: E402

GUESS = re.compile(r"\S.*\d+(\.\d)?\s*%")  # a category name and its probability


def inside(box: dict | None, width: int, height: int) -> bool:
    return (
        box is not None
        and box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= width
        and box["y"] + box["height"] <= height
    )


@pytest.mark.parametrize("width, height", [(375, 700), (768, 1024), (1280, 800)])
def test_the_top_guess_stays_in_view_while_drawing_with_a_finger(browser, base_url, bicycle, width, height):
    context = browser.new_context(
        viewport={"width": width, "height": height}, has_touch=True, is_mobile=width < 1000
    )
    try:
        page = context.new_page()
        page.goto(base_url + "/")
        top = page.get_by_test_id("top-guess")
        lift = kit.touch_draw(page, bicycle, lift_last=False)  # the finger is still on the last stroke
        expect(top).to_have_text(GUESS, timeout=TIMEOUT)
        wait_for_strokes(page, len(bicycle) - 1)  # still drawing: the last stroke is not finished
        box = top.bounding_box()
        assert inside(box, width, height), (box, width, height)
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling
        center = [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2]
        on_top = "([x, y]) => !!document.elementFromPoint(x, y).closest('[data-testid=top-guess]')"
        assert page.evaluate(on_top, center)  # nothing covers it
        if width == 375:
            kit.ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(kit.ARTIFACTS / "page_phone.png"))  # what the person sees while drawing

        lift()
        wait_for_strokes(page, len(bicycle))
        expect(page.get_by_test_id("prediction")).to_have_count(5, timeout=TIMEOUT)  # the full top-5
        expect(page.get_by_test_id("prediction").first).to_contain_text("bicycle", timeout=TIMEOUT)
        expect(top).to_contain_text(names(page)[0], timeout=TIMEOUT)
        engine = page.get_by_test_id("engine")  # where and how fast the guesses are computed, not cut off
        expect(engine).to_contain_text("ms per guess", timeout=TIMEOUT)
        assert engine.evaluate("e => e.scrollWidth <= e.clientWidth && e.scrollHeight <= e.clientHeight")
        list_box = page.get_by_test_id("predictions").bounding_box()
        assert list_box is not None
        if width <= 760:  # one column: the top-5 below the bar; wider, the top-5 is beside the canvas
            assert list_box["y"] >= box["y"] + box["height"]
        else:
            assert list_box["x"] >= box["x"] + box["width"]
    finally:
        context.close()
