"""Entry point of the `doodlelab` command: builds the parser from each command module."""

from __future__ import annotations

import importlib
import os
import sys

from doodlelab import __version__
from doodlelab.cli.common import Parser
from doodlelab.errors import DoodleError

# Each module defines `register(groups)`, adding its commands to the shared sub-command groups.
COMMAND_MODULES = (
    "doodlelab.cli.data",
    "doodlelab.cli.mlp",
    "doodlelab.cli.classifier",
    "doodlelab.cli.serve",
    "doodlelab.cli.predict",
    "doodlelab.cli.generate",
)
GROUPS = {
    "train": "train a model",
    "evaluate": "evaluate a model and print its metrics",
}


def build_parser() -> Parser:
    parser = Parser(prog="doodlelab", description="Recognize and generate Quick, Draw! doodles.")
    parser.add_argument("--version", action="version", version=f"doodlelab {__version__}")
    top = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    groups = {"_top": top}
    for name, help_text in GROUPS.items():
        sub = top.add_parser(name, help=help_text, description=help_text)
        groups[name] = sub.add_subparsers(dest="model", metavar="MODEL", parser_class=Parser)
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(groups)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        name = " ".join(x for x in (args.command, getattr(args, "model", None)) if x)
        parser.exit(2, f"doodlelab{' ' + name if name else ''}: error: choose a command (see --help)\n")
    try:
        return int(handler(args) or 0)
    except BrokenPipeError:  # the reader went away (`doodlelab data info | head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so Python's final flush does not fail again
        return 141  # what a shell reports for a process ended by SIGPIPE
    except DoodleError as exc:
        print(f"doodlelab: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # missing or unreadable files named by the user
        where = f" {exc.filename}" if exc.filename else ""
        print(f"doodlelab: error:{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("doodlelab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
