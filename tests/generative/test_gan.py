"""The conditional GAN: shapes, spectral norm and projection in D, the mode-seeking loss, seeds, resumable
training and warm starts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from doodlelab import modelfile
from doodlelab.classifier.config import ConfigError
from doodlelab.generative import gan, gan_training, sampling, training
from doodlelab.generative.generator import DoodleGenerator
from tests.generative.conftest import tiny_gan


def test_shapes_and_conditioning():
    torch.manual_seed(0)
    g, d = gan.Generator(5, z_dim=8, width=16), gan.Discriminator(5, width=8)
    z, y = torch.randn(4, 8), torch.tensor([0, 1, 2, 4])
    x = g(z, y)
    assert x.shape == (4, 1, 28, 28) and x.abs().max() <= 1
    assert d(x, y).shape == (4,)
    assert not torch.allclose(d(x, y), d(x, torch.tensor([1, 1, 1, 1])))  # projection on the label
    joined = gan.Generator(5, z_dim=8, width=16, embed_dim=4).eval()  # the label also joins z at the input
    assert not torch.allclose(joined(z, y), joined(z, torch.tensor([1, 1, 1, 1])))
    for bn in (g.bn0, g.bn1, g.bn2):  # class embeddings start as the identity (gamma 1, beta 0) for all
        bn.embed.weight.data.add_(torch.randn_like(bn.embed.weight) * 0.1)
    g.eval()
    assert not torch.allclose(g(z, y), g(z, torch.tensor([1, 1, 1, 1])))  # conditional batch norm


def test_discriminator_layers_are_spectrally_normalised():
    torch.manual_seed(0)
    d = gan.Discriminator(5, width=8)
    for _ in range(30):  # the power iteration converges as the network runs
        d(torch.randn(2, 1, 28, 28), torch.tensor([0, 1]))
    d.eval()
    for conv in d.convs:
        sigma = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2)
        assert abs(float(sigma) - 1) < 0.05


def test_training_and_resume(shapes_data, tmp_path, gan_file):
    card = modelfile.load_card(gan_file)
    assert card["kind"] == "gan" and card["steps_trained"] == 6
    assert {"loss_d", "loss_g", "aux_real", "aux_fake", "twin", "pair_gap"} <= set(card["history"])
    assert (gan_file.parent / "curves.png").is_file() and (gan_file.parent / "samples_000006.png").is_file()
    data, cache = shapes_data
    kw = dict(root=data / "quickdraw", cache_root=cache, progress=False)
    gan_training.train(tiny_gan(), tmp_path, until_step=3, **kw)
    gan_training.train(tiny_gan(), tmp_path, **kw)
    a, _ = modelfile.load(gan_file)
    b, _ = modelfile.load(tmp_path / "gan.safetensors")
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_augmentation_changes_what_d_sees(shapes_data, tmp_path):
    data, cache = shapes_data
    kw = dict(root=data / "quickdraw", cache_root=cache, progress=False)
    weights = {}
    for augment in (True, False):
        out = tmp_path / str(augment)
        state = gan_training.train(tiny_gan(steps=2, checkpoint_every=2, augment=augment), out, **kw)
        assert state["step"] == 2 and np.isfinite(state["history"]["loss_d"]).all()
        assert modelfile.load_card(out / "gan.safetensors")["config"]["augment"] is augment
        weights[augment] = modelfile.load(out / "gan.safetensors")[0]
    assert any(not np.array_equal(weights[True][k], weights[False][k]) for k in weights[True])


def test_seeds_differ_and_repeat(gan_file):
    gen = DoodleGenerator(gan_file)
    a = gen("square", n=4, seed=1)
    assert a.shape == (4, 28, 28) and a.dtype == np.uint8
    assert np.array_equal(a, gen("square", n=4, seed=1))
    assert not np.array_equal(a, gen("square", n=4, seed=2))
    assert len({img.tobytes() for img in a}) == 4  # four different drawings in one call


def test_mode_seeking_loss_weighs_a_collapsed_pair():
    z1, z2 = torch.zeros(4, 8), torch.ones(4, 8)  # |z1 - z2| = 1 for every pair
    x1 = torch.zeros(4, 1, 28, 28)
    x2 = torch.full((4, 1, 28, 28), 0.5)
    x2[3] = 0.01  # the last pair is almost one drawing twice
    loss, ratio = gan_training.mode_seeking(x1, x2, z1, z2)
    assert ratio == pytest.approx(1.51 / 4)
    assert loss == pytest.approx((3 / 0.55 + 1 / 0.06) / 4)  # mean of 1 / (r + 0.05) over the pairs
    assert loss > 2 / ratio  # 1/r of the batch's mean ratio (MSGAN's form) barely notices the collapsed pair
    x2.requires_grad_(True)
    gan_training.mode_seeking(x1, x2, z1, z2)[0].backward()
    assert x2.grad[3].abs().sum() > 10 * x2.grad[0].abs().sum()  # the collapsed pair is pushed apart hardest


def test_warm_start_from_a_run_without_a_twin(shapes_data, tmp_path, gan_file):
    stored, meta = modelfile.load(gan_file.parent / training.LAST)
    old = {k: v for k, v in stored.items() if not k.startswith("twin.")}  # as runs before the twin
    groups = {k: v for k, v in meta["param_groups"].items() if k != "opt_twin"}
    modelfile.save(tmp_path / "old.safetensors", old, metadata=meta | {"param_groups": groups})
    target = gan_training.warm_start(
        tmp_path / "old.safetensors", tmp_path / "new", mode_seeking=2.0, twin=0.5
    )
    data, cache = shapes_data
    state = gan_training.train(
        tiny_gan(steps=9, mode_seeking=2.0, twin=0.5),
        target.parent,
        root=data / "quickdraw",
        cache_root=cache,
        progress=False,
    )
    assert state["step"] == 9 and state["history"]["step"] == [3, 6, 9]
    card = modelfile.load_card(target.parent / "gan.safetensors")
    was, now = {"mode_seeking": 1.0, "twin": 0.0}, {"mode_seeking": 2.0, "twin": 0.5}
    source = str(tmp_path / "old.safetensors")
    assert card["warm_starts"] == [{"step": 6, "from": source, "was": was, "now": now}]
    with pytest.raises(modelfile.ModelFileError, match="not a gan training checkpoint"):
        gan_training.warm_start(gan_file, tmp_path / "other")  # a model file, not a checkpoint


def test_diff_augment_shifts_and_blanks_without_stopping_gradients():
    torch.manual_seed(0)
    x = -torch.ones(64, 1, 28, 28)
    x[:, :, 12:16, 12:16] = 1  # a 4x4 ink square in the middle of every image
    x.requires_grad_(True)
    shifted = gan_training.diff_augment(x, shift=3, cut=0)
    rows, cols = (shifted[:, 0] > 0).nonzero()[:, 1:].T.reshape(2, 64, 16)
    assert (shifted > 0).sum((1, 2, 3)).eq(16).all()  # moved whole: nothing falls off the edge
    assert rows.min(1).values.sub(12).abs().max() == 3 and cols.min(1).values.sub(12).abs().max() == 3
    assert len(set(zip(rows.min(1).values.tolist(), cols.min(1).values.tolist()))) > 20  # per image
    blanked = gan_training.diff_augment(x, shift=0, cut=14)
    changed = (blanked != x).sum((1, 2, 3))
    assert changed.max() == 16 and changed.min() == 0  # the square is blanked wholly, partly or not
    assert ((blanked == x) | (blanked == -1)).all()  # blanking paints background only
    ink = torch.ones(32, 1, 28, 28, requires_grad=True)
    out = gan_training.diff_augment(ink, shift=0, cut=14)
    holes = (out < 0).sum((1, 2, 3))
    assert holes.max() == 14 * 14 and holes.min() < 14 * 14  # a 14x14 square, clipped at the edges
    out.sum().backward()
    assert torch.equal(ink.grad, (out > 0).float())  # gradients reach every pixel that is kept


def test_truncated_noise_is_bounded_seeded_and_otherwise_normal():
    plain, cut = sampling.gan_noise(512, 64, seed=3), sampling.gan_noise(512, 64, seed=3, truncation=1.0)
    assert plain.dtype == np.float32 and plain.shape == (512, 64)
    assert np.array_equal(plain, sampling.gan_noise(512, 64, 3)) and np.array_equal(
        cut, sampling.gan_noise(512, 64, 3, 1.0)
    )
    assert np.abs(plain).max() > 3 and np.abs(cut).max() <= 1.0
    inside = np.abs(plain) <= 1.0
    assert np.array_equal(cut[inside], plain[inside])  # only the entries beyond the bound are drawn again
    assert cut.std() == pytest.approx(0.54, abs=0.02)  # the std of N(0, 1) truncated to [-1, 1]
    with pytest.raises(ConfigError, match="truncation"):
        tiny_gan(truncation=0.1)  # so tight that redrawing would hardly end


def test_truncation_is_stored_and_used_by_the_generator(gan_file, tmp_path):
    from doodlelab.generative import files

    gen = DoodleGenerator(gan_file)
    config = gen.config
    config.truncation = 0.5
    files.save_model(tmp_path / "gan.safetensors", "gan", gen.net, config)
    truncated = DoodleGenerator(tmp_path / "gan.safetensors")
    assert truncated.config.truncation == 0.5
    assert not np.array_equal(truncated("square", 4, seed=1), DoodleGenerator(gan_file)("square", 4, seed=1))


def test_packed_discriminator_judges_pairs_of_one_label():
    torch.manual_seed(0)
    x = torch.randn(6, 1, 28, 28)
    pairs = gan_training.packed(x, 2)
    assert pairs.shape == (3, 2, 28, 28)
    assert torch.equal(pairs[1, 0], x[1, 0]) and torch.equal(pairs[1, 1], x[4, 0])  # rows i and i + B/2
    assert gan_training.packed(x, 1) is x
    d = gan.Discriminator(5, width=8, pack=2)
    y = torch.tensor([0, 3, 4])
    assert d(pairs, y).shape == (3,)
    twice = torch.cat([x[:3], x[:3]])  # a "pair" that is one drawing twice looks different to D
    assert not torch.allclose(d(gan_training.packed(twice, 2), y), d(pairs, y))
    with pytest.raises(ConfigError, match="pack"):
        tiny_gan(pack=3)


def test_fine_tune_from_a_generator_file_with_a_packed_d(shapes_data, tmp_path, gan_file):
    """The shipped GAN keeps no D: a run starts from its G alone; D (of pairs) learns alone for d_warmup."""
    config = tiny_gan(pack=2, d_warmup=3, steps=6)
    target = gan_training.start_from_generator(gan_file, tmp_path / "run", config)
    before, _ = modelfile.load(gan_file)
    stored, meta = modelfile.load(target)
    assert all(
        np.array_equal(stored["g." + k], v) and np.array_equal(stored["ema.model." + k], v)
        for k, v in before.items()
    )
    assert stored["d.convs.0.parametrizations.weight.original"].shape[1] == 2  # D's input: two drawings
    data, cache = shapes_data
    kw = dict(root=data / "quickdraw", cache_root=cache, progress=False)
    gan_training.train(config, target.parent, until_step=3, **kw)
    after_warmup, _ = modelfile.load(target)
    weights = [k for k in before if "running" not in k and "num_batches" not in k]  # not BN statistics
    assert all(np.array_equal(after_warmup["g." + k], before[k]) for k in weights)  # G waited
    assert all(np.array_equal(after_warmup["ema.model." + k], v) for k, v in before.items())
    assert not np.array_equal(
        after_warmup["d.psi.parametrizations.weight.original"],
        stored["d.psi.parametrizations.weight.original"],
    )  # D learnt
    state = gan_training.train(config, target.parent, **kw)
    assert state["step"] == 6 and np.isfinite(state["history"]["loss_g"]).all()
    tuned, _ = modelfile.load(target.parent / "gan.safetensors")
    assert any(not np.array_equal(tuned[k], before[k]) for k in before)  # then G learnt too
    card = modelfile.load_card(target.parent / "gan.safetensors")
    assert card["config"]["pack"] == 2
    start = card["warm_starts"][0]
    assert start["from"] == str(gan_file) and start["steps_trained"] == 6
    assert start["was"]["pack"] == 1 and start["now"]["pack"] == 2
    with pytest.raises(modelfile.ModelFileError, match="g_width"):
        gan_training.start_from_generator(gan_file, tmp_path / "other", tiny_gan(g_width=32))


def test_pair_head_judges_how_far_apart_two_drawings_of_a_label_are():
    torch.manual_seed(0)
    d = gan.Discriminator(5, width=8, pair_head=True)
    x, y = torch.randn(6, 1, 28, 28), torch.tensor([0, 3, 4, 0, 3, 4])  # rows i and i + 3 share a label
    h = d.features(x)
    assert d.pair_score(h, y).shape == (3,)
    same = d.features(torch.cat([x[:3], x[:3]]))  # one drawing twice: a gap of zero, whatever the drawing
    assert torch.allclose(d.pair_score(same, y), d.pair_score(d.features(torch.cat([x[3:], x[3:]])), y))
    assert not torch.allclose(d.pair_score(same, y), d.pair_score(h, y))
    assert not torch.allclose(d.pair_score(h, y), d.pair_score(h, torch.tensor([1, 1, 1, 1, 1, 1])))
    assert not hasattr(gan.Discriminator(5, width=8), "pair_psi")  # off: D and its checkpoints as before
    with pytest.raises(ConfigError, match="pair_weight"):
        tiny_gan(pair_weight=1.0, pack=2)
    with pytest.raises(ConfigError, match="pair_weight"):
        tiny_gan(pair_weight=-1.0)


def test_training_with_the_pair_head_learns_it_and_resumes(shapes_data, tmp_path):
    """The pair head trains on real same-label pairs and G's pairs; resuming gives the same weights."""
    data, cache = shapes_data
    kw = dict(root=data / "quickdraw", cache_root=cache, progress=False)
    config = tiny_gan(pair_weight=1.0)
    gan_training.train(config, tmp_path / "a", until_step=3, **kw)
    first, _ = modelfile.load(tmp_path / "a" / training.LAST)
    state = gan_training.train(config, tmp_path / "a", **kw)
    assert state["step"] == 6 and np.isfinite(state["history"]["loss_d"]).all()
    last, _ = modelfile.load(tmp_path / "a" / training.LAST)
    key = "d.pair_psi.parametrizations.weight.original"
    assert not np.array_equal(first[key], last[key])  # the head learnt
    gan_training.train(config, tmp_path / "b", **kw)
    again, _ = modelfile.load(tmp_path / "b" / "gan.safetensors")
    final, _ = modelfile.load(tmp_path / "a" / "gan.safetensors")
    assert all(np.array_equal(final[k], again[k]) for k in final)
    assert modelfile.load_card(tmp_path / "a" / "gan.safetensors")["config"]["pair_weight"] == 1.0


def test_warm_start_reweighs_the_pair_head_but_cannot_add_it(shapes_data, tmp_path, gan_file):
    data, cache = shapes_data
    kw = dict(root=data / "quickdraw", cache_root=cache, progress=False)
    gan_training.train(tiny_gan(pair_weight=0.3, steps=3), tmp_path / "a", **kw)
    target = gan_training.warm_start(tmp_path / "a" / training.LAST, tmp_path / "b", pair_weight=1.0)
    state = gan_training.train(tiny_gan(pair_weight=1.0, steps=6), target.parent, **kw)
    assert state["step"] == 6
    card = modelfile.load_card(target.parent / "gan.safetensors")
    assert card["warm_starts"][0]["was"] == {"pair_weight": 0.3} and card["config"]["pair_weight"] == 1.0
    with pytest.raises(ConfigError, match="pair head"):  # the run behind gan_file has no head to reweigh
        gan_training.warm_start(gan_file.parent / training.LAST, tmp_path / "c", pair_weight=1.0)
