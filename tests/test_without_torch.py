"""PyTorch only for training (issue 22): what serves, predicts, generates and evaluates the shipped models,
and the command line's parser, import none of the `[train]` extra's packages, read from the source with `ast`
and then run in a Python where `import torch` fails."""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import doodlelab
from tests.test_imports import modules

TRAIN_ONLY = ("torch", "onnx", "onnxscript")
SERVING = (
    "doodlelab.api",
    "doodlelab.cli.main",
    "doodlelab.cli.serve",
    "doodlelab.cli.predict",
    "doodlelab.cli.generate",
    "doodlelab.web.app",
    "doodlelab.web.inference",
    "doodlelab.classifier.recognizer",
    "doodlelab.classifier.evaluate",
    "doodlelab.scratch.digits",
    "doodlelab.generative.generator",
)


class _ModuleLevel(ast.NodeVisitor):
    """The imports that run when a module is imported: not those inside functions or `if TYPE_CHECKING:`."""

    def __init__(self) -> None:
        self.nodes: list[ast.Import | ast.ImportFrom] = []

    def visit_Import(self, node: ast.Import) -> None:
        self.nodes.append(node)

    visit_ImportFrom = visit_Import

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        pass  # runs when called, not when imported

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_If(self, node: ast.If) -> None:
        if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
            self.generic_visit(node)


def import_time_imports(name: str, path: Path, known: set[str]) -> tuple[set[str], set[str]]:
    """(doodlelab modules, other top-level packages) that importing `name` imports itself."""
    visitor = _ModuleLevel()
    visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
    ours, theirs = set(), set()
    for node in visitor.nodes:
        assert not getattr(node, "level", 0), f"{name}: relative import (doodlelab imports absolutely)"
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        for target in names:
            if target.split(".")[0] != "doodlelab":
                theirs.add(target.split(".")[0])
                continue
            if isinstance(node, ast.ImportFrom):  # from doodlelab.x import y: y may be a module
                ours.update(f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in known)
            while target not in known:
                target = target.rpartition(".")[0]
            ours.add(target)
    return ours, theirs


