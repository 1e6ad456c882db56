"""How fast doodlelab starts and how much it installs: the base install (no PyTorch) against `[train]`.

    python benchmarks/bench_start.py [--repeats 5] [--venvs DIR]

Builds two fresh virtual environments from this repository (kept in --venvs, reused when there): `base`
(`pip install .`) and `train` (`pip install torch==2.13.0 .[train]`, the CPU build of PyTorch). In each,
interleaved, `--repeats` times:

- `doodlelab --help`: wall time of the whole process, start to exit, and its CPU time;
- `doodlelab serve`: from starting the process until /api/health answers (ready) and until the first
  /api/predict is answered (the worker processes have loaded the classifier), and the CPU time of the
  server and its workers by then (less sensitive than wall time to other work on the machine);

and `du -s` of each environment. Prints a Markdown table and writes benchmarks/results/start.json. On a
shared machine every time is pessimistic: the load average is recorded with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import cpu_seconds, describe, machine, table, write

ROOT = Path(__file__).resolve().parent.parent
INSTALLS = {"base": ("", []), "train": ("[train]", ["torch==2.13.0"])}  # extras, packages installed first
ENV = {**os.environ, "PYTHONPATH": "", "DOODLELAB_PROGRESS": "0"}
DRAWING = {"drawing": [[[0, 100, 100, 0, 0], [0, 0, 100, 100, 0]]], "top": 5}


def build(venv: Path, install: str) -> float:
    """Create `venv` with this repository's `install`; the seconds pip took (0 when it already exists)."""
    if (venv / "bin" / "doodlelab").is_file():
        return 0.0
    extras, first = INSTALLS[install]
    with tempfile.TemporaryDirectory() as tmp:  # build from a copy: nothing is written into the tree
        source = Path(tmp) / "doodlelab"
        shutil.copytree(
            ROOT / "doodlelab", source / "doodlelab", ignore=shutil.ignore_patterns("__pycache__")
        )
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(ROOT / name, source / name)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        started = time.perf_counter()
        subprocess.run(
            [
                str(venv / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                *first,
                f"{source}{extras}",
            ],
            check=True,
            env=ENV,
        )
        return time.perf_counter() - started


def size_mib(path: Path) -> float:
    """`du -s` of `path` in MiB."""
    kib = int(
        subprocess.run(
            ["du", "-s", "-k", str(path.resolve())], capture_output=True, text=True, check=True
        ).stdout.split()[0]
    )
    return round(kib / 1024, 1)


def help_seconds(venv: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of `doodlelab --help`."""
    import resource

    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(
        [str(venv / "bin" / "doodlelab"), "--help"], check=True, env=ENV, stdout=subprocess.DEVNULL
    )
    wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_seconds(venv: Path) -> tuple[float, float, float]:
    """(seconds until /api/health answers, until the first /api/predict is answered, CPU seconds of the
    server and its workers by then)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    server = subprocess.Popen(
        [str(venv / "bin" / "doodlelab"), "serve", "--port", str(port)],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/health", timeout=60):
                    ready = time.perf_counter() - started
                break
            except OSError:
                if server.poll() is not None:
                    raise RuntimeError(f"serve failed:\n{server.stderr.read()[-3000:]}") from None
                time.sleep(0.005)
        request = urllib.request.Request(
            f"{url}/api/predict",
            data=json.dumps(DRAWING).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            assert answer.status == 200
        return ready, time.perf_counter() - started, cpu_seconds(server.pid)
    finally:
        server.terminate()
        server.wait(30)


def median(values: list[float]) -> float:
    return round(sorted(values)[len(values) // 2], 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of each measurement (default 5)")
    parser.add_argument(
        "--venvs",
        type=Path,
        default=Path(tempfile.gettempdir()) / "doodlelab-bench-start",
        help="where the two environments are built (reused when present)",
    )
    args = parser.parse_args()

    installs = {}
    for name in INSTALLS:
        venv = args.venvs / name
        seconds = build(venv, name)
        installs[name] = {"venv": str(venv), "pip_install_seconds": round(seconds, 1) or None}
    keys = ("help", "help_cpu", "serve_ready", "first_predict", "serve_cpu")
    times = {name: {key: [] for key in keys} for name in INSTALLS}
    for _ in range(args.repeats):  # interleaved, so a busy moment hits both installs alike
        for name in INSTALLS:
            venv = args.venvs / name
            for key, value in zip(keys, help_seconds(venv) + serve_seconds(venv)):
                times[name][key].append(value)
    rows, report = [], {"repeats": args.repeats, "installs": {}}
    for name in INSTALLS:
        venv = args.venvs / name
        figures = {
            key: {"median": median(v), "min": round(min(v), 3), "all": [round(x, 3) for x in v]}
            for key, v in times[name].items()
        }
        report["installs"][name] = installs[name] | {"size_mib": size_mib(venv)} | figures
        rows.append(
            [name, f"{report['installs'][name]['size_mib']:,.0f} MiB"]
            + [f"{figures[k]['median']:.2f} s (min {figures[k]['min']:.2f})" for k in figures]
        )
    info = machine()
    print(f"{describe(info)}; {args.repeats} runs each, medians\n")
    print(
        table(
            [
                "install",
                "du -s",
                "doodlelab --help",
                "its CPU time",
                "serve: /api/health answers",
                "serve: first predict answered",
                "its CPU time (server and workers)",
            ],
            rows,
        )
    )
    print(f"\nwrote {write('start', report)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
