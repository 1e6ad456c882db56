"""Recognition in the browser: per-guess time in Chromium and the bytes the page downloads on first load.

    python benchmarks/bench_browser.py [--drawings 300]

`doodlelab serve` runs in its own process; Debian's Chromium (Playwright, headless) opens the page once in
a fresh context (empty cache) and records every response until its engine is ready: bytes per file and in
all. Then, on real test drawings sent as the page sends them (raw canvas coordinates with timestamps):

- in the worker: the time recognizer-worker.js reports for each guess (pipeline.js rasterizes the
  strokes, the 8-bit classifier runs in ONNX Runtime Web on one WebAssembly thread);
- on the page: the page's own engine (engine.js: the message to the worker and back), as its label shows;
- digits: mlp.js on the page's thread (rasterize, MNIST's layout, three matrix products);
- the server, for comparison: POST /api/predict from the page (fetch to answer, loopback).

Each is timed one guess after the other, after a warm-up: min, p10, median, p95, p99, max in ms (on a
shared machine the low end is the closest to an idle one's figures); and how often the browser's first
guess is the server's. Prints tables and writes benchmarks/results/browser.json.
"""

from __future__ import annotations

import argparse

import numpy as np
from bench_api import canvas_drawings
from common import describe, machine, percentiles, serve, table, write

CHROMIUM = "/usr/bin/chromium"
TARGET_MS = 15  # issue 22: the median per guess in the browser

TIMINGS = """async (drawings) => {
  const engine = window.doodlelabEngine;
  const worker = new Worker('/static/recognizer-worker.js?models=/models/&model=int8', {type: 'module'});
  await new Promise((ok, fail) => {
    worker.onmessage = ({data}) => (data.type === 'ready' ? ok() : fail(new Error(data.error)));
  });
  const ask = (id, drawing) => new Promise((ok) => {
    worker.onmessage = ({data}) => ok(data.ms);
    worker.postMessage({id, drawing, top: 5});
  });
  const timed = async (f) => { const t = performance.now(); await f(); return performance.now() - t; };
  const headers = {'Content-Type': 'application/json'};
  const server = (drawing) => fetch('/api/predict', {method: 'POST', headers,
                                                     body: JSON.stringify({drawing, top: 5})})
    .then((r) => r.json());
  for (const d of drawings.slice(0, 10)) {  // warm-up
    await ask(-1, d);
    await engine.classify('digits', d, 5);
    await server(d);
  }
  const out = {worker: [], page: [], digits: [], server: []}, same = [];
  for (const [i, d] of drawings.entries()) {
    out.worker.push(await ask(i, d));
    const t = performance.now(), guess = await engine.classify('doodles', d, 5);
    out.page.push(performance.now() - t);
    out.digits.push((await engine.classify('digits', d, 5)).ms);
    let answer;
    out.server.push(await timed(async () => { answer = await server(d); }));
    same.push(guess.predictions[0].category === answer.predictions[0].category);
  }
  worker.terminate();
  return {times: out, same};
}"""


def first_load(browser, url: str) -> tuple[dict[str, int], str]:
    """(path -> bytes of each response until the page's engine is ready, where it computes)."""
    context = browser.new_context()
    sizes: dict[str, int] = {}

    def record(response) -> None:
        path = response.url.split("://", 1)[1].split("/", 1)[1].split("?")[0]
        try:  # Chromium reports 0 for a worker's own script: its Content-Length then
            size = response.request.sizes()["responseBodySize"] or int(
                response.headers.get("content-length", 0)
            )
        except Exception:  # a response without a body (a redirect, an aborted request)
            return
        sizes["/" + path] = sizes.get("/" + path, 0) + size

    context.on("response", record)
    page = context.new_page()
    page.goto(url)
    page.wait_for_function(
        "window.doodlelabEngine && window.doodlelabEngine.where !== 'loading'", timeout=120_000
    )
    where = page.evaluate("window.doodlelabEngine.where")
    page.wait_for_timeout(1000)  # the favicon, late answers
    context.close()
    return sizes, where


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drawings", type=int, default=300, help="test drawings to time (default 300)")
    parser.add_argument("--note", default="", help="a word on the host (shared? busy?) for the JSON")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    drawings = canvas_drawings(args.drawings)
    info = machine()
    print(f"machine: {describe(info)}")
    with serve() as server, sync_playwright() as p:
        url = f"http://127.0.0.1:{server.port}/"
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            sizes, where = first_load(browser, url)
            if where != "browser":
                raise SystemExit(f"the page's engine is {where!r}, not the browser: nothing to time")
            page = browser.new_page()
            page.goto(url)
            page.wait_for_function(
                "window.doodlelabEngine && window.doodlelabEngine.where === 'browser'", timeout=120_000
            )
            version = browser.version
            measured = page.evaluate(TIMINGS, drawings)
        finally:
            browser.close()
    summary = {
        name: {"min": round(min(values), 2), "p10": round(float(np.percentile(values, 10)), 2)}
        | percentiles([ms / 1e3 for ms in values])
        for name, values in measured["times"].items()
    }
    agreement = sum(measured["same"]) / len(measured["same"])
    labels = {
        "worker": "doodles, in the worker (rasterize + 8-bit model)",
        "page": "doodles, the page's engine (to the worker and back)",
        "digits": "digits, mlp.js on the page's thread",
        "server": "doodles, the server (POST /api/predict from the page)",
    }
    print(
        table(
            ["per guess", "min ms", "p10 ms", "median ms", "p95 ms", "p99 ms", "max ms"],
            [
                [labels[k], v["min"], v["p10"], v["p50"], v["p95"], v["p99"], v["max"]]
                for k, v in summary.items()
            ],
        )
    )
    total = sum(sizes.values())
    print(
        table(
            ["first load", "bytes"],
            [[path, f"{n:,}"] for path, n in sorted(sizes.items())] + [["all", f"{total:,}"]],
        )
    )
    print(f"first guess in the browser = the server's: {agreement:.1%} of {len(drawings)} drawings")
    median = summary["worker"]["p50"]
    print(
        f"median per guess in the worker: {median} ms (target <= {TARGET_MS} ms: "
        f"{'met' if median <= TARGET_MS else 'NOT met'})"
    )
    path = write(
        "browser",
        {
            "chromium": version,
            "drawings": len(drawings),
            "per_guess_ms": summary,
            "target_median_ms": TARGET_MS,
            "same_first_guess_as_server": agreement,
            "note": args.note,
            "first_load_bytes": {"total": total, "files": dict(sorted(sizes.items()))},
        },
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
