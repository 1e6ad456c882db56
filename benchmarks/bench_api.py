"""Server-side and round-trip latency of `POST /api/predict` on real test drawings, sent as a browser
canvas would send them (raw float coordinates with timestamps), one request at a time on loopback.

    python benchmarks/bench_api.py [--requests 500]

Prints a table and writes benchmarks/results/api.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from doodlelab.classifier.evaluate import to_raw
from doodlelab.data import cache
from doodlelab.web.app import create_app
from doodlelab.web.local import serving

RESULTS = Path(__file__).resolve().parent / "results" / "api.json"


def canvas_drawings(n: int) -> list[list]:
    """n test-split stroke drawings as raw canvas JSON (every 5th category, cycling)."""
    from doodlelab.data.categories import categories

    test = cache.load_split_arrays("test", categories()[::5])
    index = np.flatnonzero(test.drawing >= 0)
    rng = np.random.default_rng(0)
    out = []
    for i in rng.choice(index, n, replace=len(index) < n):
        raw, times = to_raw(test.strokes_of(int(i)), rng)
        out.append([[s[:, 0].round(1).tolist(), s[:, 1].round(1).tolist(), t.round().tolist()]
                    for s, t in zip(raw, times)])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    drawings = canvas_drawings(args.requests)
    server_ms, client_ms = [], []
    with serving(create_app()) as client:
        for drawing in drawings[:20]:  # warm-up
            client.post("/api/predict", json={"drawing": drawing})
        for drawing in drawings:
            start = time.perf_counter()
            answer = client.post("/api/predict", json={"drawing": drawing, "top": 5})
            client_ms.append((time.perf_counter() - start) * 1e3)
            answer.raise_for_status()
            server_ms.append(answer.json()["server_ms"])
    points = [sum(len(s[0]) for s in d) for d in drawings]

    def summary(values: list[float]) -> dict:
        return {f"p{q}": round(float(np.percentile(values, q)), 2) for q in (50, 95, 99)}

    report = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "python": platform.python_version(),
              "requests": len(drawings), "median_points_per_drawing": int(np.median(points)),
              "server_ms": summary(server_ms), "round_trip_ms": summary(client_ms)}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print("| /api/predict, one client | p50 | p95 | p99 |\n|---|---|---|---|")
    for key in ("server_ms", "round_trip_ms"):
        row = report[key]
        print(f"| {key.replace('_', ' ')} | {row['p50']} | {row['p95']} | {row['p99']} |")


if __name__ == "__main__":
    main()
