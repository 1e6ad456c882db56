"""The stroke model: stroke-5 tokens, network shapes, learning, seeded sampling, resumable training and the
model file (a tiny model trained on the synthetic four shapes: real files, real loop, a few steps)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from doodlelab import modelfile, settings
from doodlelab.generative import sketch_data as sd
from doodlelab.generative.sketch_config import SketchConfig
from doodlelab.generative.sketch_model import OnNumpy, SketchTransformer
from doodlelab.generative.sketch_moves import draw
from doodlelab.generative.sketch_sample import load
from tests.classifier.conftest import SHAPES, shapes_data  # noqa: F401


def tiny_sketch(**changes) -> SketchConfig:
    values = dict(
        head="tokens",  # the mixture head's own tests pass head="mixture"
        categories=SHAPES,
        grid_size=32,
        max_len=64,
        width=16,
        layers=1,
        heads=2,
        steps=6,
        batch_size=16,
        warmup=2,
        checkpoint_every=3,
        val_size=16,
        bf16=False,
        threads=1,
    )
    return SketchConfig(**(values | changes))


@pytest.fixture(scope="session")
def sketch_run(shapes_data, tmp_path_factory):  # noqa: F811
    """(run folder, data dir, cache dir) of a tiny stroke model trained for 6 steps on the shapes."""
    from doodlelab.generative.sketch_train import train

    data, cache = shapes_data
    out = tmp_path_factory.mktemp("sketch")
    train(tiny_sketch(), out, root=data / "quickdraw", cache_root=cache, progress=False)
    return out, data, cache


def test_strokes_to_rows_and_back():
    drawing = [np.array([[0.0, 0.0], [255.0, 10.0], [255.0, 10.0]]), np.array([[100.0, 255.0]])]
    cells = sd.to_grid(drawing, 32)
    assert [c.tolist() for c in cells] == [[[0, 0], [32, 1]], [[13, 32]]]  # repeat dropped, rounded
    rows = sd.encode(cells)
    assert rows.tolist() == [[0, 0, sd.PEN_DOWN], [32, 1, sd.PEN_UP], [-19, 31, sd.PEN_END]]
    assert [c.tolist() for c in sd.decode(rows)] == [c.tolist() for c in cells]
    assert sd.encode(cells, end=False)[-1, 2] == sd.PEN_UP  # a prefix to continue
    padded = sd.decode(np.vstack([rows, [[5, 5, sd.PEN_DOWN]]]))  # rows after PEN_END are ignored
    assert [c.tolist() for c in padded] == [c.tolist() for c in cells]


def test_batch_shifts_rows_by_one_and_pads():
    rows = [sd.encode(sd.to_grid([np.array([[0.0, 0.0], [255.0, 255.0]])], 32)), np.array([[3, 4, 2]])]
    b = sd.batch(rows, np.array([1, 0]), 32)
    assert b["inputs"].shape == b["targets"].shape == (2, 2, 3) and b["where"].shape == (2, 2, 2)
    assert b["inputs"][0].tolist() == [[32, 32, sd.PEN_START], [32, 32, sd.PEN_DOWN]]
    assert b["where"][0].tolist() == [[0, 0], [0, 0]] and b["targets"][0, 1].tolist() == [64, 64, sd.PEN_END]
    assert b["targets"][1, 1].tolist() == [sd.IGNORE] * 3


def test_forward_shapes_and_loss_falls_on_a_tiny_overfit():
    torch.manual_seed(0)
    config = tiny_sketch(dropout=0.0)
    model = SketchTransformer(config, n_classes=4)
    rng = np.random.default_rng(0)
    rows = [sd.encode(sd.to_grid([rng.uniform(0, 255, (8, 2))], 32)) for _ in range(4)]
    b = {k: torch.from_numpy(v) for k, v in sd.batch(rows, np.array([0, 1, 2, 4]), 32).items()}
    h = model.hidden(b["inputs"], b["where"], b["labels"])
    assert h.shape == (4, 8, 16)
    dx, dy, pen = model.heads(h, b["targets"][..., 0], b["targets"][..., 1])
    assert dx.shape == dy.shape == (4, 8, 65) and pen.shape == (4, 8, 3)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    first, _ = model.loss(**b)
    for _ in range(60):
        loss, logged = model.loss(**b)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert float(first.detach()) > 8 and logged["loss"] < 0.5 * float(first.detach())
    parts = logged["loss_dx"] + logged["loss_dy"] + logged["loss_pen"]
    assert logged["loss"] == pytest.approx(parts, rel=1e-5)


def test_key_value_cache_gives_the_hidden_states_and_samples_of_the_full_recompute():
    from doodlelab.generative.sketch_sample import sample_rows

    torch.manual_seed(0)
    model = SketchTransformer(tiny_sketch(max_len=24, layers=2), n_classes=4).eval()
    rng = np.random.default_rng(0)
    rows = [sd.encode(sd.to_grid([rng.uniform(0, 255, (12, 2))], 32)) for _ in range(3)]
    b = {k: torch.from_numpy(v) for k, v in sd.batch(rows, np.array([0, 1, 4]), 32).items()}
    full = model.hidden(b["inputs"], b["where"], b["labels"])
    cache = [[] for _ in model.blocks]
    steps = [model.hidden(b["inputs"][:, :5], b["where"][:, :5], b["labels"], cache)]  # a prefill, then
    for t in range(5, full.shape[1]):  # one position at a time
        steps.append(model.hidden(b["inputs"][:, t : t + 1], b["where"][:, t : t + 1], b["labels"], cache, t))
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-5)
    with pytest.raises(ValueError, match="one position at a time"):
        model.hidden(b["inputs"][:, :2], b["where"][:, :2], b["labels"], cache, 12)
    with torch.no_grad():
        model.head_pen.bias[sd.PEN_END] = -8.0  # an untrained model would end its drawings at once
    context = sd.encode(sd.to_grid([rng.uniform(0, 255, (6, 2))], 32), end=False)
    for ctx, max_new in ((np.zeros((0, 3), np.int64), 24), (context, 40)):  # the second one slides
        cached, plain = (
            sample_rows(
                OnNumpy(model), 1, ctx, 4, np.random.default_rng(3), 1.0, 1.0, max_new, (0, 32), use_cache=c
            )
            for c in (True, False)
        )
        assert [r.tolist() for r in cached] == [r.tolist() for r in plain]
        assert max(len(r) for r in cached) > 20  # long enough to exercise the cache (and the slide)


def test_draw_respects_temperature_nucleus_and_forbidden_values():
    logits = np.log(np.array([[0.5, 0.3, 0.2, 0.0]] * 2000) + 1e-300)
    picks = draw(logits, 1.0, 1.0, np.random.default_rng(0))
    assert set(picks.tolist()) == {0, 1, 2}  # never a value of probability 0
    assert abs((picks == 0).mean() - 0.5) < 0.05
    assert set(draw(logits, 1.0, 0.5, np.random.default_rng(0)).tolist()) == {0}  # nucleus of 0.5: the top
    assert set(draw(logits, 1.0, 0.7, np.random.default_rng(0)).tolist()) == {0, 1}
    cold = draw(logits, 0.1, 1.0, np.random.default_rng(0))
    assert (cold == 0).mean() > 0.95


def test_sampling_is_deterministic_per_seed(sketch_run):
    sketcher = load(sketch_run[0] / "sketch.safetensors")
    first = sketcher.generate("circle", 3, seed=5)
    again = sketcher.generate("circle", 3, seed=5)
    other = sketcher.generate("circle", 3, seed=6)
    as_lists = [[[s.tolist() for s in d] for d in ds] for ds in (first, again, other)]
    assert as_lists[0] == as_lists[1] and as_lists[0] != as_lists[2]
    for drawing in first:  # the simplified schema: integers in the 0..255 box
        points = np.concatenate(drawing)
        assert np.all(points == np.round(points)) and points.min() >= 0 and points.max() <= 255
    assert len(sketcher.generate(None, 2, seed=0)) == 2  # "no category"


def test_a_killed_run_resumes_to_the_same_weights(sketch_run, tmp_path):
    from doodlelab.generative.sketch_train import train

    out, data, cache = sketch_run
    paused = tmp_path / "paused"
    train(tiny_sketch(), paused, root=data / "quickdraw", cache_root=cache, progress=False, until_step=3)
    (paused / "sketch.safetensors").unlink()  # as if killed after the checkpoint at step 3
    # resumed with a loader process preparing the batches: the same batches, so the same weights; the
    # sampling defaults may change on the way (they are recorded, they do not train anything)
    resume = tiny_sketch(workers=1, guidance=1.0, temperature=0.9)
    train(resume, paused, root=data / "quickdraw", cache_root=cache, progress=False)
    straight, _ = modelfile.load(out / "sketch.safetensors")
    resumed, meta = modelfile.load(paused / "sketch.safetensors")
    assert (meta["config"]["guidance"], meta["config"]["temperature"]) == (1.0, 0.9)
    assert straight.keys() == resumed.keys()
    for k in straight:
        np.testing.assert_array_equal(straight[k], resumed[k], err_msg=k)
    with pytest.raises(modelfile.ModelFileError, match="other settings"):
        train(tiny_sketch(width=32), paused, root=data / "quickdraw", cache_root=cache, progress=False)
    arrays, meta = modelfile.load(paused / "last.safetensors")
    del meta["state"]["batches"]  # a checkpoint of a doodlelab that drew its batches otherwise
    modelfile.save(paused / "last.safetensors", arrays, metadata=meta)
    with pytest.raises(modelfile.ModelFileError, match="other batches"):
        train(tiny_sketch(), paused, root=data / "quickdraw", cache_root=cache, progress=False)


def test_run_folder_has_card_curves_and_sample_grids(sketch_run):
    out = sketch_run[0]
    card = json.loads((out / "sketch.json").read_text())
    assert card["attribution"] == settings.ATTRIBUTION == "Quick, Draw! dataset, Google Inc., CC BY 4.0"
    assert card["classes"] == sorted(SHAPES) and card["config"]["width"] == 16 and card["steps_trained"] == 6
    assert card["kind"] == "sketch" and len(card["history"]["val_loss"]) == 2
    assert (out / "curves.png").is_file()
    from PIL import Image

    grid = np.asarray(Image.open(out / "samples_000006.png"))
    assert grid.shape == (5 * 58 + 2, 8 * 58 + 2) and grid.min() < 128  # 4 shapes + "no category", 8 each


def test_training_drawings_stream_from_the_shards(shapes_data):  # noqa: F811
    from doodlelab.data import cache as cache_module
    from doodlelab.data.categories import category_index

    data, cache = shapes_data
    root, names = data / "quickdraw", sorted(SHAPES)
    whole = cache_module.load_split_arrays("train", names, sources=("strokes",), root=root, cache_root=cache)
    stroke_rows = [i for i in range(len(whole)) if whole.drawing[i] >= 0]
    drawings = [whole.strokes_of(i) for i in stroke_rows]
    points = np.array([sum(len(s) for s in d) for d in drawings])
    bound = int(np.median(points))  # leaves out about half: the bound is applied, and counted
    streamed = sd.SketchSet("train", names, 32, bound, root, cache)
    kept = [d for d, n in zip(drawings, points) if n <= bound]
    assert len(streamed) == len(kept) and streamed.left_out == int((points > bound).sum()) > 0
    first = sd.encode(sd.to_grid(kept[0], 32))[:bound]
    assert np.array_equal(streamed.rows(0), first)
    order = np.random.default_rng(0).permutation(len(streamed))[:12]  # a batch, read shard by shard
    aug = sd.augmentation(8.0, 0.1)
    many = streamed.rows_many(order, [np.random.default_rng(int(i)) for i in order], aug)
    one_by_one = [streamed.rows(int(i), np.random.default_rng(int(i)), aug) for i in order]
    assert all(np.array_equal(a, b) for a, b in zip(many, one_by_one)) and len(many) == 12
    assert np.array_equal(streamed.rows_many(order)[0], sd.encode(sd.to_grid(kept[order[0]], 32))[:bound])
    official = [int(whole.labels[i]) for i, n in zip(stroke_rows, points) if n <= bound]
    local = {category_index(name): k for k, name in enumerate(names)}
    assert streamed.labels.tolist() == [local[c] for c in official]  # model-local labels
    few = sd.SketchSet("train", names, 32, 1024, root, cache, max_per_category=20)
    assert 0 < len(few) <= 4 * 20 < len(drawings)
