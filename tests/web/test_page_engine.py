"""The page's in-browser engine in real Chromium against the real app: with every /api/ request blocked the
page names real test drawings, drawn with the mouse, as the server does (ONNX Runtime Web in a worker), reads
digits (mlp.js) and plays a game round; without WebAssembly, or when the worker stops answering mid-session,
the server computes the guesses and the drawing is kept. `[data-testid=engine]` says which."""

from __future__ import annotations

import numpy as np
import pytest

from tests.web.pagekit import TIMEOUT, draw, names, require_browser, sized, wait_for_strokes

require_browser()

from playwright.sync_api import expect  # noqa: E402

CATEGORIES = 20  # categories of the test split, spread over the 345 (every 17th)
PER_CATEGORY = sized(3, 1)  # drawings of each, the first ones with strokes (60 in the full run, else 20)
LOAD = 60_000  # ms for the browser engine to load (14.8 MB of WebAssembly on a busy 2-core machine)
DIGITS = {  # strokes (0..255) of hand-made digits, drawn with the mouse
    "1": [np.array([[128, 10], [128, 245]])],
    "7": [np.array([[40, 20], [215, 20], [110, 245]])],
    "0": [
        np.array(
            [
                [128, 10],
                [210, 60],
                [225, 128],
                [200, 210],
                [128, 245],
                [55, 210],
                [30, 128],
                [50, 50],
                [128, 10],
            ]
        )
    ],
    "4": [np.array([[170, 10], [30, 160], [230, 160]]), np.array([[170, 60], [170, 245]])],
}


def block_api(context) -> list[str]:
    """Abort every request to /api/ from the page; the list of those tried."""
    tried: list[str] = []

    def abort(route) -> None:
        tried.append(route.request.url)
        route.abort()

    context.route("**/api/**", abort)
    return tried


