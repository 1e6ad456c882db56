"""The suite keeps out of the user's real cache: rendered arrays go to a temporary directory per session,
or to $DOODLELAB_TEST_CACHE when that is set (see tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from doodlelab import settings

REPO = Path(__file__).resolve().parent.parent

# A test run by a child pytest with tests/conftest.py as its only conftest: it renders one tiny category
# into the default cache, wherever the suite's settings put it.
CHILD_TEST = """
import json
from doodlelab.data import cache
from doodlelab import settings

def test_render_into_the_default_cache(tmp_path):
    folder = tmp_path / "quickdraw" / "simplified"
    folder.mkdir(parents=True)
    line = {"word": "cat", "key_id": "1", "drawing": [[[0, 255], [0, 100]]]}
    (folder / "cat.ndjson").write_text(json.dumps(line) + "\\n")
    cache.load_category("cat", root=tmp_path / "quickdraw")
    assert cache.cache_file("cat", 28).is_file()
    print("CACHE", settings.cache_dir())
"""


def test_this_session_does_not_use_the_user_cache():
    chosen = os.environ.get("DOODLELAB_TEST_CACHE")
    if chosen:
        assert settings.cache_dir() == Path(chosen).expanduser()
    else:
        assert not settings.cache_dir().is_relative_to(settings.user_cache_dir())


@pytest.mark.parametrize("test_cache", [False, True], ids=["temporary", "DOODLELAB_TEST_CACHE"])
def test_a_test_writes_nothing_under_home(tmp_path, test_cache):
    home, chosen = tmp_path / "home", tmp_path / "kept-cache"
    home.mkdir()
    (tmp_path / "test_child.py").write_text(CHILD_TEST)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DOODLELAB_CACHE", "DOODLELAB_TEST_CACHE", "XDG_CACHE_HOME")
    }
    env |= {"HOME": str(home)} | ({"DOODLELAB_TEST_CACHE": str(chosen)} if test_cache else {})
    argv = [
        "-q",
        "-s",
        "-p",
        "no:cacheprovider",
        "-p",
        "tests.conftest",
        "--rootdir",
        str(tmp_path),
        str(tmp_path / "test_child.py"),
    ]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *argv],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (home / ".cache" / "doodlelab").exists()
    used = Path(next(line for line in done.stdout.splitlines() if line.startswith("CACHE ")).split(" ", 1)[1])
    assert used == chosen if test_cache else not used.is_relative_to(home)
    assert any(chosen.rglob("manifest.json")) == test_cache
