"""The Game tab in a real browser (Playwright driving /usr/bin/chromium) against the real app and the shipped
classifier: a real test drawing replayed with the mouse is guessed before time is up, scribbles end with
"Sorry" at 20 s (Playwright's fake clock), six rounds give a summary and an ndjson download in the raw
format that `doodlelab data check` and `doodlelab predict` read back, and a hand-edited download is handled.
"""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path

import numpy as np
import pytest

from tests.web.pagekit import ARTIFACTS, TIMEOUT, draw, require_browser, touch_draw

require_browser()

from playwright.sync_api import expect  # noqa: E402

from doodlelab.cli.main import main  # noqa: E402

GAME_JSON = Path(__file__).resolve().parents[2] / "doodlelab" / "web" / "static" / "game.json"
SCRIBBLE = [np.array([[20, 30], [230, 60], [25, 110], [235, 150], [30, 200], [225, 240]])]


@pytest.fixture(scope="module")
def settings() -> dict:
    return json.loads(GAME_JSON.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def real_drawing(recognizer, settings) -> tuple[str, list[np.ndarray]]:
    """(category, simplified strokes) of a test-split drawing of an easy category that the shipped model
    names confidently once finished."""
    from doodlelab.data import cache

    for category in settings["easy"]:
        try:
            a = cache.load_split_arrays("test", [category])
        except Exception as exc:  # no data on this machine
            pytest.skip(f"no Quick, Draw! data ({exc})")
        items = np.flatnonzero(a.drawing >= 0)
        if len(items):
            p = recognizer.probabilities(a.images[items])[:, recognizer.classes.index(category)]
            if p.max() > max(0.9, settings["threshold"]):
                return category, a.strokes_of(int(items[p.argmax()]))
    pytest.skip("no confidently recognized test drawing of an easy category")


def open_game(page, base_url: str, query: str) -> None:
    page.goto(f"{base_url}/?{query}")
    expect(page.get_by_test_id("game-intro")).to_be_visible()
    page.get_by_test_id("game-start").click()
    expect(page.get_by_test_id("game-card")).to_be_visible(timeout=TIMEOUT)


def play_round(page, strokes: list[np.ndarray], touch: bool = False) -> None:
    page.get_by_test_id("game-go").click()
    expect(page.get_by_test_id("game-play")).to_be_visible()
    if touch:
        touch_draw(page, strokes, testid="game-canvas")
    else:
        draw(page, strokes, "game-canvas")


def test_a_real_drawing_is_guessed_before_time_is_up(page, base_url, real_drawing):
    category, strokes = real_drawing
    open_game(page, base_url, f"game-categories={category.replace(' ', '_')}")
    expect(page.get_by_test_id("tab-game")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_test_id("game-card-word")).to_have_text(category)
    play_round(page, strokes)
    expect(page.get_by_test_id("game-result")).to_have_text(f"Oh, I know, it's {category}!", timeout=TIMEOUT)
    expect(page.get_by_test_id("game-guesses")).to_contain_text(category)
    rounds = page.evaluate("window.doodlelabGame.rounds")
    assert rounds[0]["recognized"] is True and rounds[0]["seconds"] < 20


def test_scribbles_end_the_round_at_20_seconds_with_sorry(page, base_url):
    start = datetime.datetime(2026, 12, 2, 20, 0, tzinfo=datetime.timezone.utc)
    page.clock.install(time=start)  # the page's clocks are Playwright's
    page.clock.pause_at(start + datetime.timedelta(minutes=10))  # time moves only when the test says so
    open_game(page, base_url, "game-categories=cat")
    play_round(page, SCRIBBLE)
    expect(page.get_by_test_id("game-guesses")).to_contain_text("I see", timeout=TIMEOUT)  # answers came
    page.clock.fast_forward(19_000)
    expect(page.get_by_test_id("game-result")).to_have_text("")  # still drawing at 19 s
    expect(page.get_by_test_id("game-clock")).to_have_text(re.compile(r"0:0[12]"))
    page.clock.fast_forward(1_500)
    expect(page.get_by_test_id("game-result")).to_have_text("Sorry, I couldn't guess it.")
    rounds = page.evaluate("window.doodlelabGame.rounds")
    assert rounds == [{**rounds[0], "word": "cat", "recognized": False, "seconds": 20}]
    page.clock.fast_forward(3_000)  # the result stays a moment, then the next round's card
    expect(page.get_by_test_id("game-round")).to_have_text("2")


def test_the_game_plays_with_the_keyboard(page, base_url):
    """Every step has a focused button: Enter starts, "Got it!", Skip (Tab from the canvas), Next; after six
    rounds "Play again" has the focus and starts a new game."""
    page.goto(f"{base_url}/?game-seed=7")
    page.get_by_test_id("game-start").focus()
    page.keyboard.press("Enter")
    words = []
    for _ in range(6):
        expect(page.get_by_test_id("game-go")).to_be_focused(timeout=TIMEOUT)
        words.append(page.get_by_test_id("game-card-word").inner_text())
        page.keyboard.press("Enter")
        page.get_by_test_id("game-clear").focus()
        page.keyboard.press("Tab")
        expect(page.get_by_test_id("game-skip")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.get_by_test_id("game-result")).to_have_text("Sorry, I couldn't guess it.")
        expect(page.get_by_test_id("game-next")).to_be_focused()
        page.keyboard.press("Enter")
    expect(page.get_by_test_id("game-drawing")).to_have_count(6)
    expect(page.get_by_test_id("game-again")).to_be_focused()
    easy = json.loads(GAME_JSON.read_text(encoding="utf-8"))["easy"]
    assert len(set(words)) == 6 and set(words) <= set(easy)  # six different easy categories
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("game-round")).to_have_text("1")

    page.goto(f"{base_url}/?game-seed=7")  # the same seed draws the same categories
    page.get_by_test_id("game-start").click()
    expect(page.get_by_test_id("game-card-word")).to_have_text(words[0])


