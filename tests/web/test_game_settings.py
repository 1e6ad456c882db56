"""scripts/game_settings.py: the threshold of the game's call and its precision / recall / win rate on small
hand-made replays, bad options, and the shipped game.json (measured for the shipped classifier)."""

from __future__ import annotations

import json

import numpy as np
import pytest


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("game_settings")


# Five drawings replayed at 10 shares (the last is the finished drawing): the target's probability (N, F)
# and whether it is the top-1 guess (N, F).
TARGET = np.array(
    [
        [0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.9, 0.9, 0.9],  # named from 0.3 on
        [0.1, 0.4, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1],  # a spike at 0.4 while another guess leads
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.1, 0.2, 0.3],  # named at the end, never confidently
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # never named
        [0.1, 0.6, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2],  # named by luck at 20%, another guess leads after
    ]
)
RIGHT = np.array(
    [
        [p >= 0.3 for p in TARGET[0]],
        [False] * 10,
        [False] * 7 + [True] * 3,
        [False] * 10,
        [False, True] + [False] * 8,
    ]
)


def test_the_call_is_made_where_the_target_leads_and_reaches_the_threshold(script):
    """The game's rule (static/game.js): the target is the top guess and its probability reaches t; a
    spike of the target while another guess leads is no call. A call is right when the finished drawing
    is named too."""
    called, good = script.calls(TARGET, RIGHT, 0.35)
    assert called.tolist() == [True, False, False, False, True]
    assert good.tolist() == [True, False, False, False, False]
    assert script.scores(TARGET, RIGHT, 0.35) == {
        "precision": 0.5,
        "recall": 0.6667,
        "win_rate": 0.4,
        "median_share_at_call": 0.3,
        "drawings": 5,
    }
    # at 0.3 the third drawing is called right at its last share; drawing 1 from its third share
    assert script.scores(TARGET, RIGHT, 0.3) == {
        "precision": 0.6667,
        "recall": 1.0,
        "win_rate": 0.6,
        "median_share_at_call": 0.3,
        "drawings": 5,
    }


def test_the_threshold_is_the_lowest_whose_precision_holds_above_it(script):
    assert script.choose_threshold(TARGET, RIGHT, 0.95) == 0.61  # above the lucky call of drawing 5
    # 0.05..0.30 reach 2/3 (drawings 1 and 3 right, 5 wrong) but 0.31..0.60 only 1/2: not below 0.61
    assert script.choose_threshold(TARGET, RIGHT, 0.6) == 0.61
    assert script.choose_threshold(TARGET, RIGHT, 0.5) == 0.05
    assert script.choose_threshold(TARGET, np.zeros_like(RIGHT), 0.5) is None  # no call at all
    assert script.scores(TARGET, RIGHT, 0.95)["precision"] is None  # nothing called


def test_bad_options_exit_2_with_one_line(script, capsys):
    assert script.main(["--easy", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("game_settings: ") and len(err.splitlines()) == 1


def test_the_shipped_settings_belong_to_the_shipped_classifier(script):
    """game.json is measured for the classifier it is served with: after shipping a new one, rerun
    `python scripts/game_settings.py` (this test names the file that changed)."""
    from doodlelab.classifier.export import sha256
    from doodlelab.classifier.recognizer import SHIPPED
    from doodlelab.data.categories import categories

    if not SHIPPED.is_file():
        pytest.skip("no shipped classifier")
    settings = json.loads(script.OUT.read_text(encoding="utf-8"))
    assert settings["model"]["sha256"] == sha256(SHIPPED), "rerun scripts/game_settings.py for the new model"
    assert 0 < settings["threshold"] < 1
    assert settings["validation"]["precision"] >= settings["precision_target"]
    assert len(settings["easy"]) >= 6 and set(settings["easy"]) <= set(categories())
