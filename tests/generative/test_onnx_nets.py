"""The generators' networks through ONNX Runtime: the U-Net export predicts the same noise and G's export
draws the same images as the PyTorch networks at any batch size, a generator file with a matching export
samples through it (the same doodles), and a stale or missing export is never used."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from doodlelab.generative import onnx_nets  # noqa: E402
from doodlelab.generative.generator import DoodleGenerator  # noqa: E402
from doodlelab.modelfile import ModelFileError  # noqa: E402
from doodlelab.onnx_export import onnx_card_path  # noqa: E402


def copy_with_export(source, folder, export):
    """A copy of a model file (and card) in `folder` with its network's ONNX export (`export`) beside it."""
    weights = folder / source.name
    shutil.copy(source, weights)
    shutil.copy(source.with_suffix(".json"), weights.with_suffix(".json"))
    export(weights, DoodleGenerator(weights, engine="torch").net)
    return weights


@pytest.fixture(scope="module")
def exported(diffusion_file, tmp_path_factory):
    """A copy of the tiny diffusion file (and card) with its U-Net's ONNX export beside it."""
    return copy_with_export(diffusion_file, tmp_path_factory.mktemp("onnx"), onnx_nets.export_unet)


@pytest.fixture(scope="module")
def exported_gan(gan_file, tmp_path_factory):
    """A copy of the tiny GAN file (and card) with its generator's ONNX export beside it."""
    return copy_with_export(gan_file, tmp_path_factory.mktemp("onnx_gan"), onnx_nets.export_gan)


def test_the_export_predicts_the_same_noise_at_any_batch_size(exported):
    net = DoodleGenerator(exported, engine="torch").net
    onnx = onnx_nets.OnnxUNet(exported.with_suffix(".onnx"), net.num_classes)
    gen = torch.Generator().manual_seed(0)
    for b in (1, 5, 32):
        x = torch.randn(b, 1, 28, 28, generator=gen)
        t = torch.randint(1, 51, (b,), generator=gen)
        y = torch.randint(0, net.num_classes + 1, (b,), generator=gen)  # the last: "no label"
        with torch.no_grad():
            want = net(x, t, y)
        got = torch.from_numpy(onnx(x.numpy(), t.numpy(), y.numpy()))
        assert got.shape == want.shape == (b, 1, 28, 28) and got.dtype == torch.float32
        assert torch.allclose(got, want, atol=1e-4), (got - want).abs().max()
        assert want.abs().max() > 1e-3  # a network that predicts something, so the check means something


def test_the_card_ties_the_export_to_its_weights(exported):
    card = json.loads(onnx_card_path(exported.with_suffix(".onnx")).read_text())
    assert card["format"] == "doodlelab-diffusion-onnx/1" and card["weights"] == exported.name
    assert card["onnx_weights"] == "float16 where exact, else float32" and "CC BY 4.0" in card["attribution"]
    assert onnx_nets.matching_export(exported) == exported.with_suffix(".onnx")


def test_gs_export_draws_the_same_images_at_any_batch_size(exported_gan):
    g = DoodleGenerator(exported_gan, engine="torch").net
    onnx = onnx_nets.OnnxGAN(exported_gan.with_suffix(".onnx"), g.num_classes)
    rng = np.random.default_rng(0)
    for b in (1, 5, 32):
        z, y = rng.standard_normal((b, g.z_dim), dtype=np.float32), rng.integers(0, g.num_classes, b)
        with torch.no_grad():
            want = g(torch.from_numpy(z), torch.from_numpy(y)).numpy()
        got = onnx(z, y)
        assert got.shape == want.shape == (b, 1, 28, 28) and got.dtype == np.float32
        np.testing.assert_allclose(got, want, atol=1e-5)
        assert want.std() > 1e-3  # G draws something, so the check means something


def test_the_gan_card_ties_the_export_to_its_weights_and_names_classes_config_and_data(exported_gan):
    card = json.loads(onnx_card_path(exported_gan.with_suffix(".onnx")).read_text())
    weights_card = json.loads(exported_gan.with_suffix(".json").read_text())
    assert card["format"] == "doodlelab-gan-onnx/1" and card["weights"] == exported_gan.name
    assert card["classes"] == weights_card["classes"] and card["config"] == weights_card["config"]
    assert card["attribution"] == "Quick, Draw! dataset, Google Inc., CC BY 4.0"
    assert "Quick, Draw! dataset" in card["provenance"] and "doodlelab export onnx" in card["provenance"]
    assert set(card["inputs"]) == {"z", "y"} and set(card["output"]) == {"images"}
    assert onnx_nets.matching_export(exported_gan) == exported_gan.with_suffix(".onnx")


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
    assert onnx_nets.matching_export(weights) is None and DoodleGenerator(weights).engine == "torch"


def test_a_corrupt_export_is_a_clear_error(tmp_path):
    junk = tmp_path / "diffusion.onnx"
    junk.write_bytes(b"not an onnx model")
    with pytest.raises(ModelFileError, match="cannot load ONNX model"):
        onnx_nets.OnnxUNet(junk, 4)


def test_a_gan_samples_through_a_matching_export(exported_gan, gan_file):
    fast, slow = DoodleGenerator(exported_gan), DoodleGenerator(exported_gan, engine="torch")
    assert (fast.engine, slow.engine) == ("onnx", "torch")
    a, b = fast("square", n=8, seed=3), slow("square", n=8, seed=3)
    assert a.shape == (8, 28, 28) and np.abs(a.astype(int) - b).max() <= 1
    assert not np.array_equal(a, fast("square", n=8, seed=4))
    assert DoodleGenerator(gan_file).engine == "torch"  # no export beside the fixture's file
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
    half = files.save_model(
        tmp_path / "diffusion.safetensors", "diffusion", net, source.config, dtype=torch.float16
    )
    onnx_nets.export_unet(half, DoodleGenerator(half, engine="torch").net)
    inits = onnx.load(str(half.with_suffix(".onnx"))).graph.initializer
    kinds = {init.data_type for init in inits}
    assert TensorProto.FLOAT16 in kinds and TensorProto.FLOAT in kinds  # weights halved, constants kept
    halved = DoodleGenerator(half, engine="torch").net
    onnx = onnx_nets.OnnxUNet(half.with_suffix(".onnx"), net.num_classes)
    x, t = torch.randn(4, 1, 28, 28), torch.tensor([1, 10, 30, 50])
    y = torch.tensor([0, 1, 2, net.num_classes])
    with torch.no_grad():
        got = torch.from_numpy(onnx(x.numpy(), t.numpy(), y.numpy()))
        assert torch.allclose(got, halved(x, t, y), atol=1e-4)
