"""The scratch network is pure NumPy: importing and using it never imports torch."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import doodlelab.scratch

CODE = """
import sys
import numpy as np
import doodlelab.scratch, doodlelab.scratch.train, doodlelab.data.images
import doodlelab.cli.main, doodlelab.cli.mlp, doodlelab.cli.predict
from doodlelab.scratch import mlp
mlp((784, 8, 10)).forward(np.zeros((1, 784), np.float32))
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "sklearn", "matplotlib"))
assert not bad, bad
"""


def test_importing_scratch_does_not_import_torch():
    result = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_no_torch_import_in_the_scratch_sources():
    imports = re.compile(r"^\s*(import|from)\s+torch\b|import_module\(.torch", re.MULTILINE)
    for path in Path(doodlelab.scratch.__file__).parent.glob("*.py"):
        assert not imports.search(path.read_text()), path
