"""Entry point of the `doodlelab` command. Only the parser of the command named on the command line is
built (its modules imported), so `doodlelab --help` and `doodlelab serve` start without the training code.
"""

from __future__ import annotations

import importlib
import os
import sys

from doodlelab import __version__
from doodlelab.cli.common import HELP, Parser
from doodlelab.errors import DoodleError

# Each module defines `register(groups)`, adding its commands to the shared sub-command groups. By the
# command's first word, the modules that build its parser.
COMMAND_MODULES = {
    "train": (
        "doodlelab.cli.mlp",
        "doodlelab.cli.classifier",
        "doodlelab.cli.ensemble",
        "doodlelab.cli.generate",
        "doodlelab.cli.sketch",
    ),
    "evaluate": ("doodlelab.cli.mlp", "doodlelab.cli.classifier", "doodlelab.cli.generate"),
    "export": ("doodlelab.cli.classifier", "doodlelab.cli.export_web"),
    "data": ("doodlelab.cli.data",),
    "serve": ("doodlelab.cli.serve",),
    "predict": ("doodlelab.cli.predict",),
    "generate": ("doodlelab.cli.generate",),
    "complete": ("doodlelab.cli.sketch",),
}
GROUPS = {"train": "MODEL", "evaluate": "MODEL", "export": "FORMAT"}  # words followed by a second word


def build_parser(argv: list[str] | None = None) -> Parser:
    """The whole command tree; given `argv`, only the branch it names is complete (the other commands
    are listed with their help line, and their modules are not imported)."""
    parser = Parser(prog="doodlelab", description="Recognize and generate Quick, Draw! doodles.")
    parser.add_argument("--version", action="version", version=f"doodlelab {__version__}")
    top = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    groups = {"_top": top}
    for name, metavar in GROUPS.items():
        sub = top.add_parser(name, help=HELP[name], description=HELP[name])
        groups[name] = sub.add_subparsers(dest="model", metavar=metavar, parser_class=Parser)
    everything = list(dict.fromkeys(m for modules in COMMAND_MODULES.values() for m in modules))
    if argv is None:
        chosen = set(everything)
    else:
        word = next((arg for arg in argv if not arg.startswith("-")), None)
        chosen = set(COMMAND_MODULES.get(word, ()))
    commands = [name for name in COMMAND_MODULES if name not in GROUPS]
    built: set[str] = set()

    def build(modules: list[str]) -> None:
        for module in modules:
            if module in chosen and module not in built:
                importlib.import_module(module).register(groups)
                built.add(module)

    # First the modules that only add models to the groups, then the other commands in order: built when
    # chosen, else listed with their help line only.
    build([m for m in everything if not any(m in COMMAND_MODULES[name] for name in commands)])
    for name in commands:
        if chosen & set(COMMAND_MODULES[name]):
            build(list(COMMAND_MODULES[name]))
        else:
            top.add_parser(name, help=HELP[name])
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
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
