"""doodlelab.js, the embeddable module, in real Chromium against the real app: the shipped int8 classifier run
by ONNX Runtime Web names test-split drawings as the Python Recognizer (the server's) does, in the page and in
its Web Worker; bad input is a clear Error; /models/ serves the exports; the vendored ONNX Runtime Web files
are the pinned ones (scripts/vendor_onnxruntime_web.py refuses changed bytes, checked without network)."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil

import httpx
import numpy as np
import pytest

from tests.web.pagekit import ROOT, require_browser

WEIGHTS = ROOT / "doodlelab" / "weights"
JS_TIMEOUT = 20_000  # ms per call: a classify that neither answers nor throws fails instead of hanging


def vendor_script():
    path = ROOT / "scripts" / "vendor_onnxruntime_web.py"
    spec = importlib.util.spec_from_file_location("vendor_onnxruntime_web", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_vendored_files_are_the_pinned_ones():
    vendor = vendor_script()
    checked = vendor.check(vendor.OUT)
    assert sorted(p.name for p in checked) == ["ort-wasm-simd-threaded.wasm", "ort.wasm.bundle.min.mjs"]
    header = (vendor.OUT / "ort.wasm.bundle.min.mjs").read_text(encoding="utf-8")[:200]
    assert f"ONNX Runtime Web v{vendor.VERSION}" in header
    assert "MIT License" in (vendor.OUT / "LICENSE").read_text(encoding="utf-8")


def test_checksum_refuses_a_changed_file(tmp_path):
    vendor = vendor_script()
    copy = tmp_path / "onnxruntime-web"
    shutil.copytree(vendor.OUT, copy)
    assert len(vendor.check(copy)) == 2
    wasm = copy / "ort-wasm-simd-threaded.wasm"
    data = bytearray(wasm.read_bytes())
    data[len(data) // 2] ^= 1  # one bit
    wasm.write_bytes(bytes(data))
    with pytest.raises(vendor.ChecksumError, match="ort-wasm-simd-threaded.wasm: sha256"):
        vendor.check(copy)
    tarball = tmp_path / "onnxruntime-web.tgz"  # what the script does with a download: verify, then unpack
    tarball.write_bytes(b"not the pinned tarball")
    with pytest.raises(vendor.ChecksumError, match="expected " + vendor.SHA256):
        vendor.verify(tarball.read_bytes(), vendor.SHA256, "tarball")


@pytest.fixture(scope="module")
def drawings() -> list:
    """Test-split stroke drawings as the API takes them (JSON lists): 8 from each of 30 categories drawn
    at random (seeded); every other one raw, as a 600 x 600 canvas sends it (pixels, times in ms)."""
    from doodlelab.data import cache
    from doodlelab.data import strokes as pipeline
    from doodlelab.data.categories import categories

    names = sorted(np.random.default_rng(0).choice(list(categories()), 30, replace=False))
    try:
        a = cache.load_split_arrays("test", names)
    except Exception as exc:  # no data on this machine
        pytest.skip(f"no Quick, Draw! data ({exc})")
    out = []
    for label in np.unique(a.labels):
        items = [i for i in np.flatnonzero(a.labels == label) if a.drawing[i] >= 0][:8]
        out += [pipeline.to_json(a.strokes_of(int(i))) for i in items]
    for d in out[1::2]:
        for j, (xs, ys) in enumerate(d):
            d[j] = [
                [x * 2 + 37.5 for x in xs],
                [y * 2 + 12.25 for y in ys],
                [1000 * j + 30 * i for i in range(len(xs))],
            ]
    if len(out) < 100:
        pytest.skip("too few stroke drawings in the test split")
    return out


@pytest.fixture(scope="module")
def expected(drawings, recognizer) -> np.ndarray:
    """(N, 345) probabilities of the drawings as the server computes them (its parse, rasterize, model)."""
    from doodlelab.web.inference import parse_drawing

    bitmaps = [recognizer.rasterize(*parse_drawing(d)) for d in drawings]
    return recognizer.probabilities(np.stack(bitmaps))


@pytest.fixture(scope="module")
def module_page(browser, base_url):
    """A blank page on the server's origin, with `window.recognizer` loaded from /models/ (main thread)."""
    require_browser()
    context = browser.new_context()
    page = context.new_page()
    page.route(
        base_url + "/blank.html",
        lambda route: route.fulfill(body="<!doctype html><title>t</title>", content_type="text/html"),
    )
    page.goto(base_url + "/blank.html")
    page.evaluate("""async () => {
        window.doodlelab = await import("/static/doodlelab.js");
        window.recognizer = await doodlelab.Recognizer.load("/models/");
    }""")
    yield page
    context.close()