@pytest.fixture(scope="module")
def finished_game(browser, base_url, real_drawing, tmp_path_factory):
    """A whole game on a phone-sized touch screen: rounds alternate the real drawing's category and "cat";
    the real drawing is drawn in every round (cat rounds are skipped once drawn). Yields the page at the
    summary and the downloaded ndjson."""
    category, strokes = real_drawing
    ARTIFACTS.mkdir(exist_ok=True)  # screenshots for the docs
    context = browser.new_context(viewport={"width": 375, "height": 667}, has_touch=True, is_mobile=True)
    page = context.new_page()
    open_game(page, base_url, f"game-categories={category.replace(' ', '_')},cat")
    in_view = []
    for i in range(6):
        play_round(page, strokes, touch=True)
        if i % 2:
            expect(page.get_by_test_id("game-guesses")).to_contain_text("I see", timeout=TIMEOUT)
            in_view.append(
                page.evaluate("""() => ['game-target', 'game-clock', 'game-guesses'].every(id => {
                const r = document.querySelector(`[data-testid=${id}]`).getBoundingClientRect();
                return r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= innerWidth;
            })""")
            )
            if i == 1:
                page.screenshot(path=str(ARTIFACTS / "game-phone.png"))
            page.get_by_test_id("game-skip").click()
        expect(page.get_by_test_id("game-next")).to_be_visible(timeout=TIMEOUT)
        page.get_by_test_id("game-next").click()
    expect(page.get_by_test_id("game-summary")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "game-summary.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_test_id("game-download").click()
    path = tmp_path_factory.mktemp("game") / download.value.suggested_filename
    download.value.save_as(path)
    yield page, path, category, in_view
    context.close()


def test_a_phone_shows_the_target_and_the_guesses_while_drawing(finished_game):
    page, _, _, in_view = finished_game
    assert in_view == [True, True, True]
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # nothing wider than the phone


def test_the_summary_shows_six_drawings(finished_game):
    page, _, category, _ = finished_game
    drawings = page.get_by_test_id("game-drawing")
    expect(drawings).to_have_count(6)
    expect(drawings.locator("svg polyline").first).to_be_attached()
    for i in range(6):
        item = drawings.nth(i)
        expect(item.locator("svg polyline")).not_to_have_count(0)
        expect(item.locator("strong")).to_have_text(category if i % 2 == 0 else "cat")
        expect(item).to_have_class("recognized" if i % 2 == 0 else "missed")
        expect(item.locator(".verdict")).to_have_text(
            re.compile(r"recognized in \d+\.\d s") if i % 2 == 0 else re.compile("not recognized")
        )
    expect(drawings.nth(1).locator(".others")).to_contain_text(f"it also thought of {category}")
    expect(page.get_by_test_id("game-score")).to_have_text("The network guessed 3 of your 6 drawings")


def test_the_download_is_raw_ndjson_that_check_and_predict_read(finished_game, capsys):
    from doodlelab.data import formats

    _, path, category, _ = finished_game
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [r["word"] for r in lines] == [category, "cat"] * 3
    assert [r["recognized"] for r in lines] == [True, False] * 3
    for r in lines:
        assert list(r) == ["key_id", "word", "countrycode", "timestamp", "recognized", "drawing"]
        assert re.fullmatch(r"[1-9]\d{15}", r["key_id"]) and r["countrycode"] == ""
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{5} UTC", r["timestamp"])
        times = np.concatenate([s[2] for s in r["drawing"]])
        assert times[0] == 0 and np.all(np.diff(times) >= 0)  # ms since the first point
    assert len({r["key_id"] for r in lines}) == 6
    drawings = list(formats.iter_ndjson(path))
    assert all(d.is_raw for d in drawings)

    capsys.readouterr()
    assert main(["data", "check", str(path)]) == 0
    assert f"6 drawings of {len({category, 'cat'})} categories" in capsys.readouterr().out
    assert main(["predict", "--json", str(path)]) == 0
    answers = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [a["key_id"] for a in answers] == [r["key_id"] for r in lines]
    for i, answer in enumerate(answers):  # the real drawing, finished in cat rounds, up to the call in others
        guesses = [g["category"] for g in answer["top"]]
        assert category in (guesses[:1] if i % 2 else guesses[:3])


def test_a_hand_edited_download_is_reported(finished_game, tmp_path, capsys):
    _, path, category, _ = finished_game
    good = path.read_text(encoding="utf-8").splitlines()
    no_times = json.loads(good[0])
    no_times["drawing"][-1][2].pop()  # the last point lost its time (a call after one stroke leaves one)
    wrong_types = json.loads(good[2])
    wrong_types["drawing"][0][0] = [str(x) for x in wrong_types["drawing"][0][0]]  # xs as strings
    bad_flag = {**json.loads(good[4]), "recognized": "yes"}
    edited = tmp_path / "edited.ndjson"
    edited.write_text(
        "\n".join([good[1], json.dumps(no_times), json.dumps(wrong_types), json.dumps(bad_flag), good[3]])
        + "\n",
        encoding="utf-8",
    )

    capsys.readouterr()
    assert main(["data", "check", str(edited)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{edited.name}:2" in err and "timestamps" in err
    assert main(["data", "check", "--skip-bad", str(edited)]) == 0
    assert "2 drawings of 1 categories, 3 skipped" in capsys.readouterr().out

    assert main(["predict", str(edited)]) == 1  # the bad line reported, the others named
    out, err = capsys.readouterr()
    assert f"{edited.name}:3" in err and "coordinates must be numbers" in err and "Traceback" not in err
    named = [line.split(": ")[0].rsplit(":", 1)[1] for line in out.splitlines()]
    assert "1" in named and "5" in named and "3" not in named
