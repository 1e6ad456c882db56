"""Project hygiene: lint, the README's commands and CI, no data in the repository, no work at import."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from doodlelab import settings

ROOT = settings.REPO_ROOT


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Quickstart.*?```(?:bash|sh)?\n(.*?)```", text, re.S)
    assert block, "README needs a Quickstart with one code block"
    return [line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]


def test_ruff_check_is_clean():
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]')")
    result = subprocess.run([ruff, "check", str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean():
    """The code is in `ruff format` style (pyproject.toml's line length); `ruff format .` fixes a failure."""
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]')")
    result = subprocess.run([ruff, "format", "--check", str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_quickstart_is_two_commands_and_ci_runs_the_second():
    commands = readme_commands()
    assert len(commands) == 2
    assert "torch" not in commands[0]  # the app installs and starts without PyTorch
    assert commands[1].startswith("python3 -m pip install torch==2.13.0 ")  # CPU wheel first: no CUDA
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert commands[1] in ci


def test_no_dataset_files_in_the_package():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    assert not [p for p in tracked if p.endswith((".ndjson", ".bin")) or p.endswith("bitmaps.npy")]


def test_importing_the_package_does_no_work():
    code = (
        "import sys, doodlelab, doodlelab.cli.main, doodlelab.data.strokes, doodlelab.data.cache;"
        "heavy = {'torch', 'matplotlib', 'tqdm'} & set(sys.modules); print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
