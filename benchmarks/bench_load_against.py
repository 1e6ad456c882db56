"""The load benchmark, alternating between this tree's server and an earlier one's, to tell a change from
the host's mood (a shared host can move a run's CPU per request by a fifth within the hour).

    git worktree add /tmp/before 6840ca7
    python benchmarks/bench_load_against.py /tmp/before [--pairs 8] [--seconds 60] [--out NAME]

Each pair runs bench_load.run (64 open-loop clients x 8 requests/s, the same client and bodies) against
`doodlelab serve` from this tree, then from the other tree (its package first on the server's
PYTHONPATH, the working folder kept off sys.path, checked before the first run; serving that tree's
shipped classifier), with 5 s between runs. Prints each run and a
summary per server; writes benchmarks/results/NAME.json (load_against) with every run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from pathlib import Path

from bench_api import canvas_drawings, page_requests
from bench_load import TARGETS, run, verdict
from common import RESULTS, imported_from, machine, table, write


def commit_of(tree: Path) -> str:
    """The short commit a source tree is at, with '+' when it has uncommitted changes."""
    head = subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "-C", str(tree), "status", "--porcelain", "-uno"], capture_output=True, text=True
    )
    return head.stdout.strip() + ("+" if dirty.stdout.strip() else "") if head.returncode == 0 else "?"


def summary(runs: list[dict]) -> list:
    """[runs, p99 of each, runs meeting every target, median (range) of server CPU ms per request]."""
    cpu = [r["server_cpu_ms_per_request"] for r in runs]
    return [
        len(runs),
        ", ".join(f"{r['latency_ms']['p99']:g}" for r in runs),
        f"{sum(all(verdict(r).values()) for r in runs)} of {len(runs)}",
        f"{statistics.median(cpu):.2f} ({min(cpu):.2f} to {max(cpu):.2f})",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, help="a doodlelab source tree, e.g. a git worktree of a commit")
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--drawings", type=int, default=300)
    parser.add_argument("--out", default="load_against", help="results name (default: load_against)")
    args = parser.parse_args()
    if args.pairs < 1:
        parser.error("--pairs must be at least 1")
    if not (args.other / "doodlelab" / "__init__.py").is_file():
        parser.error(f"{args.other} is not a doodlelab source tree (no doodlelab/__init__.py)")
    here = RESULTS.parent.parent
    found = imported_from(args.other)
    if found != args.other.resolve():  # else both runs of a pair would serve the same code
        parser.error(f"a server started for {args.other} imports doodlelab from {found}")
    servers = {f"this tree ({commit_of(here)})": None, f"{args.other} ({commit_of(args.other)})": args.other}
    at_start = machine()
    bodies = [body for drawing in canvas_drawings(args.drawings) for body in page_requests(drawing)]
    runs: dict[str, list[dict]] = {name: [] for name in servers}
    for pair in range(args.pairs):
        for name, source in servers.items():
            load = round(os.getloadavg()[0], 2)
            result = run(bodies, 64, 8.0, args.seconds, 10.0, source=source)
            result.update(
                server=name, pair=pair, utc=time.strftime("%H:%M:%S", time.gmtime()), load_at_start=load
            )
            runs[name].append(result)
            print(
                f"{result['utc']} {name}: p99 {result['latency_ms']['p99']} ms, "
                f"{result['server_cpu_ms_per_request']} ms of server CPU per request",
                flush=True,
            )
            time.sleep(5)
    every = [r for pair in zip(*runs.values()) for r in pair]
    path = write(
        args.out, {"machine_at_start": at_start, "targets": TARGETS, "servers": list(servers), "runs": every}
    )
    headers = ["server", "runs", "p99 ms, each run", "all targets met", "server CPU ms/req, median (range)"]
    print(table(headers, [[name, *summary(r)] for name, r in runs.items()]))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
