"""Shared by the benchmarks: the machine they ran on (and how busy it was), `doodlelab serve` in its own
process, latency summaries, Markdown tables and the JSON result files in benchmarks/results/.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("numpy", "torch", "onnxruntime", "fastapi", "uvicorn", "doodlelab"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def machine() -> dict:
    """CPU, cores, memory, OS, package versions, and the load average when measured: a busy machine
    (load near or above the core count before a benchmark starts) makes its figures pessimistic."""
    info = {
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
    }
    cpuinfo, meminfo = Path("/proc/cpuinfo"), Path("/proc/meminfo")
    if cpuinfo.is_file():
        lines = cpuinfo.read_text().splitlines()
        names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
        info["cpu"] = names[0] if names else info["cpu"]
        flags = next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), [])
        # bfloat16 in hardware: PyTorch samples and trains in it, several times faster than without
        info["avx512_bf16"] = "avx512_bf16" in flags
    if meminfo.is_file():
        kb = int(meminfo.read_text().split("MemTotal:")[1].split()[0])
        info["memory_gb"] = round(kb / 2**20, 1)
    if hasattr(os, "getloadavg"):
        info["load_average_1min"] = round(os.getloadavg()[0], 2)
    return info | _versions()


def describe(info: dict) -> str:
    """One line: '2 x AMD EPYC (AVX-512 BF16), 23.5 GB, Python 3.11.7, load 0.1'."""
    load = f", load {info['load_average_1min']}" if "load_average_1min" in info else ""
    bf16 = " (AVX-512 BF16)" if info.get("avx512_bf16") else ""
    return (
        f"{info['cores']} x {info['cpu']}{bf16}, {info.get('memory_gb', '?')} GB, Python {info['python']}"
        f"{load}"
    )


def write(name: str, report: dict) -> Path:
    """Write `report` (with the machine added) to benchmarks/results/NAME.json."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine()} | report, indent=2) + "\n")
    return path


def percentiles(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p95, p99 and max in milliseconds (NaN when there are none)."""
    values = np.asarray(seconds, dtype=np.float64) * 1e3
    if not len(values):
        return {key: float("nan") for key in ("p50", "p95", "p99", "max")}
    out = {f"p{q}": round(float(np.percentile(values, q)), 2) for q in (50, 95, 99)}
    return out | {"max": round(float(values.max()), 2)}


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children, from /proc (0.0 where there is none)."""
    total, todo, tick = 0.0, [pid], os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return total


@dataclass
class Server:
    """A `doodlelab serve` process on loopback."""

    process: subprocess.Popen
    port: int

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.process.pid)


def source_env(source: Path | None) -> dict[str, str] | None:
    """The environment in which `python -m doodlelab` imports the package from `source`: first on
    PYTHONPATH, and the working directory not put before it (PYTHONSAFEPATH, Python 3.11+), else a
    checkout in the current directory would win."""
    if source is None:
        return None
    return {**os.environ, "PYTHONPATH": str(Path(source).resolve()), "PYTHONSAFEPATH": "1"}


def imported_from(source: Path | None) -> Path:
    """The folder `python -m doodlelab` in `source_env(source)` imports the package from."""
    code = "import doodlelab, pathlib; print(pathlib.Path(doodlelab.__file__).resolve().parent.parent)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=source_env(source)
    )
    return Path(done.stdout.strip())


@contextmanager
def serve(*args: str, timeout: float = 180, source: Path | None = None) -> Iterator[Server]:
    """Run `doodlelab serve ARGS` on a free loopback port in its own process (its logs kept aside, shown
    if it fails to start); yields once /api/health answers, stops it afterwards. `source`: a doodlelab
    source tree (say a `git worktree` of an earlier commit) whose package the server imports instead."""
    from doodlelab.web.local import loopback_socket

    with loopback_socket() as sock:
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "doodlelab", "serve", "--port", str(port), *args]
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, env=source_env(source))
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(
                        f"`{' '.join(command)}` did not start:\n{log.read().decode(errors='replace')[-3000:]}"
                    ) from None
                time.sleep(0.2)
        yield Server(process, port)
    finally:
        log.close()
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
