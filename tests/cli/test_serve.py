"""`doodlelab serve` in a real process: a port in use or a host that does not resolve is one line and exit
code 2, found before any model is loaded; a free port serves the API until Ctrl+C, printing a line per
request only with --access-log."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

# `doodlelab serve ARGS...` that reports, after the command returned, whether the web app (and with it the
# models) was ever imported
SERVE = (
    "import sys; from doodlelab.cli.main import main; code = main(['serve', *sys.argv[1:]]); "
    "print('app imported' if 'doodlelab.web.app' in sys.modules else 'app not imported'); "
    "sys.exit(code)"
)


def serve_and_report(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SERVE, *args], capture_output=True, text=True, timeout=120)


def test_a_port_in_use_is_one_line_before_loading_models():
    with socket.socket() as holder:  # a real listener holds the port
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = serve_and_report("--port", str(port))
    assert done.returncode == 2, done.stderr
    assert (
        done.stderr == f"doodlelab: error: cannot listen on 127.0.0.1:{port}: address already in use "
        "(is another server running there? choose another --port)\n"
    )
    assert done.stdout == "app not imported\n"


def test_a_host_that_does_not_resolve_is_one_line_before_loading_models():
    done = serve_and_report("--host", "no-such-host.invalid")  # .invalid never resolves (RFC 2606)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("doodlelab: error: cannot resolve --host 'no-such-host.invalid'")
    assert done.stderr.count("\n") == 1 and done.stdout == "app not imported\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("access_log", [False, True], ids=["quiet", "access-log"])
def test_serve_answers_on_the_port_it_checked_and_stops_on_ctrl_c(access_log):
    port = free_port()
    # as from a shell: ^C's default action, even if this test process (or an earlier test) ignores SIGINT,
    # which the child would inherit and uvicorn would restore before re-raising the ^C it caught
    proc = subprocess.Popen(
        [sys.executable, "-m", "doodlelab", "serve", "--port", str(port), *(["--access-log"] * access_log)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the server did not start: {proc.communicate()[1]}")
                time.sleep(0.2)
        assert health.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert f"running on http://127.0.0.1:{port}" in err
    # a line per request (uvicorn prints them on stdout) only when asked for
    assert ('"GET /api/health HTTP/1.1" 200' in out) == access_log, out
    assert proc.returncode == 130 and err.endswith("doodlelab: interrupted\n"), err  # as a shell reports ^C
