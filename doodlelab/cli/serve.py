"""`doodlelab serve [--host 127.0.0.1] [--port 8000] [--weights PATH] [--sketch PATH] [--access-log]`: run the
web app's API with uvicorn, on this machine only unless --host says otherwise (0.0.0.0 for every interface).
"""

from __future__ import annotations

import argparse
import errno
import socket
from pathlib import Path

from doodlelab.cli.common import HELP, require_weights
from doodlelab.errors import DoodleError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def register(groups: dict) -> None:
    parser = groups["_top"].add_parser(
        "serve",
        help=HELP["serve"],
        description="Serve the JSON API (documented at /docs) that names drawings, images and digits. "
        "The address is checked first (one line and exit code 2 when it is taken or does not resolve), "
        "then the models are loaded, once.",
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default: {DEFAULT_HOST}, this machine only; "
        "0.0.0.0 for every interface)",
    )
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help=f"TCP port (default: {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--weights",
        type=Path,
        default=None,
        metavar="PATH",
        help="classifier weights file (default: the shipped weights)",
    )
    parser.add_argument(
        "--sketch",
        type=Path,
        default=None,
        metavar="PATH",
        help="stroke model file for /api/complete (default: the shipped one, if any; "
        "one written by `doodlelab train sketch`)",
    )
    parser.add_argument(
        "--access-log",
        action="store_true",
        help="print a line per request (off by default: a page guessing on the server asks several times a "
        "second while someone draws; start-up messages, warnings and errors are printed either way)",
    )
    parser.set_defaults(handler=cmd_serve)


def _port(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 1..65535, got {text!r}")
    return int(text)


def bind(host: str, port: int) -> list[socket.socket]:
    """Bind TCP sockets to every address `host` resolves to (as uvicorn would: SO_REUSEADDR, IPv6 only on
    IPv6 sockets), so that a taken port or an unknown host fails in one line, before any model loads."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise DoodleError(f"cannot resolve --host {host!r} ({exc.strerror})") from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(found):  # unique, in the resolver's order
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        reason = (exc.strerror or str(exc)).lower()
        if exc.errno == errno.EADDRINUSE:
            reason += " (is another server running there? choose another --port)"
        raise DoodleError(f"cannot listen on {host}:{port}: {reason}") from None
    return sockets


def cmd_serve(args: argparse.Namespace) -> int:
    require_weights(args.weights)
    require_weights(args.sketch)
    sockets = bind(args.host, args.port)
    try:
        return _run(args, sockets)
    finally:
        for sock in sockets:
            sock.close()


def _run(args: argparse.Namespace, sockets: list[socket.socket]) -> int:
    from doodlelab.web.workers import CLASSIFIER_MODULES, fork_server

    fork_server(CLASSIFIER_MODULES)  # the workers' modules load on another core while this one goes on
    try:
        import uvicorn

        from doodlelab.web.app import create_app, load_classifier
    except ImportError as exc:
        raise DoodleError(f"the web server needs fastapi, uvicorn and python-multipart ({exc})") from None
    if args.weights is not None:  # fail in one line before starting the server (loaded again at startup)
        load_classifier(args.weights)
    if args.sketch is not None:
        from doodlelab.web.sketching import load_sketch

        load_sketch(args.sketch)

    url = f"http://{f'[{args.host}]' if ':' in args.host else args.host}:{args.port}"  # [IPv6]

    class Server(uvicorn.Server):
        """uvicorn's server, saying where it listens (uvicorn does so only for sockets it bound itself)."""

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                uvicorn.config.logger.info("Uvicorn running on %s (Press CTRL+C to quit)", url)

    app = create_app(args.weights, sketch_weights=args.sketch)
    # uvicorn's access log costs the event loop ~8% of its CPU under load (bench_load.py): opt-in
    server = Server(uvicorn.Config(app, host=args.host, port=args.port, access_log=args.access_log))
    server.run(sockets=sockets)
    return 0 if server.started else 2
