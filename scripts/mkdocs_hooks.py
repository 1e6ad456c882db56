"""MkDocs hooks (mkdocs.yml `hooks:`): pages that cannot drift from the code. `<!-- cli-reference -->` becomes
the help of every `doodlelab` command, rendered from the argparse parsers; `<!-- card: NAME -->` becomes a
table of the shipped model's figures, read from its card in doodlelab/weights."""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

WEIGHTS = Path(__file__).resolve().parent.parent / "doodlelab" / "weights"
HELP_COLUMNS = "100"  # argparse wraps help to $COLUMNS; fixed so the page is the same on every terminal


def commands(parser: argparse.ArgumentParser, words: tuple[str, ...] = ("doodlelab",)) -> Iterator:
    """(command words, parser) of every command and command group, depth first, in the parser's order."""
    yield words, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, (*words, name))


def cli_reference() -> str:
    """Markdown: one section per command, its `--help` in a text block."""
    from doodlelab.cli.main import build_parser

    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_COLUMNS
    try:
        parts = []
        for words, parser in commands(build_parser()):
            level = "#" * min(len(words) + 1, 4)
            parts.append(f"{level} `{' '.join(words)}`\n\n```text\n{parser.format_help().rstrip()}\n```\n")
        return "\n".join(parts)
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous


def _card(name: str) -> dict:
    return json.loads((WEIGHTS / f"{name}.json").read_text())


def _mb(*names: str) -> str:
    return f"{sum((WEIGHTS / n).stat().st_size for n in names) / 1e6:.1f} MB"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _completion_rows(completion: dict) -> list[tuple[str, str]]:
    """The stroke model's completions at half the ink: the judge's top-1 before and after."""
    return [
        (
            f"completion of {completion['drawings']:,} test drawings cut at half their ink: named before / "
            "after, with the category",
            f"{_pct(completion['prefix_top1'])} / {_pct(completion['completed_with_category_top1'])}",
        ),
        (
            "the same without the category / the whole human drawings",
            f"{_pct(completion['completed_without_category_top1'])} / "
            f"{_pct(completion['whole_drawing_top1'])}",
        ),
    ]


def _members_rows(card: dict) -> list[tuple[str, str]]:
    """An ensemble's members (widths, prefix augmentation, share of the average); else the epochs."""
    if "members" not in card:
        return [("epochs trained", str(card["trained_epochs"]))]
    return [
        (
            f"member {i + 1}: share of the average",
            f"{m['weight']:g} — widths {'/'.join(map(str, m['widths']))}"
            + (f", prefix augmentation {m['prefix']:g}" if m["prefix"] else ", finished drawings only")
            + f", test top-1 alone {_pct(m['test_top1'])}",
        )
        for i, m in enumerate(card["members"])
    ]


