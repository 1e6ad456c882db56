"""Latency and throughput of `POST /api/predict` on real test drawings sent as the page sends them.

    python benchmarks/bench_api.py [--seconds 10] [--clients 1 8 32 64] [--drawings 300]

- In process, on one thread as in a server worker: the stroke pipeline for one whole raw drawing, the
  network at batch 1 and 64 (the served 8-bit export, and the float one), and a whole answer (JSON in,
  validation, pipeline, network, JSON out) alone and within a batch of 64.
- Over HTTP on loopback: `doodlelab serve` in its own process and 1, 8, 32, 64 closed-loop clients (a
  keep-alive connection each, sending its next request as soon as the last is answered) for --seconds
  each: requests/s, latency p50/p95/p99/max, errors, and the server's CPU time per request.

The bodies are what the page sends while a drawing is made: raw canvas coordinates with timestamps, the
strokes drawn so far every 300 ms and at the end of each stroke. Prints tables and writes
benchmarks/results/api.json.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from doodlelab.classifier.evaluate import to_raw
from doodlelab.data import cache

THROTTLE_MS = 300  # the page sends the drawing so far at most this often while drawing (app.js)


def canvas_drawings(n: int) -> list[list]:
    """n test-split stroke drawings as raw canvas JSON, timestamps from the first point (every 5th
    category, cycling)."""
    from doodlelab.data.categories import categories

    test = cache.load_split_arrays("test", categories()[::5])
    index = np.flatnonzero(test.drawing >= 0)
    rng = np.random.default_rng(0)
    out = []
    for i in rng.choice(index, n, replace=len(index) < n):
        raw, times = to_raw(test.strokes_of(int(i)), rng)
        start = times[0][0]
        out.append(
            [
                [s[:, 0].round(1).tolist(), s[:, 1].round(1).tolist(), (t - start).round().tolist()]
                for s, t in zip(raw, times)
            ]
        )
    return out


def page_requests(drawing: list, top: int = 5) -> list[bytes]:
    """The bodies the page sends while `drawing` is made: the strokes so far every THROTTLE_MS of drawing
    time, and the whole drawing so far at the end of each stroke."""

    def so_far(ms: float) -> list:
        strokes = [
            [xs[:k], ys[:k], ts[:k]]
            for xs, ys, ts in drawing
            if (k := int(np.searchsorted(ts, ms, side="right")))
        ]
        return strokes

    moments = list(np.arange(THROTTLE_MS, drawing[-1][2][-1], THROTTLE_MS)) + [s[2][-1] for s in drawing]
    return [json.dumps({"drawing": so_far(ms), "top": top}).encode() for ms in sorted(moments)]


def in_process(drawings: list[list], repeats: int = 200) -> dict:
    """Median milliseconds of the parts of an answer, in this process."""
    from doodlelab.classifier.recognizer import Recognizer
    from doodlelab.web.inference import Input, parse_drawing, predict_batch

    recognizer = Recognizer(threads=1)  # as in a server worker: the shipped engine (8-bit), one thread
    float_model = Recognizer(backend="onnx", threads=1)  # the float32-computing export, for comparison
    bodies = [json.dumps({"drawing": d, "top": 5}).encode() for d in drawings]
    bitmaps = np.stack([recognizer.rasterize(*parse_drawing(d)) for d in drawings[:64]])

    def median_ms(fn, n: int = repeats) -> float:
        fn(0)
        times = []
        for i in range(n):
            start = time.perf_counter()
            fn(i % len(drawings))
            times.append(time.perf_counter() - start)
        return round(float(np.median(times)) * 1e3, 3)

    return {
        "pipeline_whole_raw_drawing_ms": median_ms(
            lambda i: recognizer.rasterize(*parse_drawing(drawings[i]))
        ),
        "network_batch1_ms": median_ms(lambda i: recognizer.probabilities(bitmaps[:1])),
        "network_batch64_ms": median_ms(lambda i: recognizer.probabilities(bitmaps), 20),
        "float_network_batch1_ms": median_ms(lambda i: float_model.probabilities(bitmaps[:1])),
        "float_network_batch64_ms": median_ms(lambda i: float_model.probabilities(bitmaps), 20),
        "answer_alone_ms": median_ms(lambda i: predict_batch(recognizer, [Input(body=bodies[i])])),
        "answer_in_batch_of_64_ms": round(
            median_ms(lambda i: predict_batch(recognizer, [Input(body=b) for b in bodies[:64]]), 10) / 64, 3
        ),
        "network_backend": recognizer.backend,
    }


def over_http(bodies: list[bytes], clients: list[int], seconds: float) -> list[dict]:
    """Closed-loop runs against `doodlelab serve`, one per client count."""
    from common import percentiles, serve

    from doodlelab.web.local import run_client, run_load

    rows = []
    with serve() as server:
        run_client(run_load(server.port, bodies, max(clients), duration=2))  # warm-up
        for n in clients:
            cpu = server.cpu_seconds()
            samples = run_client(run_load(server.port, bodies, n, duration=seconds, keep_bodies=n == 1))
            cpu = server.cpu_seconds() - cpu
            ok = [s for s in samples if s.status == 200]
            row = {
                "clients": n,
                "requests": len(samples),
                "errors": len(samples) - len(ok),
                "requests_per_s": round(len(ok) / seconds, 1),
                "latency_ms": percentiles([s.done - s.sent for s in ok]),
                "server_cpu_ms_per_request": round(cpu / max(1, len(samples)) * 1e3, 2),
            }
            if n == 1:  # time inside the server, to compare with the round trip
                row["server_ms"] = percentiles([json.loads(s.body)["server_ms"] / 1e3 for s in ok])
            rows.append(row)
    return rows


def main() -> None:
    from common import describe, machine, table, write

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10, help="duration of each HTTP run")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--drawings", type=int, default=300)
    args = parser.parse_args()
    drawings = canvas_drawings(args.drawings)
    bodies = [body for d in drawings for body in page_requests(d)]
    local = in_process(drawings)
    http = over_http(bodies, args.clients, args.seconds)
    sizes = [len(b) for b in bodies]
    report = {
        "drawings": len(drawings),
        "requests_per_drawing": round(len(bodies) / len(drawings), 1),
        "median_body_bytes": int(np.median(sizes)),
        "in_process": local,
        "http_closed_loop": {"seconds_per_run": args.seconds, "runs": http},
    }
    path = write("api", report)
    print(f"in process ({local['network_backend']}), median ms:")
    print(table(list(local)[:-1], [[v for k, v in local.items() if k != "network_backend"]]))
    print(
        f"\nPOST /api/predict over loopback, closed loop, {args.seconds:g} s per row, {describe(machine())}:"
    )
    header = ["clients", "requests/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors", "server CPU ms/req"]
    rows = [
        [
            r["clients"],
            r["requests_per_s"],
            *r["latency_ms"].values(),
            r["errors"],
            r["server_cpu_ms_per_request"],
        ]
        for r in http
    ]
    print(table(header, rows))
    if http and "server_ms" in http[0]:
        print(
            f"\none client: server_ms p50 {http[0]['server_ms']['p50']} vs round trip "
            f"{http[0]['latency_ms']['p50']} ms"
        )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
