"""`doodlelab serve [--host 127.0.0.1] [--port 8000] [--weights PATH]`: run the web app's API with uvicorn.

It listens on this machine only unless --host says otherwise (0.0.0.0 for every interface).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from doodlelab.errors import DoodleError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def register(groups: dict) -> None:
    parser = groups["_top"].add_parser(
        "serve",
        help="run the web app's API server",
        description="Serve the JSON API (documented at /docs) that names drawings, images and digits. "
        "Models are loaded once, at startup.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to listen on (default: {DEFAULT_HOST}, this machine only; "
                        "0.0.0.0 for every interface)")
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT,
                        help=f"TCP port (default: {DEFAULT_PORT})")
    parser.add_argument("--weights", type=Path, default=None, metavar="PATH",
                        help="classifier weights file (default: the shipped weights)")
    parser.set_defaults(handler=cmd_serve)


def _port(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 1..65535, got {text!r}")
    return int(text)


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from doodlelab.modelfile import ModelFileError
        from doodlelab.web.app import create_app, load_classifier
    except ImportError as exc:
        raise DoodleError(f"the web server needs fastapi, uvicorn and python-multipart ({exc})") from None
    if args.weights is not None:  # fail in one line before starting the server (loaded again at startup)
        if not args.weights.is_file():
            raise ModelFileError(f"{args.weights}: no such weights file")
        load_classifier(args.weights)
    server = uvicorn.Server(uvicorn.Config(create_app(args.weights), host=args.host, port=args.port))
    server.run()
    return 0 if server.started else 2
