"""`doodlelab generate` (.npy, .png, folder; determinism; bad input), `doodlelab evaluate generator`,
`doodlelab export onnx` of a diffusion file and `doodlelab train diffusion --init` (a fine-tune)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from doodlelab import modelfile
from doodlelab.cli.main import main
from tests.generative.conftest import SHAPES


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def generate(capsys, model, out, category="square", n=5, seed=3, *extra):
    steps = [] if Path(model).name.startswith("gan") else ["--steps", 4]  # the GAN has no steps
    return run(
        capsys,
        "generate",
        "--model",
        model,
        "--category",
        category,
        "--n",
        n,
        "--seed",
        seed,
        *steps,
        "--out",
        out,
        *extra,
    )


@pytest.fixture(params=["diffusion", "gan"])
def model_file(request):
    return request.getfixturevalue(f"{request.param}_file")


def test_generate_npy_png_and_folder(capsys, tmp_path, model_file):
    code, _, err = generate(capsys, model_file, tmp_path / "a.npy")
    assert code == 0 and "wrote 5 square" in err
    a = np.load(tmp_path / "a.npy", allow_pickle=False)
    assert a.shape == (5, 28, 28) and a.dtype == np.uint8
    generate(capsys, model_file, tmp_path / "b.npy", "SQUARE")
    assert np.array_equal(a, np.load(tmp_path / "b.npy"))  # same seed, same doodles
    generate(capsys, model_file, tmp_path / "c.npy", "square", 5, 4)
    assert not np.array_equal(a, np.load(tmp_path / "c.npy"))
    assert generate(capsys, model_file, tmp_path / "grid.png")[0] == 0
    grid = np.asarray(Image.open(tmp_path / "grid.png"))
    assert grid.ndim == 2 and grid.shape[1] > 5 * 56
    assert generate(capsys, model_file, tmp_path / "folder")[0] == 0
    pngs = sorted((tmp_path / "folder").glob("*.png"))
    assert [p.name for p in pngs] == [f"square_{i:03d}.png" for i in range(5)]
    assert np.array_equal(np.stack([np.asarray(Image.open(p)) for p in pngs]), a)  # the same doodles


@pytest.mark.parametrize(
    "args, message",
    [
        (["--category", "dogg"], "unknown category 'dogg'"),
        (["--category", "cat", "--n", "0"], "n must be an integer from 1"),
        (["--category", "cat", "--n", "100000"], "n must be an integer from 1"),
        (["--category", "cat", "--steps", "0"], "steps must be an integer from 1 to 50"),
        (["--category", "cat", "--steps", "51"], "steps must be an integer from 1 to 50"),
        (["--category", "cat", "--guidance", "-1"], "guidance must be from 0"),
        (["--category", "cat", "--guidance", "nan"], "guidance must be from 0"),
        (["--category", "cat", "--seed", "-3"], "seed must be an integer >= 0"),
        (["--category", "cat", "--guidance-interval", "0.8", "0.2"], "guidance interval must be two numbers"),
        (["--category", "cat", "--guidance-interval", "0", "2"], "guidance interval must be two numbers"),
        (["--category", "cat", "--eta", "1.5"], "eta must be from 0 to 1"),
    ],
)
def test_generate_bad_input_is_one_line_exit_2(capsys, tmp_path, diffusion_file, args, message):
    out = tmp_path / "x.npy"
    code, stdout, err = run(capsys, "generate", "--model", diffusion_file, "--out", out, *args)
    assert code == 2 and message in err and err.count("\n") == 1 and stdout == ""
    assert not out.exists()


def test_generate_bad_out_missing_or_foreign_weights(capsys, tmp_path, diffusion_file):
    from doodlelab.classifier.recognizer import SHIPPED

    code, _, err = generate(capsys, diffusion_file, tmp_path / "x.txt")
    assert code == 2 and "--out must end in .npy or .png" in err and err.count("\n") == 1
    code, _, err = generate(capsys, tmp_path / "none.safetensors", tmp_path / "x.npy")
    assert code == 2 and "no such weights file" in err and err.count("\n") == 1
    code, _, err = generate(capsys, SHIPPED, tmp_path / "x.npy")  # a real safetensors file, but a classifier
    assert code == 2 and "not a doodlelab generator weights file" in err


def test_evaluate_generator_json(capsys, monkeypatch, shapes_data, diffusion_file):
    data, cache = shapes_data
    monkeypatch.setenv("DOODLELAB_DATA", str(data))
    monkeypatch.setenv("DOODLELAB_CACHE", str(cache))
    code, out, _ = run(
        capsys,
        "evaluate",
        "generator",
        "--model",
        diffusion_file,
        "--categories",
        *SHAPES,
        "--per-category",
        6,
        "--steps",
        3,
        "--json",
    )
    assert code == 0
    report = json.loads(out)
    assert report["samples"] == 24 and report["categories"] == 4 and report["split"] == "test"
    assert 0 <= report["recognizability"] <= 1 and set(report["per_category"]) == set(SHAPES)
    assert report["classifier_accuracy_real_test"] > 0.5  # the shipped classifier knows real-looking shapes
    floor = report["frechet_floor_train_vs_test"]
    assert 0 < floor < report["frechet_distance"]  # 6 steps of training are far from the data
    assert report["variety_median"] > 0 and {n for n, _ in report["least_varied"]} == set(SHAPES)
    assert report["guidance_interval"] == [0.0, 1.0]  # the model's (JSON: a list)
    code, out, _ = run(
        capsys,
        "evaluate",
        "generator",
        "--model",
        diffusion_file,
        "--categories",
        *SHAPES,
        "--per-category",
        6,
        "--steps",
        3,
        "--guidance-interval",
        0.2,
        0.9,
        "--json",
    )
    limited = json.loads(out)
    assert code == 0 and limited["guidance_interval"] == [0.2, 0.9] and limited["eta"] == report["eta"] == 0
    assert (
        limited["per_category"] != report["per_category"]
        or limited["frechet_distance"] != report["frechet_distance"]
    )  # other samples
    code, out, _ = run(
        capsys,
        "evaluate",
        "generator",
        "--model",
        diffusion_file,
        "--categories",
        *SHAPES,
        "--per-category",
        3,
        "--steps",
        2,
    )
    assert code == 0 and "variety" in out and "least varied: " in out
    code, out, err = run(capsys, "evaluate", "generator", "--model", diffusion_file, "--per-category", 0)
    assert code == 2 and "--per-category" in err


def test_train_fine_tunes_from_a_model_file_and_a_rerun_resumes(
    capsys, monkeypatch, shapes_data, tmp_path, diffusion_file, gan_file
):
    data, cache = shapes_data
    monkeypatch.setenv("DOODLELAB_DATA", str(data))
    monkeypatch.setenv("DOODLELAB_CACHE", str(cache))
    out = tmp_path / "tuned"
    flags = [
        "--out",
        out,
        "--categories",
        *SHAPES,
        "--widths",
        8,
        8,
        16,
        "--emb-dim",
        16,
        "--timesteps",
        50,
        "--batch-size",
        16,
        "--warmup",
        2,
        "--checkpoint-every",
        2,
        "--threads",
        1,
        "--no-measure",
    ]
    code, stdout, _ = run(capsys, "train", "diffusion", "--init", diffusion_file, "--steps", 2, *flags)
    assert code == 0 and stdout.startswith("2 steps")
    code, stdout, _ = run(capsys, "train", "diffusion", "--init", diffusion_file, "--steps", 4, *flags)
    assert code == 0 and stdout.startswith("4 steps")
    card = modelfile.load_card(out / "diffusion.safetensors")
    assert card["steps_trained"] == 4 and card["history"]["step"] == [2, 4]
    (start,) = card["warm_starts"]  # the rerun resumed the fine-tune instead of starting it again
    assert start["from"] == str(diffusion_file) and start["steps_trained"] == 6 and start["now"]["steps"] == 2
    tuned, _ = modelfile.load(out / "diffusion.safetensors")
    before, _ = modelfile.load(diffusion_file)
    assert tuned.keys() == before.keys() and any(not np.array_equal(tuned[k], before[k]) for k in before)
    code, stdout, err = run(capsys, "train", "diffusion", "--init", gan_file, "--no-resume", *flags)
    assert code == 2 and "not a diffusion model" in err and err.count("\n") == 1 and stdout == ""
    code, _, err = run(
        capsys, "train", "diffusion", "--init", tmp_path / "none.safetensors", "--no-resume", *flags
    )
    assert code == 2 and "none.safetensors" in err and err.count("\n") == 1
    code, _, err = run(capsys, "train", "diffusion", "--eta", 1.5, "--no-resume", *flags)  # a config field
    assert code == 2 and "eta must be in [0, 1]" in err and err.count("\n") == 1


def test_export_onnx_of_a_diffusion_file_is_used_by_generate(
    capsys, tmp_path, diffusion_file, gan_file, float32_torch
):
    import shutil

    pytest.importorskip("onnxruntime")
    weights = tmp_path / "diffusion.safetensors"
    shutil.copy(diffusion_file, weights)
    shutil.copy(diffusion_file.with_suffix(".json"), weights.with_suffix(".json"))
    generate(capsys, weights, tmp_path / "torch.npy")
    code, _, err = run(capsys, "export", "onnx", "--weights", weights, "--out", weights.with_suffix(".onnx"))
    assert code == 0 and "generate and serve use it" in err and weights.with_suffix(".onnx").is_file()
    from doodlelab.generative.generator import DoodleGenerator

    assert DoodleGenerator(weights).engine == "onnx"
    generate(capsys, weights, tmp_path / "onnx.npy")
    a, b = np.load(tmp_path / "torch.npy"), np.load(tmp_path / "onnx.npy")
    assert np.abs(a.astype(int) - b).max() <= 1  # the same doodles, up to float rounding
    code, _, err = run(capsys, "export", "onnx", "--weights", weights, "--int8", "--out", tmp_path / "x.onnx")
    assert code == 2 and "are for the classifier" in err and err.count("\n") == 1
    gan = tmp_path / "gan.safetensors"  # the GAN's generator exports the same way
    shutil.copy(gan_file, gan)
    shutil.copy(gan_file.with_suffix(".json"), gan.with_suffix(".json"))
    generate(capsys, gan, tmp_path / "gan_torch.npy")
    code, _, err = run(capsys, "export", "onnx", "--weights", gan, "--out", gan.with_suffix(".onnx"))
    assert code == 0 and "generate and serve use it" in err and DoodleGenerator(gan).engine == "onnx"
    generate(capsys, gan, tmp_path / "gan_onnx.npy")
    a, b = np.load(tmp_path / "gan_torch.npy"), np.load(tmp_path / "gan_onnx.npy")
    assert np.abs(a.astype(int) - b).max() <= 1
