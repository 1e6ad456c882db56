// doodlelab page: draw on a canvas (Pointer Events), live recognition (engine.js: in the browser, else on
// the server), undo / clear, an uploaded image (upload.js: a button, drop, paste; named by the server's
// /api/predict or /api/digits); guesses.js shows the answers and errors; the generate panel is generate.js,
// the stroke model's "Finish my drawing" sketch.js. No build step.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const canvas = $("canvas");
  const ctx = canvas.getContext("2d");
  const { showPredictions, showError, clearError, setStatus } = window.doodlelabGuesses; // guesses.js
  const LINE = 14; // pen width in canvas pixels (the canvas is 560 px wide inside, scaled by CSS)
  const INK = "#111", AI_INK = "#d9480f"; // the person's strokes; the stroke model's (sketch.js)
  const THROTTLE_MS = 300;
  const TOP = 5;

  const state = {
    mode: "doodles", // or "digits"
    strokes: [], // finished strokes, each [[xs], [ys], [ts]] in raw canvas pixels, ts in ms
    current: null, // the stroke being drawn
    pointerId: null,
    t0: null, // time of the drawing's first point: timestamps count from it
    image: null, // an uploaded image shown on the canvas (an ImageBitmap or HTMLImageElement)
    seq: 0, // number of the latest request sent
    applied: 0, // number of the request whose answer is shown; older answers are stale
    lastPredict: 0,
    timer: null,
    lastSent: null, // the last drawing sent, for tests and debugging
    preview: [], // strokes of the stroke model being drawn (sketch.js), not part of the drawing yet
  };

  // ---- drawing -------------------------------------------------------------------------------------

  function paintBackground() {
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
  }

  function paintStroke(stroke) {
    const [xs, ys] = stroke;
    if (!xs.length) return;
    ctx.beginPath();
    ctx.moveTo(xs[0], ys[0]);
    if (xs.length === 1) ctx.lineTo(xs[0] + 0.01, ys[0]);
    for (let i = 1; i < xs.length; i++) ctx.lineTo(xs[i], ys[i]);
    ctx.stroke();
  }

  function redraw() {
    paintBackground();
    if (state.image) drawImageFit(state.image);
    ctx.lineWidth = LINE;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    for (const s of [...state.strokes, state.current, ...state.preview].filter(Boolean)) {
      ctx.strokeStyle = s.ai ? AI_INK : INK; // strokes of the stroke model are tagged with their request
      paintStroke(s);
    }
    canvas.dataset.strokes = String(state.strokes.length);
    canvas.dataset.aiStrokes = String(state.strokes.filter((s) => s.ai).length);
    canvas.dataset.hasImage = String(state.image !== null);
  }

  function drawImageFit(img) {
    const w = img.width, h = img.height;
    const scale = Math.min(canvas.width / w, canvas.height / h);
    const dw = w * scale, dh = h * scale;
    ctx.drawImage(img, (canvas.width - dw) / 2, (canvas.height - dh) / 2, dw, dh);
  }

  function point(event) {
    const rect = canvas.getBoundingClientRect();
    const x = (event.clientX - rect.left) * (canvas.width / rect.width);
    const y = (event.clientY - rect.top) * (canvas.height / rect.height);
    const now = performance.now();
    if (state.t0 === null) state.t0 = now;
    return [Math.round(x * 10) / 10, Math.round(y * 10) / 10, Math.round(now - state.t0)];
  }

  function addPoint(stroke, [x, y, t]) {
    const n = stroke[0].length;
    if (n && stroke[0][n - 1] === x && stroke[1][n - 1] === y) return;
    stroke[0].push(x);
    stroke[1].push(y);
    stroke[2].push(t);
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (event.button !== 0 || state.pointerId !== null) return;
    event.preventDefault();
    clearError();
    // Choice: after an upload the canvas holds the image; the first stroke drawn afterwards clears the
    // image first (simplest, and what is sent is then only what was drawn: strokes cannot be mixed with
    // an uploaded bitmap in one request).
    if (state.image) {
      state.image = null;
      state.strokes = [];
      state.t0 = null;
    }
    state.pointerId = event.pointerId;
    try {
      canvas.setPointerCapture(event.pointerId);
    } catch {
      // a pointer the browser does not track (synthetic events): draw without capture
    }
    state.current = [[], [], []];
    addPoint(state.current, point(event));
    redraw();
  });

  canvas.addEventListener("pointermove", (event) => {
    if (event.pointerId !== state.pointerId || !state.current) return;
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    for (const e of events.length ? events : [event]) addPoint(state.current, point(e));
    redraw();
    schedulePredict();
  });

  function endStroke(event) {
    if (event.pointerId !== state.pointerId) return;
    state.pointerId = null;
    if (state.current && state.current[0].length) state.strokes.push(state.current);
    state.current = null;
    redraw();
    predictNow();
  }
  canvas.addEventListener("pointerup", endStroke);
  canvas.addEventListener("pointercancel", endStroke);

  // ---- recognition ---------------------------------------------------------------------------------

  function drawingSoFar() {
    const all = state.strokes.slice();
    if (state.current && state.current[0].length) all.push(state.current);
    return all.map((s) => s.map((v) => v.slice()));
  }

  function schedulePredict() {
    // Throttled while drawing: at most one request every THROTTLE_MS, the last one after the pause.
    if (state.timer) return;
    const wait = Math.max(0, THROTTLE_MS - (performance.now() - state.lastPredict));
    state.timer = setTimeout(() => {
      state.timer = null;
      if (state.current) predictNow();
    }, wait);
  }

  function predictNow() {
    if (state.timer) {
      clearTimeout(state.timer);
      state.timer = null;
    }
    const drawing = drawingSoFar();
    if (!drawing.length) {
      invalidate();
      showPredictions([]);
      return;
    }
    state.lastSent = drawing;
    ask(drawing);
  }

  function predictImage(file) {
    const form = new FormData();
    form.append("image", file, file.name || "image.png");
    form.append("top", String(TOP));
    state.lastSent = null;
    send(form, {});
  }

  function invalidate() {
    // Answers to requests sent before now are stale.
    state.seq += 1;
    state.applied = state.seq;
  }

  async function ask(drawing) {
    // The drawing's guesses from engine.js: in the browser, or from the server when it cannot.
    const seq = ++state.seq;
    state.lastPredict = performance.now();
    try {
      const answer = await window.doodlelabEngine.classify(state.mode === "digits" ? "digits" : "doodles",
                                                           drawing, TOP);
      if (seq <= state.applied) return; // stale: a newer answer is already shown
      state.applied = seq;
      clearError();
      showPredictions(answer.predictions);
      setStatus("");
    } catch (err) {
      if (seq <= state.applied) return;
      if (err.name !== "InputError") return showError(`cannot reach the server (${err.message})`);
      state.applied = seq; // bad input: its message replaces the guesses
      showPredictions([]);
      showError(err.message);
    }
  }

  async function send(body, headers) {
    // An uploaded image, named by the server.
    const seq = ++state.seq;
    const url = state.mode === "digits" ? "/api/digits" : "/api/predict";
    state.lastPredict = performance.now();
    try {
      const response = await fetch(url, { method: "POST", body, headers });
      const answer = await response.json().catch(() => ({}));
      if (seq <= state.applied) return; // stale: a newer answer is already shown
      state.applied = seq;
      if (!response.ok) {
        showPredictions([]);
        showError(answer.detail || `the server answered ${response.status}`);
        return;
      }
      clearError();
      showPredictions(answer.predictions || []);
      setStatus(`the image was named on the server in ${Math.round(answer.server_ms)} ms`);
    } catch (err) {
      if (seq > state.applied) showError(`cannot reach the server (${err.message})`);
    }
  }

  // ---- undo / clear --------------------------------------------------------------------------------

  function undo() {
    if (state.current) return;
    clearError();
    const tag = state.strokes.length ? state.strokes[state.strokes.length - 1].ai : undefined;
    if (state.strokes.length) state.strokes.pop();
    else if (state.image) state.image = null;
    else return;
    while (tag && state.strokes.length && state.strokes[state.strokes.length - 1].ai === tag) {
      state.strokes.pop(); // one Undo takes back all the strokes of one "Finish my drawing"
    }
    if (!state.strokes.length && !state.image) state.t0 = null;
    redraw();
    predictNow();
  }

  function clear() {
    clearError();
    state.strokes = [];
    state.current = null;
    state.pointerId = null;
    state.image = null;
    state.t0 = null;
    state.preview = [];
    redraw();
    invalidate();
    showPredictions([]);
  }

  $("undo").addEventListener("click", undo);
  $("clear").addEventListener("click", clear);
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    const editing = target instanceof HTMLInputElement || target instanceof HTMLSelectElement ||
      target instanceof HTMLTextAreaElement;
    if ((event.ctrlKey || event.metaKey) && !event.shiftKey && event.key.toLowerCase() === "z" && !editing) {
      event.preventDefault();
      undo();
    }
  });

  // ---- upload: file input, drop, paste -------------------------------------------------------------

  async function loadImage(file) {
    if ("createImageBitmap" in window) return createImageBitmap(file);
    const url = URL.createObjectURL(file);
    const img = new Image();
    img.src = url;
    await img.decode();
    return img;
  }

  async function useImage(file) {
    clearError();
    if (!file || !(file.type || "").startsWith("image/")) {
      showError(`${(file && file.name) || "that"} is not an image`);
      return;
    }
    predictImage(file); // sent at once, in the same action as the drawing below
    state.strokes = [];
    state.current = null;
    state.t0 = null;
    try {
      state.image = await loadImage(file);
    } catch {
      state.image = null;
    }
    redraw();
  }

  // ---- doodles / digits tabs -----------------------------------------------------------------------

  const tabs = [...document.querySelectorAll('[role="tab"][data-mode]')]; // Doodles, Digits, Game (game.js)
  function setMode(mode) {
    clearError();
    state.mode = mode;
    document.body.dataset.mode = mode;
    for (const tab of tabs) {
      const on = tab.dataset.mode === mode;
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
      if (on) $("draw-area").setAttribute("aria-labelledby", tab.id);
    }
    if (state.strokes.length) predictNow();
    else {
      invalidate();
      showPredictions([]);
    }
  }
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => setMode(tab.dataset.mode));
    tab.addEventListener("keydown", (event) => {
      if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
      const next = tabs[(i + 1) % tabs.length];
      next.focus();
      setMode(next.dataset.mode);
    });
  });

  // A debug handle (tests read it): the strokes drawn and the last drawing sent.
  window.doodlelab = {
    get strokes() { return state.strokes.map((s) => s.map((v) => v.slice())); },
    get lastSent() { return state.lastSent; },
    get mode() { return state.mode; },
    get settled() { return state.applied === state.seq; }, // the latest drawing's answer is shown
    clear, undo, setMode, useImage, // useImage(file): upload.js (button, drop, paste)
    // For sketch.js: draw strokes ([[xs], [ys]] each) in the stroke model's colour as a preview, and add
    // finished strokes [[xs], [ys], [ts]] to the drawing, tagged `tag`, then name the drawing.
    preview(strokes) {
      state.preview = strokes.map((s) => Object.assign(s.map((v) => v.slice()), { ai: true }));
      redraw();
    },
    addStrokes(strokes, tag) {
      for (const s of strokes) state.strokes.push(Object.assign(s.map((v) => v.slice()), { ai: tag }));
      state.preview = [];
      redraw();
      predictNow();
    },
  };

  redraw();
})();
