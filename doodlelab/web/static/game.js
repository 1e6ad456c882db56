// doodlelab's game, as Quick, Draw! plays: 6 rounds of 20 s; each names a category to draw; the network's
// live guesses are shown and spoken; "Oh, I know, it's X!" once X, the target, is the top guess with a
// calibrated probability at or above the threshold scripts/game_settings.py chose on validation (game.json).
// Summary and ndjson download at the end (game-record.js). URL hooks for tests and teaching:
// ?game-categories=cat,house (the rounds' categories, in order), ?game-seed=N (a repeatable draw of
// categories), ?round-seconds=S (default 20).
"use strict";

(() => {
  const area = document.getElementById("game-area");
  if (!area) return;
  const record = window.doodlelabGameRecord;
  const ROUNDS = 6;
  const THROTTLE_MS = 300;
  const RESULT_MS = 2500; // the round's result stays this long before the next card
  const LINE = 14;
  const url = new URLSearchParams(location.search);
  const seconds = Math.min(120, Math.max(1, Number(url.get("round-seconds")) || 20));

  area.innerHTML = `
    <div class="game-part game-intro" data-testid="game-intro">
      <p>Draw six things, ${seconds} seconds each, and the network tries to guess them while you draw.</p>
      <label><input type="checkbox" id="game-all" data-testid="game-all"> All 345 categories (harder)</label>
      <label><input type="checkbox" id="game-speech" data-testid="game-speech"> Speak the guesses</label>
      <button type="button" class="game-main" data-testid="game-start">Start</button>
      <p class="game-note" data-testid="game-note"></p>
    </div>
    <div class="game-part game-card" data-testid="game-card" hidden>
      <p>Round <span data-testid="game-round"></span> of ${ROUNDS}</p>
      <p class="game-word">Draw <strong data-testid="game-card-word"></strong></p>
      <p>in under ${seconds} seconds</p>
      <button type="button" class="game-main" data-testid="game-go">Got it!</button>
    </div>
    <div class="game-part game-play" data-testid="game-play" hidden>
      <div class="game-bar">
        <span>Draw: <strong data-testid="game-target"></strong></span>
        <span class="game-clock" data-testid="game-clock" aria-label="seconds left"></span>
      </div>
      <canvas class="game-canvas" data-testid="game-canvas" width="560" height="560" data-strokes="0"
              aria-label="Game canvas: draw with the mouse, a finger or a pen"></canvas>
      <p class="game-guesses" data-testid="game-guesses" aria-live="polite"></p>
      <p class="game-result" data-testid="game-result" role="status"></p>
      <div class="game-tools">
        <button type="button" data-testid="game-clear">Clear</button>
        <button type="button" data-testid="game-skip">Skip</button>
        <button type="button" data-testid="game-next" hidden>Next</button>
      </div>
    </div>
    <div class="game-part game-summary" data-testid="game-summary" hidden>
      <h3 data-testid="game-score"></h3>
      <ol class="game-drawings" data-testid="game-drawings"></ol>
      <div class="game-tools">
        <button type="button" class="game-main" data-testid="game-again">Play again</button>
        <a class="game-download" data-testid="game-download">Download the drawings (.ndjson)</a>
      </div>
    </div>`;
  const $ = (id) => area.querySelector(`[data-testid="${id}"]`);
  const canvas = $("game-canvas");
  const ctx = canvas.getContext("2d");
  const speech = $("game-speech");
  speech.disabled = !("speechSynthesis" in window); // on by default where the browser can speak
  speech.checked = !speech.disabled;

  let settings = null; // game.json: threshold, easy list
  let allCategories = null;
  const game = { words: [], rounds: [], round: -1, live: false };
  let r = null; // the round being played: word, strokes, current stroke, times, last guesses
  let timers = [];

  // ---- phases ----------------------------------------------------------------------------------------

  function show(part) {
    for (const el of area.querySelectorAll(".game-part")) el.hidden = !el.classList.contains(`game-${part}`);
    area.dataset.phase = part;
  }

  function later(f, ms) {
    timers.push(setTimeout(f, ms));
  }

  function stopTimers() {
    timers.forEach(clearTimeout);
    timers = [];
  }

  async function loadSettings() {
    // relative to the page: the server's page at / and an exported site in any folder
    if (!settings) settings = await (await fetch("static/game.json")).json();
    if (!allCategories) allCategories = await window.doodlelabEngine.categories(); // engine.js
  }

  // A seeded generator (mulberry32) so ?game-seed=N draws the same categories every time.
  function random(seed) {
    return () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  function chooseWords() {
    const byName = new Map(allCategories.map((c) => [c.toLowerCase(), c]));
    const asked = url.get("game-categories");
    if (asked) {
      const names = asked.split(",").map((s) => s.trim().replaceAll("_", " ").toLowerCase()).filter(Boolean);
      const unknown = names.filter((n) => !byName.has(n));
      if (unknown.length || !names.length) {
        throw new Error(`unknown category in game-categories: ${unknown.join(", ")}`);
      }
      return Array.from({ length: ROUNDS }, (_, i) => byName.get(names[i % names.length]));
    }
    const pool = ($("game-all").checked ? allCategories : settings.easy).slice();
    const seed = url.has("game-seed") ? Number(url.get("game-seed")) : Math.random() * 2 ** 32;
    const next = random(seed >>> 0);
    for (let i = 0; i < ROUNDS; i++) { // a partial Fisher-Yates shuffle: ROUNDS distinct categories
      const j = i + Math.floor(next() * (pool.length - i));
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    return pool.slice(0, ROUNDS);
  }

  async function start() {
    try {
      await loadSettings();
      game.words = chooseWords();
    } catch (err) {
      $("game-note").textContent = `cannot start the game (${err.message})`;
      return;
    }
    game.rounds = [];
    game.round = -1;
    nextCard();
  }

  function nextCard() {
    stopTimers();
    game.round += 1;
    if (game.round >= ROUNDS) return summary();
    $("game-round").textContent = String(game.round + 1);
    $("game-card-word").textContent = game.words[game.round];
    show("card");
    $("game-go").focus();
  }

  function beginRound() {
    const word = game.words[game.round];
    r = { word, strokes: [], current: null, pointerId: null, t0: null, guesses: [], spoken: null,
          started: performance.now(), startedAt: new Date(), keyId: record.keyId(), seq: 0, applied: 0,
          timer: null, lastSent: 0 };
    game.live = true;
    $("game-target").textContent = word;
    $("game-guesses").textContent = "";
    $("game-result").textContent = "";
    $("game-next").hidden = true;
    for (const id of ["game-clear", "game-skip"]) $(id).hidden = false;
    redraw();
    show("play");
    tick();
    later(() => endRound(false), seconds * 1000);
  }

  function tick() {
    if (!game.live) return;
    const left = Math.max(0, seconds - (performance.now() - r.started) / 1000);
    $("game-clock").textContent = `0:${String(Math.ceil(left)).padStart(2, "0")}`;
    later(tick, 250);
  }

  function endRound(recognized) {
    if (!game.live) return;
    game.live = false;
    stopTimers();
    if (r.current && r.current[0].length) r.strokes.push(r.current);
    r.current = r.pointerId = null;
    const taken = recognized ? (performance.now() - r.started) / 1000 : seconds;
    const others = r.guesses.filter((g) => g.category !== r.word).slice(0, 3).map((g) => g.category);
    game.rounds.push({ word: r.word, strokes: r.strokes, recognized, seconds: taken, others,
                       startedAt: r.startedAt, keyId: r.keyId });
    const message = recognized ? `Oh, I know, it's ${r.word}!` : "Sorry, I couldn't guess it.";
    $("game-result").textContent = message;
    say(message, true);
    for (const id of ["game-clear", "game-skip"]) $(id).hidden = true;
    $("game-next").hidden = false;
    $("game-next").focus();
    later(nextCard, RESULT_MS);
  }

  function summary() {
    show("summary");
    const won = game.rounds.filter((x) => x.recognized).length;
    $("game-score").textContent = `The network guessed ${won} of your ${ROUNDS} drawings`;
    $("game-drawings").replaceChildren(...game.rounds.map((x) => {
      const li = document.createElement("li");
      li.dataset.testid = "game-drawing";
      li.setAttribute("data-testid", "game-drawing");
      li.className = x.recognized ? "recognized" : "missed";
      const svg = record.drawingSvg(x.strokes);
      svg.setAttribute("aria-label", `your drawing of ${x.word}`);
      const text = document.createElement("p");
      text.innerHTML = "<strong></strong><br><span class='verdict'></span><br><span class='others'></span>";
      text.querySelector("strong").textContent = x.word;
      text.querySelector(".verdict").textContent = x.recognized ? `recognized in ${x.seconds.toFixed(1)} s`
        : "not recognized";
      text.querySelector(".others").textContent =
        x.others.length ? `it also thought of ${x.others.join(", ")}` : "";
      li.append(svg, text);
      return li;
    }));
    const link = $("game-download");
    if (link.href) URL.revokeObjectURL(link.href);
    const ndjson = new Blob([record.toNdjson(game.rounds)], { type: "application/x-ndjson" });
    link.href = URL.createObjectURL(ndjson);
    link.download = `doodlelab-game-${new Date().toISOString().slice(0, 19).replaceAll(":", "")}.ndjson`;
    $("game-again").focus();
  }

  // ---- speech: never waited for; muted where the browser has none ------------------------------------

  function say(text, urgent = false) {
    if (!speech.checked || !("speechSynthesis" in window)) return;
    try {
      if (urgent) speechSynthesis.cancel();
      else if (speechSynthesis.pending) return; // behind already: skip this guess rather than lag
      speechSynthesis.speak(new SpeechSynthesisUtterance(text));
    } catch {
      // speech is a bonus: the game goes on without it
    }
  }

  // ---- drawing on the game canvas ----------------------------------------------------------------------

  function redraw() {
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    Object.assign(ctx, { strokeStyle: "#111", lineWidth: LINE, lineCap: "round", lineJoin: "round" });
    const all = r ? [...r.strokes, ...(r.current ? [r.current] : [])] : [];
    for (const [xs, ys] of all) {
      ctx.beginPath();
      ctx.moveTo(xs[0], ys[0]);
      xs.forEach((x, i) => ctx.lineTo(x + (xs.length === 1 ? 0.01 : 0), ys[i]));
      ctx.stroke();
    }
    canvas.dataset.strokes = String(r ? r.strokes.length : 0);
  }

  function pen(event) {
    const box = canvas.getBoundingClientRect();
    const now = performance.now();
    if (r.t0 === null) r.t0 = now; // raw format: ms since the drawing's first point
    const x = ((event.clientX - box.left) * canvas.width) / box.width;
    const y = ((event.clientY - box.top) * canvas.height) / box.height;
    return [Math.round(x * 10) / 10, Math.round(y * 10) / 10, Math.round(now - r.t0)];
  }

  function extend(stroke, point) {
    const n = stroke[0].length;
    if (n && stroke[0][n - 1] === point[0] && stroke[1][n - 1] === point[1]) return;
    point.forEach((v, k) => stroke[k].push(v));
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (!game.live || event.button !== 0 || r.pointerId !== null) return;
    event.preventDefault();
    r.pointerId = event.pointerId;
    try { canvas.setPointerCapture(event.pointerId); } catch { /* synthetic pointer: no capture */ }
    r.current = [[], [], []];
    extend(r.current, pen(event));
    redraw();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!game.live || event.pointerId !== r.pointerId || !r.current) return;
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    for (const e of events.length ? events : [event]) extend(r.current, pen(e));
    redraw();
    if (!r.timer) r.timer = setTimeout(guess, Math.max(0, THROTTLE_MS - (performance.now() - r.lastSent)));
  });
  function lift(event) {
    if (!game.live || event.pointerId !== r.pointerId) return;
    if (r.current[0].length) r.strokes.push(r.current);
    r.current = r.pointerId = null;
    redraw();
    guess();
  }
  canvas.addEventListener("pointerup", lift);
  canvas.addEventListener("pointercancel", lift);

  // ---- the network's guesses -------------------------------------------------------------------------

  async function guess() {
    clearTimeout(r.timer);
    r.timer = null;
    const drawing = [...r.strokes, ...(r.current ? [r.current] : [])].map((s) => s.map((v) => v.slice()));
    if (!game.live || !drawing.length) return;
    const round = r, seq = ++round.seq;
    round.lastSent = performance.now();
    try {
      // every category's probability, in the browser or from the server (engine.js)
      const answer = await window.doodlelabEngine.classify("doodles", drawing, allCategories.length);
      if (round !== r || !game.live || seq <= round.applied) return;
      round.applied = seq;
      heard(answer.predictions);
    } catch {
      // a lost answer: the next stroke asks again
    }
  }

  function heard(predictions) {
    r.guesses = predictions;
    const top = predictions.slice(0, 3).map((p) => p.category);
    $("game-guesses").textContent = `I see ${top.join(", or ")}…`;
    if (top[0] !== r.spoken) {
      say(r.spoken === null ? `I see ${top[0]}` : `or ${top[0]}`);
      r.spoken = top[0];
    }
    // The rule scripts/game_settings.py measures: the target leads, at least as sure as the threshold.
    if (top[0] === r.word && predictions[0].probability >= settings.threshold) endRound(true);
  }

  // ---- controls ----------------------------------------------------------------------------------------

  $("game-start").addEventListener("click", start);
  $("game-go").addEventListener("click", beginRound);
  $("game-next").addEventListener("click", nextCard);
  $("game-again").addEventListener("click", () => { stopTimers(); show("intro"); start(); });
  $("game-skip").addEventListener("click", () => endRound(false));
  $("game-clear").addEventListener("click", () => {
    if (!game.live) return;
    Object.assign(r, { strokes: [], current: null, pointerId: null, t0: null, guesses: [] });
    r.applied = ++r.seq; // answers about the old drawing are stale
    $("game-guesses").textContent = "";
    redraw();
  });

  // Leaving the Game tab abandons the game; the URL hooks open it directly.
  new MutationObserver(() => {
    if (document.body.dataset.mode !== "game" && area.dataset.phase !== "intro") {
      game.live = false;
      stopTimers();
      show("intro");
    }
  }).observe(document.body, { attributes: true, attributeFilter: ["data-mode"] });
  show("intro");
  redraw();
  if (["game-categories", "game-seed", "round-seconds"].some((k) => url.has(k)) && window.doodlelab) {
    window.doodlelab.setMode("game");
  }
  window.doodlelabGame = { get rounds() { return game.rounds; }, get phase() { return area.dataset.phase; },
                           get threshold() { return settings && settings.threshold; } };
})();