def card_rows(name: str) -> list[tuple[str, str]]:
    """(figure, value) rows of a shipped model, from its card: `classifier`, `classifier.int8`,
    `diffusion`, `gan` or `mlp_digits`."""
    if name == "classifier":
        card, test = _card(name), _card(name)["test"]
        return [
            (
                f"top-1 on the test split ({test['n']:,} drawings, {test['categories']} categories)",
                _pct(test["top1"]),
            ),
            ("top-3", _pct(test["top3"])),
            ("MAP@3", f"{test['map3']:.3f}"),
            ("mean per-category accuracy", _pct(test["mean_category_accuracy"])),
            ("ECE before / after temperature scaling", f"{test['ece_uncalibrated']:.3f} / {test['ece']:.3f}"),
            ("temperature (fitted on validation)", f"{card['temperature']:.2f}"),
            (
                "stroke drawings: simplified / replayed as raw canvas input",
                f"{_pct(test['strokes_only']['top1_simplified'])} / {_pct(test['strokes_only']['top1_raw'])}",
            ),
            *_members_rows(card),
            (
                "weights (float16 safetensors) / float16 ONNX export",
                f"{_mb('classifier.safetensors')} / {_mb('classifier.onnx')}",
            ),
        ]
    if name == "classifier.int8":
        test = _card("classifier.int8.onnx")["test"]
        return [
            ("top-1 on the test split, 8-bit / float", f"{_pct(test['top1'])} / {_pct(test['float_top1'])}"),
            ("top-3, 8-bit / float", f"{_pct(test['top3'])} / {_pct(test['float_top3'])}"),
            ("first guesses that agree with float", _pct(test["top1_agreement"])),
            ("file", _mb("classifier.int8.onnx")),
        ]
    if name in ("diffusion", "gan", "sketch"):
        card = _card(name)
        ev = card["evaluation"]
        sampling = ", ".join(f"{k} {v}" for k, v in ev["sampling"].items())
        return [
            (
                f"recognizability ({ev['samples_per_category']} samples of each of {ev['categories']} "
                "categories)",
                _pct(ev["recognizability"]),
            ),
            ("the classifier on real test drawings", _pct(ev["classifier_accuracy_real_test"])),
            (
                "Fréchet distance / floor (real train vs test)",
                f"{ev['frechet_distance']:.2f} / {ev['frechet_floor_train_vs_test']:.2f} = "
                f"{ev['frechet_ratio']:.2f}×",
            ),
            (
                "variety (median over categories) / categories below 0.5",
                f"{ev['variety_median']:.2f} / {ev['variety_below_half']}",
            ),
            *(_completion_rows(ev["completion"]) if name == "sketch" else []),
            ("sampling", sampling),
            (
                "training steps in the last run (batch)",
                f"{card['steps_trained']:,} ({card['config']['batch_size']})",
            ),
            ("weights (float16 safetensors)", _mb(f"{name}.safetensors")),
        ]
    if name == "mlp_digits":
        card = _card(name)
        return [
            ("test accuracy (official 10k MNIST test set)", _pct(card["metrics"]["test_accuracy"])),
            ("validation accuracy (6,000 images carved from the 60k)", _pct(card["metrics"]["val_accuracy"])),
            ("layers", "-".join(map(str, card["sizes"]))),
            ("training time", f"{card['training']['seconds']:.0f} s ({card['training']['machine']})"),
            ("command", f"`{card['command']}`"),
            ("weights (float16 .npz)", _mb("mlp_digits.npz")),
        ]
    raise ValueError(f"no card table for {name!r}")


def headline(name: str) -> tuple[str, str]:
    """(metric, size) of a shipped model as the README's models table states them, from its card."""
    if name in ("classifier", "classifier.int8"):
        test = _card("classifier" if name == "classifier" else "classifier.int8.onnx")["test"]
        size = _mb("classifier.safetensors") if name == "classifier" else _mb("classifier.int8.onnx")
        return f"{_pct(test['top1'])} top-1", size
    if name in ("diffusion", "gan", "sketch"):
        ev = _card(name)["evaluation"]
        return (
            f"{_pct(ev['recognizability'])} recognizable, {ev['frechet_ratio']:.1f}× the Fréchet floor",
            _mb(f"{name}.safetensors"),
        )
    if name == "mlp_digits":
        return f"{_pct(_card(name)['metrics']['test_accuracy'])} test accuracy", _mb("mlp_digits.npz")
    raise ValueError(f"no headline for {name!r}")


def card_table(name: str) -> str:
    rows = "\n".join(f"| {figure} | {value} |" for figure, value in card_rows(name))
    return f"| from `doodlelab/weights/` (the model card) | |\n|---|---|\n{rows}\n"


CARD = re.compile(r"<!-- card: ([\w.]+) -->")


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ARG001 (MkDocs' hook signature)
    if "<!-- cli-reference -->" in markdown:
        markdown = markdown.replace("<!-- cli-reference -->", cli_reference())
    return CARD.sub(lambda m: card_table(m.group(1)), markdown)
