"""The acceptance load for `POST /api/predict`: many people drawing at once, on loopback.

    python benchmarks/bench_load.py [--clients 64] [--rate 8] [--seconds 60] [--weights W] [--out NAME]

How the load is modelled: each client is one keep-alive connection standing for a person drawing. The
page sends the drawing so far at most every 300 ms while drawing (about 3.3 requests/s), so 8 requests/s
per client is a busy classroom and 64 clients offer 512 requests/s. The clients are open-loop: request k
of a client is scheduled at start + phase + k / rate whatever happened before, and its latency counts
from that scheduled time, so a slow answer counts against the requests queued behind it (no coordinated
omission). A closed loop of 64 clients with no pause could not meet the targets at any speed: by
Little's law, 64 requests always in flight at 500 requests/s take 128 ms each on average; the
closed-loop maximum throughput for 1 to 64 clients is measured by bench_api.py.

Targets: 0 errors, p99 <= 25 ms and >= 500 requests/s answered, over 60 s at 64 clients. The bodies are
real test drawings as the page sends them (bench_api.page_requests); the server is `doodlelab serve` in
its own process, the client (asyncio on uvloop, hand-written HTTP/1.1) runs here on the same cores and
reports its CPU time too. Measure on an otherwise quiet machine: the load average at the start is recorded.
Prints a table and writes benchmarks/results/load.json.
"""

from __future__ import annotations

import argparse
import resource
from collections import Counter
from pathlib import Path

from bench_api import canvas_drawings, page_requests
from common import describe, machine, percentiles, serve, table, write

from doodlelab.web.local import run_client, run_load

TARGETS = {"errors": 0, "p99_ms": 25.0, "requests_per_s": 500.0}


def client_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(
    bodies: list[bytes],
    clients: int,
    rate: float,
    seconds: float,
    timeout: float,
    args: tuple = (),
    source: Path | None = None,
) -> dict:
    with serve(*args, source=source) as server:
        run_client(run_load(server.port, bodies, clients, duration=3, rate=rate))  # warm-up
        server_cpu, client_cpu = server.cpu_seconds(), client_cpu_seconds()
        samples = run_client(
            run_load(server.port, bodies, clients, duration=seconds, rate=rate, timeout=timeout)
        )
        server_cpu, client_cpu = server.cpu_seconds() - server_cpu, client_cpu_seconds() - client_cpu
    ok = [s for s in samples if s.status == 200]
    failed = Counter(str(s.status) for s in samples if s.status != 200)  # status 0: no answer in time
    span = max(s.done for s in samples) - min(s.scheduled for s in samples)
    late = [s.sent - s.scheduled for s in samples]
    return {
        "clients": clients,
        "rate_per_client": rate,
        "seconds": seconds,
        "offered_per_s": round(clients * rate, 1),
        "requests": len(samples),
        "answered_per_s": round(len(ok) / span, 1),
        "errors": len(samples) - len(ok),
        "errors_by_status": dict(failed),
        "latency_ms": percentiles([s.latency for s in ok]),  # from the scheduled send time
        "service_ms": percentiles([s.done - s.sent for s in ok]),  # from the actual send time
        "send_lag_ms": percentiles(late),  # how late the client sent (its own or the server's fault)
        "server_cpu_ms_per_request": round(server_cpu / len(samples) * 1e3, 3),
        "client_cpu_ms_per_request": round(client_cpu / len(samples) * 1e3, 3),
        "cpu_cores_used": round((server_cpu + client_cpu) / span, 2),
    }


def verdict(result: dict) -> dict[str, bool]:
    return {
        "errors": result["errors"] <= TARGETS["errors"],
        "p99_ms": result["latency_ms"]["p99"] <= TARGETS["p99_ms"],
        "requests_per_s": result["answered_per_s"] >= TARGETS["requests_per_s"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--rate", type=float, default=8.0, help="requests per second per client")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds before a request is an error")
    parser.add_argument("--drawings", type=int, default=300)
    parser.add_argument("--weights", type=Path, default=None, help="classifier to serve (default: shipped)")
    parser.add_argument("--out", default="load", help="results name: benchmarks/results/NAME.json (load)")
    args = parser.parse_args()
    at_start = machine()
    bodies = [body for drawing in canvas_drawings(args.drawings) for body in page_requests(drawing)]
    served = ("--weights", str(args.weights)) if args.weights else ()
    result = run(bodies, args.clients, args.rate, args.seconds, args.timeout, served)
    passed = verdict(result)
    weights = {"weights": str(args.weights) if args.weights else "shipped"}
    path = write(
        args.out, {"machine_at_start": at_start, "targets": TARGETS, "passed": passed, **weights, **result}
    )
    print(
        f"POST /api/predict, {args.clients} open-loop clients x {args.rate:g} requests/s for "
        f"{args.seconds:g} s on loopback; {describe(at_start)} at the start:"
    )
    latency, service = result["latency_ms"], result["service_ms"]
    print(
        table(
            [
                "offered/s",
                "answered/s",
                "errors",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "max ms",
                "service p99 ms",
                "server CPU ms/req",
                "client CPU ms/req",
                "cores busy",
            ],
            [
                [
                    result["offered_per_s"],
                    result["answered_per_s"],
                    result["errors"],
                    latency["p50"],
                    latency["p95"],
                    latency["p99"],
                    latency["max"],
                    service["p99"],
                    result["server_cpu_ms_per_request"],
                    result["client_cpu_ms_per_request"],
                    result["cpu_cores_used"],
                ]
            ],
        )
    )
    print("targets: " + ", ".join(f"{key} {'met' if ok else 'MISSED'}" for key, ok in passed.items()))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