def run_js(page, body: str, arg=None, calls: int = 1):
    """Evaluate the async function body `body` (argument `arg`) in the page; fail after JS_TIMEOUT ms for
    each of its `calls` calls (a busy host slows them all)."""
    return page.evaluate(
        f"""async (arg) => {{
        const work = (async () => {{ {body} }})();
        const late = new Promise((_, no) => setTimeout(() => no(new Error("hung")), {JS_TIMEOUT * calls}));
        return Promise.race([work, late]);
    }}""",
        arg,
    )


def test_models_are_served_for_the_browser(base_url, recognizer):
    with httpx.Client(base_url=base_url) as client:
        model = client.get("/models/classifier.int8.onnx")
        assert model.status_code == 200
        assert model.content == (WEIGHTS / "classifier.int8.onnx").read_bytes()
        card = client.get("/models/classifier.int8.onnx.json").json()
        assert card["classes"] == recognizer.classes and card["temperature"] == recognizer.temperature
        assert client.get("/models/classifier.onnx").content == (WEIGHTS / "classifier.onnx").read_bytes()
        assert client.get("/models/mlp_digits.npz").content == (WEIGHTS / "mlp_digits.npz").read_bytes()
        for name in ("classifier.safetensors", "classifier.json", "diffusion.onnx"):
            response = client.get(f"/models/{name}")
            assert response.status_code == 404 and "no model file" in response.json()["detail"]
        assert client.get("/models/..%2Fweb%2Fapp.py").status_code == 404


def test_module_names_test_drawings_as_the_server(module_page, drawings, expected, recognizer):
    guesses = run_js(
        module_page,
        """
        const out = [];
        for (const d of arg) out.push(await recognizer.classify(d, {top: 5}));
        return out;""",
        drawings,
        calls=len(drawings),
    )
    assert all(len(g) == 5 for g in guesses)
    first = [g[0]["category"] for g in guesses]
    agree = np.mean([f == recognizer.classes[i] for f, i in zip(first, expected.argmax(axis=1))])
    assert agree >= 0.97, f"same first guess as the server on {agree:.1%} of {len(drawings)} drawings"
    index = {c: i for i, c in enumerate(recognizer.classes)}
    diff = np.array(
        [abs(g["probability"] - p[index[g["category"]]]) for gs, p in zip(guesses, expected) for g in gs]
    )
    assert np.median(diff) < 0.01 and diff.max() < 0.1, (np.median(diff), diff.max())
    for gs in guesses:  # best first, calibrated probabilities
        probs = [g["probability"] for g in gs]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6


def test_worker_answers_as_the_main_thread(module_page, drawings):
    sample = drawings[:24]
    result = run_js(
        module_page,
        """
        const inWorker = await doodlelab.Recognizer.load("/models/", {worker: true});
        const worker = [], main = [];
        for (const d of arg) {
            worker.push(await inWorker.classify(d, {top: 3}));
            main.push(await recognizer.classify(d, {top: 3}));
        }
        await inWorker.close();
        return {worker, main, flag: inWorker.inWorker};""",
        sample,
        calls=len(sample),
    )
    assert result["flag"] is True
    for w, m in zip(result["worker"], result["main"]):
        assert [g["category"] for g in w] == [g["category"] for g in m]
        assert np.allclose([g["probability"] for g in w], [g["probability"] for g in m], atol=1e-6)


