"""The U-Net through ONNX Runtime: the export predicts the same noise as the PyTorch network at any batch
size, a generator file with a matching export samples through it (the same doodles), and a stale or
missing export is never used."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from doodlelab.classifier.export import onnx_card_path  # noqa: E402
from doodlelab.generative import onnx_unet  # noqa: E402
from doodlelab.generative.generator import DoodleGenerator  # noqa: E402
from doodlelab.modelfile import ModelFileError  # noqa: E402


@pytest.fixture(scope="module")
def exported(diffusion_file, tmp_path_factory):
    """A copy of the tiny diffusion file (and card) with its ONNX export beside it."""
    folder = tmp_path_factory.mktemp("onnx")
    weights = folder / diffusion_file.name
    shutil.copy(diffusion_file, weights)
    shutil.copy(diffusion_file.with_suffix(".json"), weights.with_suffix(".json"))
    onnx_unet.export(weights, DoodleGenerator(weights, engine="torch").net)
    return weights


def test_the_export_predicts_the_same_noise_at_any_batch_size(exported):
    net = DoodleGenerator(exported, engine="torch").net
    onnx = onnx_unet.OnnxUNet(exported.with_suffix(".onnx"), net.num_classes)
    assert not list(onnx.parameters())
    gen = torch.Generator().manual_seed(0)
    for b in (1, 5, 32):
        x = torch.randn(b, 1, 28, 28, generator=gen)
        t = torch.randint(1, 51, (b,), generator=gen)
        y = torch.randint(0, net.num_classes + 1, (b,), generator=gen)  # the last: "no label"
        with torch.no_grad():
            want = net(x, t, y)
        got = onnx(x, t, y)
        assert got.shape == want.shape == (b, 1, 28, 28) and got.dtype == torch.float32
        assert torch.allclose(got, want, atol=1e-4), (got - want).abs().max()
        assert want.abs().max() > 1e-3  # a network that predicts something, so the check means something


def test_the_card_ties_the_export_to_its_weights(exported):
    card = json.loads(onnx_card_path(exported.with_suffix(".onnx")).read_text())
    assert card["format"] == "doodlelab-diffusion-onnx/1" and card["weights"] == exported.name
    assert card["onnx_weights"] == "float16 where exact, else float32" and "CC BY 4.0" in card["attribution"]
    assert onnx_unet.matching_export(exported) == exported.with_suffix(".onnx")


def test_a_generator_samples_through_a_matching_export(exported, float32_torch):
    fast, slow = DoodleGenerator(exported), DoodleGenerator(exported, engine="torch")
    assert (fast.engine, slow.engine) == ("onnx", "torch")
    frames = []
    a = fast("square", n=6, seed=3, steps=20, guidance=2, frames=lambda i, x0: frames.append(i))
    b = slow("square", n=6, seed=3, steps=20, guidance=2)
    assert a.shape == (6, 28, 28) and a.dtype == np.uint8 and frames == list(range(20))
    assert np.abs(a.astype(int) - b).max() <= 1 and (a != b).mean() < 0.01  # float rounding only
    assert not np.array_equal(a, fast("square", n=6, seed=4, steps=20, guidance=2))


def test_a_stale_or_missing_export_is_not_used(exported, tmp_path):
    weights = tmp_path / exported.name
    shutil.copy(exported, weights)
    shutil.copy(exported.with_suffix(".json"), weights.with_suffix(".json"))
    assert DoodleGenerator(weights).engine == "torch"  # no export beside it
    with pytest.raises(ModelFileError, match="no ONNX export"):
        DoodleGenerator(weights, engine="onnx")
    shutil.copy(exported.with_suffix(".onnx"), weights.with_suffix(".onnx"))
    card = json.loads(onnx_card_path(exported.with_suffix(".onnx")).read_text())
    onnx_card_path(weights.with_suffix(".onnx")).write_text(json.dumps(card))
    assert DoodleGenerator(weights).engine == "onnx"  # the same weights: used
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # other weights now (one bit of the last float changed)
    weights.write_bytes(bytes(data))
    assert onnx_unet.matching_export(weights) is None and DoodleGenerator(weights).engine == "torch"


def test_a_corrupt_export_is_a_clear_error(tmp_path):
    junk = tmp_path / "diffusion.onnx"
    junk.write_bytes(b"not an onnx model")
    with pytest.raises(ModelFileError, match="cannot load ONNX model"):
        onnx_unet.OnnxUNet(junk, 4)


def test_the_gan_has_no_onnx_engine(gan_file):
    assert DoodleGenerator(gan_file).engine == "torch"
    with pytest.raises(ValueError, match="engine must be one of"):
        DoodleGenerator(gan_file, engine="tensorrt")


def test_a_float16_file_exports_float16_weights_and_keeps_folded_constants_exact(exported, tmp_path):
    """Weights float16 holds exactly are stored as float16; the rest (folded constants such as the timestep
    frequencies) stay float32, so the export computes what a float32 export does."""
    import onnx
    from onnx import TensorProto

    from doodlelab.generative import files

    source = DoodleGenerator(exported, engine="torch")
    net = source.net
    half = files.save_model(tmp_path / "diffusion.safetensors", "diffusion", net, source.config,
                            dtype=torch.float16)
    onnx_unet.export(half, DoodleGenerator(half, engine="torch").net)
    inits = onnx.load(str(half.with_suffix(".onnx"))).graph.initializer
    kinds = {init.data_type for init in inits}
    assert TensorProto.FLOAT16 in kinds and TensorProto.FLOAT in kinds  # weights halved, constants kept
    halved = DoodleGenerator(half, engine="torch").net
    onnx = onnx_unet.OnnxUNet(half.with_suffix(".onnx"), net.num_classes)
    x, t = torch.randn(4, 1, 28, 28), torch.tensor([1, 10, 30, 50])
    y = torch.tensor([0, 1, 2, net.num_classes])
    with torch.no_grad():
        assert torch.allclose(onnx(x, t, y), halved(x, t, y), atol=1e-4)

