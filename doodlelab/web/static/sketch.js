// doodlelab page, the stroke model: "Finish my drawing" continues the person's strokes on the canvas in
// another colour as the category typed beside it, else the top guess, drawn point by point at a human pace
// (POST /api/complete; one Undo takes them all back), and the helpers generate.js uses to draw generated
// doodles stroke by stroke and to download them as SVG or ndjson (window.doodlelabSketch). Shown only when
// the server has a stroke model. No build step.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const POINT_MS = 15; // animation pace: ms per point (people's simplified strokes: a point every ~10-30 ms)
  const PAUSE_MS = 150; // ms between strokes, the pen lifted
  const LINE = 16; // stroke width in the 0..255 box, as Google's renderer and sketch_io.svg draw
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  /** Play strokes ([[xs], [ys]] each) point by point: `paint(finished strokes, partial stroke or null)`
   * after each point; stops early (false) once `alive()` is false. */
  async function play(strokes, paint, alive = () => true) {
    const done = [];
    for (const [xs, ys] of strokes) {
      for (let k = 1; k <= xs.length; k++) {
        if (!alive()) return false;
        paint(done, [xs.slice(0, k), ys.slice(0, k)]);
        await sleep(POINT_MS);
      }
      done.push([xs, ys]);
      if (!alive()) return false;
      await sleep(PAUSE_MS);
    }
    paint(done, null);
    return true;
  }

  /** Draw simplified strokes (0..255) on a small canvas, black on white, scaled to fit with a margin. */
  function paintSimplified(canvas, strokes) {
    const g = canvas.getContext("2d");
    const scale = (canvas.width * 0.86) / 256, margin = canvas.width * 0.07;
    g.fillStyle = "#fff";
    g.fillRect(0, 0, canvas.width, canvas.height);
    Object.assign(g, { strokeStyle: "#111", lineWidth: LINE * scale * 0.6, lineCap: "round", lineJoin: "round" });
    for (const [xs, ys] of strokes) {
      g.beginPath();
      g.moveTo(margin + xs[0] * scale, margin + ys[0] * scale);
      if (xs.length === 1) g.lineTo(margin + xs[0] * scale + 0.01, margin + ys[0] * scale);
      for (let i = 1; i < xs.length; i++) g.lineTo(margin + xs[i] * scale, margin + ys[i] * scale);
      g.stroke();
    }
  }

  /** Simplified drawings as one SVG grid (4 columns of 256-unit cells), as `doodlelab generate` writes. */
  function svg(drawings, columns = 4, cell = 256) {
    const rows = Math.ceil(drawings.length / columns), pad = LINE;
    const w = Math.min(columns, drawings.length) * cell + 2 * pad, h = rows * cell + 2 * pad;
    const parts = [`<svg xmlns="http://www.w3.org/2000/svg" viewBox="${-pad} ${-pad} ${w} ${h}" ` +
      `width="${w}" height="${h}">`, `<g fill="none" stroke="black" stroke-width="${LINE}" ` +
      'stroke-linecap="round" stroke-linejoin="round">'];
    drawings.forEach((drawing, i) => {
      parts.push(`<g transform="translate(${(i % columns) * cell} ${Math.floor(i / columns) * cell})">`);
      for (const [xs, ys] of drawing) {
        parts.push(`<polyline points="${xs.map((x, k) => `${x},${ys[k]}`).join(" ")}"/>`);
      }
      parts.push("</g>");
    });
    return [...parts, "</g>", "</svg>"].join("\n") + "\n";
  }

  /** Drawings as ndjson in the simplified schema: {"word", "drawing"} per line. */
  const ndjson = (word, drawings) => drawings.map((drawing) => JSON.stringify({ word, drawing }) + "\n").join("");

  window.doodlelabSketch = { play, paintSimplified, svg, ndjson };

  // ---- "Finish my drawing" on the main canvas ----------------------------------------------------------
  const button = $("finish");
  const asField = $("finish-as"); // the category to finish as; empty: the top guess
  const { showError, setStatus, topGuess } = window.doodlelabGuesses; // guesses.js
  let busy = false, request = 0;

  fetch("/api/health").then((r) => r.json()).then(({ models }) => {
    button.hidden = asField.hidden = !(models && models.sketch);
  }).catch(() => {});

  /** Show `text` in the status line once the guesses of the finished drawing are in (each clears it). */
  const afterGuesses = (page, text) => {
    const until = performance.now() + 5000;
    const tick = () => (page.settled || performance.now() > until ? setStatus(text) : setTimeout(tick, 50));
    tick();
  };

  button.addEventListener("click", async () => {
    const page = window.doodlelab;
    const drawing = page.strokes;
    if (busy) return;
    if (!drawing.length) return showError("Draw something first: the stroke model continues your strokes.");
    busy = true;
    button.disabled = true;
    const tag = `ai${++request}`;
    const count = () => page.strokes.length;
    const before = count();
    // With a category the model finishes far more drawings recognizably (validation: 47% with the true one,
    // 19% with the recognizer's top guess, 12% with none), so the top guess stands in for an empty field.
    const typed = asField.value.trim();
    const guess = typed ? null : topGuess();
    const post = (category) => fetch("/api/complete", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(category ? { drawing, category } : { drawing }),
    });
    try {
      let response = await post(typed || guess);
      if (guess && response.status === 422) response = await post(null); // a model trained on other categories
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(answer.detail || `the server answered ${response.status}`);
      let t = Math.max(0, ...drawing.map((s) => (s[2] && s[2].length ? s[2][s[2].length - 1] : 0)));
      const timed = answer.completions[0].map(([xs, ys]) => {
        t += PAUSE_MS;
        const ts = xs.map(() => (t += POINT_MS));
        return [xs, ys, ts]; // raw format: times continue the person's, at the animation's pace
      });
      const paint = (done, partial) => page.preview(partial ? [...done, partial] : done);
      const drawn = await play(timed, paint, () => count() === before);
      page.preview([]);
      if (drawn && timed.length) { // not if the person drew or cleared meanwhile
        page.addStrokes(timed, tag);
        if (answer.category) afterGuesses(page, `Finished as ${answer.category}.`);
      } else if (drawn) setStatus("The stroke model had nothing to add this time: try again.");
    } catch (err) {
      showError(err instanceof TypeError ? `cannot reach the server (${err.message})` : err.message);
    } finally {
      busy = false;
      button.disabled = false;
    }
  });
})();