def test_worker_protocol(module_page, drawings):
    """recognizer-worker.js as the page uses it: {id, drawing, top} -> {id, guesses, ms} or {id, error}."""
    answers = run_js(
        module_page,
        """
        const worker = new Worker("/static/recognizer-worker.js?models=/models/", {type: "module"});
        const messages = [];
        const done = new Promise((resolve) => {
            worker.onmessage = ({data}) => { messages.push(data); if (messages.length === 3) resolve(); };
        });
        worker.postMessage({id: 7, drawing: arg, top: 3});
        worker.postMessage({id: 8, drawing: [], top: 3});
        await done;
        worker.terminate();
        return messages;""",
        drawings[0],
    )
    ready, answers = answers[0], {m["id"]: m for m in answers[1:]}  # answers come as they are ready
    good, bad = answers[7], answers[8]
    assert ready["type"] == "ready" and len(ready["card"]["classes"]) == 345 and ready["model"] == "int8"
    assert good["id"] == 7 and len(good["guesses"]) == 3 and good["ms"] > 0
    assert bad["id"] == 8 and "guesses" not in bad and bad["error"]


BAD = {  # JS expression of a drawing or top -> what the Error message names
    "[[[0, NaN], [0, 5]]]": "finite|number|NaN",
    "[]": "no strokes|empty|non-empty",
    "[[[], []]]": "no points|empty",
    "[[[0, 1e9], [0, 5]]]": "range|limit",
    "'a bicycle'": "list|array|strokes",
    "null": "list|array|strokes",
    "[[[0, 10], [0]]]": "length|equal",
}


@pytest.mark.parametrize("worker", [False, True], ids=["main-thread", "worker"])
def test_bad_input_throws_a_clear_error(module_page, drawings, worker):
    cases = {
        **{f"classify({d})": m for d, m in BAD.items()},
        **{f"classify(arg, {{top: {t}}})": "top" for t in ("0", "1000", "2.5", "'5'")},
    }
    errors = run_js(
        module_page,
        f"""
        const r = {"await doodlelab.Recognizer.load('/models/', {worker: true})" if worker else "recognizer"};
        const out = {{}};
        for (const call of {json.dumps(list(cases))}) {{
            try {{ await eval("r." + call); out[call] = null; }}
            catch (e) {{ out[call] = (e instanceof Error) ? e.message : "not an Error: " + String(e); }}
        }}
        out.after = (await r.classify(arg, {{top: 1}})).length;  // still answers
        return out;""",
        drawings[0],
        calls=len(cases) + 2,
    )
    assert errors.pop("after") == 1
    for call, pattern in cases.items():
        assert errors[call] is not None, f"{call} did not throw"
        assert re.search(pattern, errors[call], re.IGNORECASE), (call, errors[call])


@pytest.mark.parametrize("worker", [False, True], ids=["main-thread", "worker"])
def test_load_from_a_folder_without_the_model_fails_clearly(module_page, worker):
    message = run_js(
        module_page,
        """
        try { await doodlelab.Recognizer.load("/nowhere/", {worker: arg}); return null; }
        catch (e) { return e.message; }""",
        worker,
    )
    assert message is not None and "cannot load" in message and "/nowhere/classifier.int8.onnx" in message
    assert "404" in message


def test_concurrent_guesses_all_answer_as_one_at_a_time(module_page, drawings):
    """A page that asks again before the last answer came (as while drawing) gets every answer, each the
    one it would get alone (one ONNX session runs one guess at a time)."""
    result = run_js(
        module_page,
        """
        const alone = [];
        for (const d of arg) alone.push((await recognizer.classify(d, {top: 2}))[0].category);
        const together = (await Promise.all(arg.map((d) => recognizer.classify(d, {top: 2}))))
            .map((g) => g[0].category);
        return {alone, together};""",
        drawings[:12],
        calls=24,
    )
    assert result["together"] == result["alone"]
