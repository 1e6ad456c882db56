"""The command tree: every command and sub-command prints its help (config comments may hold '%')."""

from __future__ import annotations

import argparse

import pytest

from doodlelab.cli.main import build_parser


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every path through the sub-command tree, e.g. ('train', 'diffusion')."""
    found = [path]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _commands(sub, path + (name,))
    return found


COMMANDS = _commands(build_parser())


def test_the_tree_holds_every_command():
    names = {" ".join(c) for c in COMMANDS}
    assert {"train diffusion", "train gan", "train classifier", "train mlp", "generate", "serve"} <= names


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "doodlelab")
def test_help_prints_and_exits_0(command, capsys):
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args([*command, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: doodlelab") and "--help" in out
