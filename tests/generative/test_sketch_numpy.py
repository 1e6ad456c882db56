"""The stroke model without PyTorch: `sketch_numpy.NumpySketchNet` computes what `SketchTransformer`
computes (full pass, key-value cache, heads), and a process that cannot import torch draws and completes
with a model file exactly the strokes the PyTorch network draws for the same seeds."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from doodlelab import modelfile
from doodlelab.generative.sketch_config import SketchConfig
from doodlelab.generative.sketch_model import OnNumpy, SketchTransformer
from doodlelab.generative.sketch_numpy import NumpySketchNet, gelu
from doodlelab.generative.sketch_sample import Sketcher, load
from tests.classifier.conftest import shapes_data  # noqa: F401
from tests.generative.test_sketch import sketch_run, tiny_sketch  # noqa: F401

SQUARE = [[[10, 200, 200], [10, 10, 200]]]  # two sides of a square, simplified format
CALLS = textwrap.dedent("""
    import json, sys
    import numpy as np
    from doodlelab.generative.sketch_sample import load

    sketcher = load(sys.argv[1])
    square = [np.array(s, np.float64).T for s in json.loads(sys.argv[2])]
    drawn = sketcher.generate("circle", 4, seed=3) + sketcher.complete(square, False, "square", 3, seed=5)
    drawn += sketcher.generate(None, 2, seed=[7, 1], temperature=1.3, top_p=0.8)
    print(json.dumps([[s.tolist() for s in d] for d in drawn]))
""")


def random_network() -> SketchTransformer:
    """A small network with weights large enough (std 0.1) that any difference would show."""
    torch.manual_seed(0)
    net = SketchTransformer(tiny_sketch(width=32, heads=4, layers=2, max_len=40), n_classes=4).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.1)
    return net


def test_numpy_network_computes_what_the_pytorch_one_does():
    net = random_network()
    mine = NumpySketchNet(
        {k: v.numpy() for k, v in net.state_dict().items()},
        tiny_sketch(width=32, heads=4, layers=2, max_len=40),
        4,
    )
    theirs = OnNumpy(net)
    rng = np.random.default_rng(0)
    inputs = np.stack(
        [rng.integers(0, 65, (3, 30)), rng.integers(0, 65, (3, 30)), rng.integers(0, 4, (3, 30))], -1
    )
    where, labels = rng.integers(0, 33, (3, 30, 2)), np.array([0, 2, 4])  # 4: "no category"
    full = theirs.hidden(inputs, where, labels)
    assert np.abs(full).max() > 0.5
    np.testing.assert_allclose(mine.hidden(inputs, where, labels), full, atol=2e-5)
    cache = [[] for _ in mine.blocks]  # a prefill of 7 positions, then one at a time
    steps = [mine.hidden(inputs[:, :7], where[:, :7], labels, cache)]
    steps += [mine.hidden(inputs[:, t : t + 1], where[:, t : t + 1], labels, cache, t) for t in range(7, 30)]
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=2e-5)
    dx, dy = rng.integers(0, 65, (3, 30)), rng.integers(0, 65, (3, 30))
    for a, b in zip(mine.heads(full, dx, dy), theirs.heads(full, dx, dy)):
        np.testing.assert_allclose(a, b, atol=2e-5)
    x = np.linspace(-6, 6, 1001, dtype=np.float32)
    np.testing.assert_allclose(gelu(x), torch.nn.functional.gelu(torch.from_numpy(x)).numpy(), atol=1e-6)


def test_weights_that_do_not_fit_the_config_are_refused():
    net = random_network()
    config = tiny_sketch(width=32, heads=4, layers=2, max_len=40)
    weights = {k: v.numpy() for k, v in net.state_dict().items()}
    with pytest.raises(ValueError, match="class_in.weight"):
        NumpySketchNet(weights, config, 5)  # one category more than the file has rows for
    with pytest.raises(ValueError, match="blocks.1"):
        NumpySketchNet({k: v for k, v in weights.items() if not k.startswith("blocks.1.")}, config, 4)


@pytest.mark.slow
def test_without_pytorch_the_model_file_draws_what_the_pytorch_network_draws(sketch_run):  # noqa: F811
    path = sketch_run[0] / "sketch.safetensors"
    blocked = "import sys\nsys.modules['torch'] = None  # `import torch` raises, as in the base install\n"
    done = subprocess.run(
        [sys.executable, "-c", blocked + CALLS, str(path), json.dumps(SQUARE)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    arrays, meta = modelfile.load_float32(path)
    config = SketchConfig.from_dict(meta["config"])
    classes = load(path).classes
    net = SketchTransformer(config, len(classes))
    net.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()})
    reference = Sketcher(OnNumpy(net), config, classes, path)
    square = [np.array(s, np.float64).T for s in SQUARE]
    drawn = reference.generate("circle", 4, seed=3) + reference.complete(square, False, "square", 3, seed=5)
    drawn += reference.generate(None, 2, seed=[7, 1], temperature=1.3, top_p=0.8)
    assert json.loads(done.stdout) == [[s.tolist() for s in d] for d in drawn]
    assert sum(len(s) for d in drawn for s in d) > 9 * 2  # they drew something