def open_page(browser, base_url: str, query: str = "", blocked: bool = True, init_script: str = ""):
    """(page, tried /api/ requests) of a fresh context whose page has loaded its engine."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    tried = block_api(context) if blocked else []
    if init_script:
        context.add_init_script(init_script)
    page = context.new_page()
    page.goto(f"{base_url}/{query}")
    page.wait_for_function(
        "window.doodlelabEngine && window.doodlelabEngine.where !== 'loading'", timeout=LOAD
    )
    return page, tried


def settle(page, n: int) -> list[str]:
    """Wait until the page shows the answer for its n strokes; the names it shows."""
    wait_for_strokes(page, n)
    page.wait_for_function(
        f"window.doodlelab.settled && window.doodlelab.lastSent.length === {n}", timeout=TIMEOUT
    )
    return names(page)


@pytest.fixture(scope="module")
def test_drawings() -> list[tuple[str, list[np.ndarray]]]:
    """(category, simplified strokes) of real drawings of the test split, across categories."""
    from doodlelab.data import cache
    from doodlelab.data.categories import categories

    names = categories()
    chosen = names[::17][:CATEGORIES]
    try:
        a = cache.load_split_arrays("test", chosen, max_per_category=50)
    except Exception as exc:  # no data on this machine
        pytest.skip(f"no Quick, Draw! data ({exc})")
    drawings = []
    for category in chosen:
        items = np.flatnonzero((a.labels == names.index(category)) & (a.drawing >= 0))[:PER_CATEGORY]
        drawings += [(category, a.strokes_of(int(i))) for i in items]
    if len(drawings) < CATEGORIES * PER_CATEGORY // 2:
        pytest.skip("too few test drawings as strokes")
    return drawings


def server_top(base_url: str, drawing, endpoint: str = "predict", top: int = 5) -> list[str]:
    import httpx

    answer = httpx.post(f"{base_url}/api/{endpoint}", json={"drawing": drawing, "top": top}, timeout=60)
    answer.raise_for_status()
    return [p["category"] for p in answer.json()["predictions"]]


def test_with_the_api_blocked_the_page_names_test_drawings_as_the_server(browser, base_url, test_drawings):
    page, tried = open_page(browser, base_url)
    try:
        engine = page.get_by_test_id("engine")
        expect(engine).to_contain_text("in your browser")
        expect(engine).to_have_attribute("data-where", "browser")
        same, misses = 0, []
        for category, strokes in test_drawings:
            page.get_by_test_id("clear").click()
            draw(page, strokes, steps=1)  # one mouse move per point: 3x faster, the same drawing
            shown = settle(page, len(strokes))
            expected = server_top(base_url, page.evaluate("window.doodlelab.lastSent"))
            assert len(shown) == 5
            if shown[0] == expected[0]:
                same += 1
            else:
                misses.append((category, shown[0], expected[0]))
        agreement = same / len(test_drawings)
        assert agreement >= 0.97, (agreement, misses)
        expect(engine).to_contain_text("ms per guess")
        assert page.evaluate("window.doodlelabEngine.where") == "browser"
        assert not [url for url in tried if "/api/predict" in url]  # none needed, none tried
    finally:
        page.context.close()


def test_without_webassembly_the_server_guesses(browser, base_url, bicycle):
    page, _ = open_page(browser, base_url, blocked=False, init_script="delete globalThis.WebAssembly;")
    try:
        engine = page.get_by_test_id("engine")
        expect(engine).to_contain_text("on the server")
        expect(engine).to_have_attribute("data-where", "server")
        assert "WebAssembly" in (engine.get_attribute("title") or "")
        with page.expect_request(lambda r: r.url.endswith("/api/predict")):
            draw(page, bicycle)
        assert settle(page, len(bicycle))[0] == "bicycle"
        expect(engine).to_contain_text("ms per guess")
    finally:
        page.context.close()


def test_a_stuck_worker_hands_over_to_the_server_and_keeps_the_drawing(browser, base_url, bicycle):
    page, _ = open_page(browser, base_url, blocked=False)
    try:
        engine = page.get_by_test_id("engine")
        expect(engine).to_have_attribute("data-where", "browser")
        draw(page, bicycle[:1])
        settle(page, 1)
        page.evaluate("Worker.prototype.postMessage = function () {}")  # the worker never answers again
        with page.expect_request(lambda r: r.url.endswith("/api/predict"), timeout=3 * TIMEOUT) as request:
            draw(page, bicycle[1:])
        expect(engine).to_have_attribute("data-where", "server")
        expect(engine).to_contain_text("on the server")
        assert "failed" in (engine.get_attribute("title") or "")
        shown = settle(page, len(bicycle))
        assert len(request.value.post_data_json["drawing"]) >= 2  # the strokes drawn before, with the new
        assert page.evaluate("window.doodlelab.strokes.length") == len(bicycle)
        assert shown[0] == "bicycle"
        expect(page.get_by_test_id("error")).to_have_text("")
    finally:
        page.context.close()


def test_digits_in_the_browser_with_the_api_blocked(browser, base_url):
    page, tried = open_page(browser, base_url)
    try:
        page.get_by_test_id("tab-digits").click()
        for digit, strokes in DIGITS.items():
            page.get_by_test_id("clear").click()
            draw(page, strokes)
            shown = settle(page, len(strokes))
            sent = page.evaluate("window.doodlelab.lastSent")
            assert shown == server_top(base_url, sent, "digits")  # the same five, in the same order
            if digit == "1":
                assert shown[0] == "1"  # a vertical line, whatever the engine
        assert not [url for url in tried if "/api/digits" in url]
    finally:
        page.context.close()


def test_a_game_round_in_the_browser_with_the_api_blocked(browser, base_url, bicycle):
    page, tried = open_page(browser, base_url, "?game-categories=bicycle")
    try:
        page.get_by_test_id("game-start").click()
        expect(page.get_by_test_id("game-card-word")).to_have_text("bicycle", timeout=TIMEOUT)
        page.get_by_test_id("game-go").click()
        draw(page, bicycle, "game-canvas")
        expect(page.get_by_test_id("game-result")).to_have_text("Oh, I know, it's bicycle!", timeout=TIMEOUT)
        assert page.evaluate("window.doodlelabGame.rounds")[0]["recognized"] is True
        assert not [url for url in tried if "/api/predict" in url]
    finally:
        page.context.close()
