"""Run the benchmarks, one after the other, and record the machine they ran on.

    python benchmarks/run_all.py [--quick]

In turn, each in its own process (never two at once, they would slow each other down): bench_api.py
(/api/predict in process, and over loopback with 1 to 64 closed-loop clients), bench_load.py (the 60 s
acceptance load, 64 open-loop clients), bench_train.py (classifier training images/s),
bench_generate.py (generation), bench_fairness.py (GAN and predict latency while the largest diffusion
request is queued twice; the 503's Retry-After), bench_sketch.py (the stroke model: one doodle, 16, one
completion) and bench_sketch_page.py (from a click in Chromium to the first point drawn). Each prints its
table and writes benchmarks/results/NAME.json; this also writes benchmarks/results/machine.json. About 8
minutes; --quick runs each briefly (about 3 minutes) to check that they work, not for the figures. Run it
on an otherwise quiet machine: it warns when the load average says other work is running.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from common import RESULTS, describe, machine

HERE = Path(__file__).resolve().parent
BENCHMARKS = {  # script -> (arguments for the figures, arguments with --quick)
    "bench_api.py": ([], ["--seconds", "3", "--drawings", "60"]),
    "bench_load.py": ([], ["--seconds", "10", "--drawings", "60"]),
    "bench_train.py": ([], ["--categories", "4", "--steps", "5", "--batches", "2"]),
    "bench_generate.py": (
        [],
        ["--categories-every", "35", "--per-category", "1", "--repeats", "1", "--no-ddpm"],
    ),
    "bench_fairness.py": ([], ["--repeats", "2"]),
    "bench_sketch.py": ([], ["--repeats", "1"]),
    "bench_sketch_page.py": ([], ["--repeats", "2"]),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs, to check the benchmarks work")
    args = parser.parse_args()
    info = machine()
    busy = info.get("load_average_1min", 0) > 0.5 * info["cores"]
    print(f"machine: {describe(info)}" + ("  <- busy: the figures will be pessimistic" if busy else ""))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "machine.json").write_text(json.dumps(info, indent=2) + "\n")
    failed, times = [], {}
    for script, (full, quick) in BENCHMARKS.items():
        if not (HERE / script).is_file():
            print(f"\n== {script}: not there yet, skipped")
            continue
        print(f"\n== {script}", flush=True)
        start = time.perf_counter()
        command = [sys.executable, str(HERE / script), *(quick if args.quick else full)]
        done = subprocess.run(command, cwd=HERE)
        times[script] = round(time.perf_counter() - start)
        if done.returncode != 0:
            failed.append(script)
    print(f"\nseconds per benchmark: {times}; results in {RESULTS}")
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
