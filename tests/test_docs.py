"""The documentation: the site builds in strict mode with no network, its examples run, the commands it
shows exist, and the README stays a short front page whose figures are the model cards'."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from doodlelab import settings

ROOT = settings.REPO_ROOT
PAGES = sorted((ROOT / "docs").rglob("*.md"))
SOURCES = [ROOT / "README.md", *PAGES]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def _hooks():
    spec = importlib.util.spec_from_file_location("mkdocs_hooks", ROOT / "scripts" / "mkdocs_hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def blocks(language: str) -> list[tuple[str, str]]:
    """(id, code) of every fenced block of `language` in the README and docs/."""
    found = []
    for path in SOURCES:
        for i, match in enumerate(m for m in FENCE.finditer(path.read_text()) if m.group(1) == language):
            found.append((f"{path.relative_to(ROOT)}#{i}", match.group(2)))
    return found


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[docs]')")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def test_site_builds_strict_with_twelve_pages_and_nothing_from_a_cdn(site):
    pages = list(site.rglob("index.html"))
    assert len(pages) >= 12
    remote = re.compile(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=\"(?:https?:)?//", re.I)
    for page in pages:
        html = page.read_text()
        assert not remote.search(html), f"{page.relative_to(site)} loads {remote.search(html).group(0)}"
        assert "fonts.googleapis" not in html and "fonts.gstatic" not in html


def test_cli_reference_is_every_parser(site):
    from doodlelab.cli.main import build_parser

    html = (site / "use" / "cli" / "index.html").read_text()
    for words, parser in _hooks().commands(build_parser()):
        assert f"usage: {' '.join(words)}" in html, f"{' '.join(words)} is missing from the CLI page"
        for action in parser._actions:
            for flag in action.option_strings:
                assert flag in html


def test_model_pages_show_the_cards(site):
    hooks = _hooks()
    for name, page in [
        ("classifier", "classifier"),
        ("classifier.int8", "classifier"),
        ("diffusion", "diffusion"),
        ("gan", "gan"),
        ("sketch", "sketch"),
        ("mlp_digits", "digits"),
    ]:
        html = (site / "models" / page / "index.html").read_text()
        for _, value in hooks.card_rows(name):
            assert value.replace("`", "").split(" (")[0] in html, (name, value)


@pytest.mark.parametrize(("where", "code"), blocks("python"), ids=[w for w, _ in blocks("python")])
def test_python_examples_run(where, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    exec(compile(code, where, "exec"), {"__name__": "__docs__"})


def _command_lines(code: str) -> list[list[str]]:
    """The shell words of each `doodlelab ...` or `python X.py ...` command of a bash block (continuations
    joined, comments dropped)."""
    commands = []
    for line in code.replace("\\\n", " ").splitlines():
        for command in line.split("&&"):
            words = shlex.split(command, comments=True)
            if words[:1] == ["doodlelab"] or (words[:1] == ["python"] and words[1].endswith(".py")):
                commands.append(words)
    return commands


def test_bash_examples_use_real_commands_flags_and_scripts():
    from doodlelab.cli.main import build_parser

    parsers = {words: parser for words, parser in _hooks().commands(build_parser())}
    checked = 0
    for where, code in blocks("bash"):
        for words in _command_lines(code):
            checked += 1
            if words[0] == "python":
                assert (ROOT / words[1]).is_file(), f"{where}: {words[1]} does not exist"
                continue
            command, rest = ("doodlelab",), words[1:]
            while rest and command + (rest[0],) in parsers:
                command, rest = command + (rest[0],), rest[1:]
            options = {flag for action in parsers[command]._actions for flag in action.option_strings}
            for flag in (word.split("=")[0] for word in rest if word.startswith("--")):
                assert flag in options, f"{where}: `{' '.join(command)}` has no {flag}"
    assert checked >= 40


def test_readme_is_a_short_front_page_with_the_cards_figures():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    rows = [line for line in readme.splitlines() if line.startswith("| ") and "MB |" in line]
    hooks = _hooks()
    for name in ("classifier", "classifier.int8", "diffusion", "gan", "sketch", "mlp_digits"):
        metric, size = hooks.headline(name)
        assert any(metric in row and f"| {size} |" in row for row in rows), (
            f"README's models table: {name} should say {metric!r} and {size!r} (its card and file)"
        )
    for target in re.findall(r"\]\(((?:docs/)[^)#]+)", readme):
        assert (ROOT / target).is_file(), f"README links to a missing {target}"


def test_architecture_map_names_real_files():
    text = (ROOT / "docs" / "architecture.md").read_text()
    tree = re.search(r"```text\n(.*?)```", text, re.S).group(1)
    stack: list[str] = []
    for line in tree.splitlines():
        match = re.match(r"^( {0,6})(\S+/|\S+\.py)(?:\s|$)", line)
        if not match:
            continue
        stack = stack[: len(match.group(1)) // 2] + [match.group(2)]
        assert (ROOT / "".join(stack)).exists(), f"docs/architecture.md names a missing {''.join(stack)}"


def _table_row(text: str, label: str) -> list[str]:
    """The cells after the first of the Markdown table row of `text` whose first cell is `label`."""
    row = next(line for line in text.splitlines() if line.startswith(f"| {label} |"))
    return [cell.strip() for cell in row.strip("|").split("|")[1:]]


def test_the_game_figures_are_game_json():
    settings_file = ROOT / "doodlelab" / "web" / "static" / "game.json"
    game = json.loads(settings_file.read_text())
    text = (ROOT / "docs" / "use" / "web.md").read_text()
    runs = [game["validation"], game["validation_easy"]]
    assert _table_row(text, "threshold") == [f"{game['threshold']:g}"] * 2
    expected = {
        "precision of the call": "precision",
        "drawings the game recognizes (win rate)": "win_rate",
        "median share of the ink at the call": "median_share_at_call",
    }
    for label, key in expected.items():
        assert _table_row(text, label) == [f"{run[key]:.1%}".replace(".0%", "%") for run in runs], label
    assert f"{game['validation']['drawings']:,} drawings" in text
    assert f"{len(game['easy'])} categories" in text


def test_the_limits_tables_are_the_limits_module():
    from doodlelab.data import limits

    for page in ("use/http.md", "learn/strokes.md"):
        text = (ROOT / "docs" / page).read_text()
        assert _table_row(text, "strokes in a drawing") == [f"at most {limits.MAX_STROKES:,}"], page
        assert _table_row(text, "points in a drawing (all strokes together)") == [
            f"at least 1, at most {limits.MAX_POINTS:,}"
        ], page
        assert _table_row(text, "coordinates") == [f"finite numbers within {limits.coordinate_range()}"], page
        timestamps = f"finite, 0 to {limits.MAX_TIMESTAMP:g} ms".replace("+", "")  # 1e13, not 1e+13
        assert _table_row(text, "timestamps (raw format)") == [timestamps], page
        assert f"at least {limits.MIN_EXTENT:g} units" in text and f"{limits.MAX_INK_LENGTH:,} units" in text
        assert f"{limits.MAX_PIXELS / 1e6:g} megapixels" in text, page
    http = (ROOT / "docs" / "use" / "http.md").read_text()
    assert f"{limits.MAX_JSON_BYTES // 2**20} MiB" in _table_row(http, "one JSON request body")[0]
    assert f"{limits.MAX_UPLOAD_BYTES // 2**20} MiB" in _table_row(http, "one multipart upload (an image)")[0]
