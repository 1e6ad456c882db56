"""Generation without PyTorch: the inference modules import no torch, and in a process where torch cannot
be imported the shipped generators draw, through ONNX Runtime and NumPy, the doodles the PyTorch networks
draw for the same seeds (up to one grey level of float rounding)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from doodlelab.generative.generator import MODELS, DoodleGenerator, shipped

pytest.importorskip("onnxruntime")

INFERENCE = (
    "doodlelab.generative.generator",
    "doodlelab.generative.sampling",
    "doodlelab.generative.scheduler",
    "doodlelab.generative.onnx_nets",
    "doodlelab.generative.files",
    "doodlelab.generative.config",
    "doodlelab.cli.generate",
)
DRAWS = {"gan": ("cat", 8, 5, None), "diffusion": ("cat", 4, 5, 10)}  # category, n, seed, steps

WITHOUT_TORCH = textwrap.dedent("""
    import sys
    sys.modules["torch"] = None  # `import torch` now raises ImportError, as in the base install
    import importlib
    from pathlib import Path

    import numpy as np

    for name in {modules!r}:
        importlib.import_module(name)
    from doodlelab.generative.generator import load

    for model, (category, n, seed, steps) in {draws!r}.items():
        generator = load(model)
        assert generator.engine == "onnx", generator.engine
        np.save(Path({out!r}) / f"{{model}}.npy", generator(category, n, seed, steps))
    leaked = sorted(m for m, v in sys.modules.items() if v is not None and m.split(".")[0] == "torch")
    assert not leaked, leaked
""")


@pytest.fixture(scope="module")
def drawn_without_torch(tmp_path_factory):
    """{model: images} drawn by the shipped generators in a subprocess that cannot import torch."""
    out = tmp_path_factory.mktemp("torchfree")
    code = WITHOUT_TORCH.format(modules=INFERENCE, draws=DRAWS, out=str(out))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return {model: np.load(out / f"{model}.npy") for model in DRAWS}


@pytest.mark.parametrize("model", MODELS)
def test_shipped_generators_draw_without_torch_what_torch_draws(model, drawn_without_torch, float32_torch):
    """Same seed, same doodles: the noise comes from NumPy on both paths, only the network's arithmetic
    differs (ONNX Runtime vs PyTorch, float32), so at most one grey level of 255 moves, and rarely."""
    category, n, seed, steps = DRAWS[model]
    torch_path = DoodleGenerator(shipped(model), engine="torch")
    assert torch_path.engine == "torch"
    want, got = torch_path(category, n, seed, steps), drawn_without_torch[model]
    assert got.shape == (n, 28, 28) and got.dtype == np.uint8
    diff = np.abs(got.astype(int) - want)
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01, (diff.max(), (diff > 0).mean())
    assert 3 < got.mean() < 128  # line drawings, not a blank or a black page


def test_the_shipped_gan_card_ties_its_onnx_export_to_its_weights():
    import json

    from doodlelab.onnx_export import export_matches, onnx_card_path

    path = shipped("gan").with_suffix(".onnx")
    card = json.loads(onnx_card_path(path).read_text(encoding="utf-8"))
    weights_card = json.loads(shipped("gan").with_suffix(".json").read_text(encoding="utf-8"))
    assert card["format"] == "doodlelab-gan-onnx/1" and card["weights"] == "gan.safetensors"
    assert card["classes"] == weights_card["classes"] and len(card["classes"]) == 345
    assert card["config"] == weights_card["config"] and card["inputs"]["z"].startswith("(B, 128)")
    assert card["attribution"] == "Quick, Draw! dataset, Google Inc., CC BY 4.0"
    assert "Quick, Draw! dataset, Google Inc., CC BY 4.0" in card["provenance"]
    assert export_matches(path, shipped("gan"))  # a stale export would be ignored: generate would need torch