def train_only_imports(start: str) -> dict[str, list[str]]:
    """{package of the [train] extra: the chain of modules through which importing `start` imports it}."""
    paths = modules()
    known = set(paths)
    chain = {start: [start]}
    todo, found = [start], {}
    while todo:
        name = todo.pop()
        parents = [".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)]
        ours, theirs = import_time_imports(name, paths[name], known)
        for package in sorted(theirs & set(TRAIN_ONLY)):
            found.setdefault(package, chain[name])
        for module in sorted(ours | set(parents)):
            if module not in chain:
                chain[module] = [*chain[name], module]
                todo.append(module)
    return found


def test_train_only_imports_are_found():
    assert train_only_imports("doodlelab.classifier.model")["torch"] == ["doodlelab.classifier.model"]
    chain = train_only_imports("doodlelab.classifier.checkpoint")["torch"]
    assert chain[0] == "doodlelab.classifier.checkpoint"
    assert "torch" not in train_only_imports("doodlelab.onnx_export")  # imported in write_onnx only


def test_serving_imports_no_training_packages():
    found = {name: train_only_imports(name) for name in SERVING}
    chains = [f"{package} via {' -> '.join(chain)}" for f in found.values() for package, chain in f.items()]
    assert not chains, "serving modules that import the [train] extra when imported: " + "; ".join(chains)


# The same, run: a Python where `import torch` (and the rest of [train]) fails answers --help of each
# command, predicts drawings and digits and serves the app, with the answers of this (torch) process.
BLOCK_TRAIN = f"import sys\nsys.modules.update(dict.fromkeys({TRAIN_ONLY!r}))  # import torch: ImportError\n"


def run_without_training_packages(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", BLOCK_TRAIN + code, *args], capture_output=True, text=True, timeout=300
    )


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return {
        name: sub
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for name, sub in action.choices.items()
    }


def command_paths(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command of the tree as words: ('train', 'classifier'), ('serve',), ...; () for the top."""
    below = [command_paths(sub, (*words, name)) for name, sub in subcommands(parser).items()]
    return [words, *(path for paths in below for path in paths)]


def parser_at(parser: argparse.ArgumentParser, words: tuple[str, ...]) -> argparse.ArgumentParser:
    for word in words:
        parser = subcommands(parser)[word]
    return parser


def test_the_parser_is_built_for_the_named_command_only():
    from doodlelab.cli.main import build_parser

    full = build_parser()
    for words in command_paths(full):  # each command's help as the full tree has it
        assert (
            parser_at(build_parser([*words, "--help"]), words).format_help()
            == parser_at(full, words).format_help()
        ), words
    code = (
        "from doodlelab.cli.main import build_parser\nbuild_parser(['--help'])\n"
        "print(sorted(m for m in sys.modules if m.startswith(('numpy', 'PIL', 'doodlelab'))))"
    )
    done = run_without_training_packages(code)
    assert done.stdout.strip() == str(
        ["doodlelab", "doodlelab.cli", "doodlelab.cli.common", "doodlelab.cli.main", "doodlelab.errors"]
    ), done.stderr


def test_help_of_every_command_without_torch():
    from doodlelab.cli.main import build_parser

    code = (
        "import json\nfrom doodlelab.cli.main import main\nfailed = {}\n"
        "for words in json.loads(sys.argv[1]):\n"
        "    try:\n        main([*words, '--help'])\n"
        "    except SystemExit as exc:\n        failed[' '.join(words) or '(top)'] = exc.code\n"
        "    except ImportError as exc:\n        failed[' '.join(words) or '(top)'] = str(exc)\n"
        "print(json.dumps({k: v for k, v in failed.items() if v != 0}))\n"
    )
    done = run_without_training_packages(code, json.dumps(command_paths(build_parser())))
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[-1]) == {}, "--help needs torch"


def test_predict_and_serve_without_torch(tmp_path, capsys):
    """`predict` (drawings and a digit image) and the app with every shipped model (real uvicorn, in-process
    workers) in a Python without torch give this process's answers; weights without an ONNX export fail
    in one line."""
    from doodlelab import settings
    from doodlelab.cli.main import main
    from doodlelab.data.mnist import load_mnist

    simplified = settings.quickdraw_dir() / "simplified"
    mnist = settings.mnist_path()
    if not simplified.is_dir() or not mnist.is_file():
        pytest.skip("Quick, Draw! or MNIST data not found (DOODLELAB_DATA)")
    lines = []
    for category in ("cat", "bicycle", "The Eiffel Tower"):
        with open(simplified / f"{category}.ndjson", encoding="utf-8") as f:
            lines += [next(f) for _ in range(5)]
    drawings = tmp_path / "drawings.ndjson"
    drawings.write_text("".join(lines))
    from PIL import Image

    digit = tmp_path / "digit.png"
    Image.fromarray(255 - load_mnist(mnist).x_test[0]).save(digit)  # dark ink on white paper
    commands = [
        ["predict", "--json", "--top", "5", str(drawings)],
        ["predict", "--model", "digits", "--json", str(digit)],
    ]
    code = (
        "import json\nfrom doodlelab.cli.main import main\n"
        "for command in json.loads(sys.argv[1]):\n    assert main(command) == 0\n"
        "from doodlelab.web.app import create_app\nfrom doodlelab.web.local import serving\n"
        "with serving(create_app(workers=0)) as client:\n"
        "    models = client.get('/api/health').json()['models']\n"
        "    assert all(models.values()), models  # the generators and the stroke model too\n"
        "    answer = client.post('/api/predict', json={'drawing': json.loads(sys.argv[2])['drawing']})\n"
        "    print(json.dumps(answer.json()['predictions']))\n"
    )
    done = run_without_training_packages(code, json.dumps(commands), lines[0])
    assert done.returncode == 0, done.stderr[-3000:]
    for command in commands:
        assert main(command) == 0
    expected = capsys.readouterr().out.splitlines()
    assert done.stdout.splitlines()[:-1] == expected  # same guesses, same probabilities
    served, predicted = json.loads(done.stdout.splitlines()[-1]), json.loads(expected[0])["top"]
    assert len(expected) == 16 and [g["category"] for g in served] == [g["category"] for g in predicted]
    assert [g["probability"] for g in served] == pytest.approx(
        [g["probability"] for g in predicted], abs=1e-6
    )

    from doodlelab.classifier.recognizer import SHIPPED

    for name in (SHIPPED.name, SHIPPED.with_suffix(".json").name):  # the weights without their exports
        (tmp_path / name).write_bytes((SHIPPED.parent / name).read_bytes())
    code = "from doodlelab.cli.main import main\nsys.exit(main(sys.argv[1:]))"
    done = run_without_training_packages(
        code, "predict", "--weights", str(tmp_path / SHIPPED.name), str(drawings)
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "pip install 'doodlelab[train]'" in done.stderr, done.stderr


def test_the_stroke_model_draws_and_completes_without_torch():
    """`doodlelab.sketch` and `doodlelab.complete` run on NumPy alone, with this process's answers."""
    code = (
        "import json, doodlelab\n"
        "drawn = doodlelab.sketch('cat', n=2, seed=3)\n"
        "print(json.dumps([drawn, doodlelab.complete([[[0, 90], [0, 40]]])]))\n"
    )
    done = run_without_training_packages(code)
    assert done.returncode == 0, done.stderr[-2000:]
    expected = [doodlelab.sketch("cat", n=2, seed=3), doodlelab.complete([[[0, 90], [0, 40]]])]
    assert json.loads(done.stdout) == expected


def test_evaluate_generator_without_torch():
    """`evaluate generator` judges the shipped GAN with the classifier's ONNX export (logits and features)
    in a Python without torch: the figures of this (torch) process, up to the export's float16 weights."""
    from doodlelab import settings

    if not (settings.quickdraw_dir() / "simplified").is_dir():
        pytest.skip("Quick, Draw! data not found (DOODLELAB_DATA)")
    command = ["evaluate", "generator", "--model", "gan", "--categories", "cat", "bicycle", "apple"]
    command += ["--per-category", "10", "--json"]
    code = "import json, sys\nfrom doodlelab.cli.main import main\n"
    code += "raise SystemExit(main(json.loads(sys.argv[1])))\n"
    done = run_without_training_packages(code, json.dumps(command))
    assert done.returncode == 0, done.stderr[-3000:]
    without = json.loads(done.stdout)
    here = subprocess.run(
        [sys.executable, "-c", code, json.dumps(command)], capture_output=True, text=True, timeout=300
    )
    assert here.returncode == 0, here.stderr[-3000:]
    with_torch = json.loads(here.stdout)
    assert without["samples"] == with_torch["samples"] == 30
    assert abs(without["recognizability"] - with_torch["recognizability"]) <= 1 / 30  # one flip at most
    for key in ("frechet_distance", "frechet_floor_train_vs_test"):
        assert abs(without[key] - with_torch[key]) <= 0.02 * with_torch[key], key
