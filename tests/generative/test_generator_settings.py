"""What a generator takes: the GAN refuses the diffusion-only settings (CLI: exit 2, one line naming it)
instead of ignoring them, and a diffusion sampling loop stops between two steps when its callback raises
(how the server cancels a request)."""

from __future__ import annotations

import numpy as np
import pytest

from doodlelab.cli.main import main
from doodlelab.errors import DataError
from doodlelab.generative.generator import DoodleGenerator


@pytest.mark.parametrize(
    "flags, name",
    [
        (["--steps", "10"], "steps"),
        (["--guidance", "2"], "guidance"),
        (["--sampler", "ddim"], "sampler"),
        (["--guidance-interval", "0.2", "0.8"], "guidance interval"),
        (["--eta", "0.5"], "eta"),
    ],
)
@pytest.mark.parametrize("command", [["generate", "--category", "square"], ["evaluate", "generator"]])
def test_the_gan_refuses_diffusion_settings(capsys, tmp_path, gan_file, command, flags, name):
    out = ["--out", str(tmp_path / "x.npy")] if command[0] == "generate" else []
    code = main([*command, "--model", str(gan_file), *flags, *out])
    stdout, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and stdout == ""
    assert f"{name}: the GAN draws in one pass" in err
    assert not (tmp_path / "x.npy").exists()


def test_the_gan_draws_without_them(gan_file):
    images = DoodleGenerator(gan_file)("square", n=2, seed=1)
    assert images.shape == (2, 28, 28) and images.dtype == np.uint8
    with pytest.raises(DataError, match="steps: the GAN"):
        DoodleGenerator(gan_file)("square", n=2, seed=1, steps=50)


class Stop(Exception):
    pass


def test_a_callback_that_raises_stops_sampling_between_steps(diffusion_file):
    generator, seen = DoodleGenerator(diffusion_file), []

    def step(i: int, x0: np.ndarray) -> None:
        seen.append(i)
        if i == 3:
            raise Stop

    with pytest.raises(Stop):
        generator("circle", n=2, seed=0, steps=20, frames=step)
    assert seen == [0, 1, 2, 3]  # no step ran after the one that asked to stop
