// doodlelab page, generate panel: the searchable category list; a generation runs as a job on the server
// (POST /api/generate/jobs, then GET polls its steps done / total for the progress bar; Cancel DELETEs it).
// The form is checked against the server's limits before sending; the GAN has no steps or guidance and
// the stroke model no steps, so those fields are hidden for them. Samples are 28x28 canvases (diffusion: after replaying the denoising
// frames the server sent), or the server's message is shown. The stroke model (offered when the server has
// one) draws its doodles stroke by stroke (sketch.js; a click replays one), downloadable as SVG or ndjson.
// Plain JS, no build step.

(() => {
  const $ = (id) => document.getElementById(id);
  const genStatus = $("generate-status");
  const genError = $("generate-error");
  const progress = $("generate-progress");
  const generated = $("generated");
  const button = $("generate");
  const cancel = $("generate-cancel");

  fetch("/api/categories")
    .then((r) => r.json())
    .then(({ categories }) => {
      $("category-list").replaceChildren(
        ...categories.map((c) => {
          const option = document.createElement("option");
          option.value = c;
          return option;
        }),
      );
    })
    .catch(() => {});

  fetch("/api/health").then((r) => r.json()).then(({ models }) => {
    if (!models || !models.sketch) return;
    const option = document.createElement("option");
    option.value = "sketch";
    option.textContent = "sketch (strokes)";
    $("model").append(option);
  }).catch(() => {});

  let limits = { max_n: 16, max_steps: 1000, max_work: 400 }; // replaced by the server's own
  fetch("/api/generate/limits").then((r) => r.json()).then((l) => { limits = l; }).catch(() => {});

  const FRAMES = 12; // denoising frames asked of the diffusion model
  const FRAME_MS = 90;
  const POLL_MS = 150;
  const FIRST_POLL_MS = 50; // the first poll comes sooner: a stroke model's first doodle is often done by then
  let shown = 0; // generation counter: a newer request stops an older animation
  let job = null; // the job this page is running: {id}
  let early = []; // the stroke model: replays started from a running job's finished doodles (`ready`)

  // ---- the form --------------------------------------------------------------------------------------
  const MAX_GUIDANCE = { diffusion: 20, sketch: 10 }; // the server's limits per model (no guidance: GAN)
  const showModelFields = () => {
    const model = $("model").value; // GAN: one forward pass; sketch: point by point, guided
    document.querySelectorAll("[data-diffusion]").forEach((el) => { el.hidden = model !== "diffusion"; });
    document.querySelectorAll("[data-guided]").forEach((el) => { el.hidden = !(model in MAX_GUIDANCE); });
    $("guidance").max = MAX_GUIDANCE[model] || 0;
  };
  $("model").addEventListener("change", showModelFields);
  showModelFields();

  function request() {
    const number = (id) => Number($(id).value);
    const body = { model: $("model").value, category: $("category").value.trim(), n: number("n") };
    if ($("seed").value !== "") body.seed = number("seed");
    const guided = body.model in MAX_GUIDANCE && $("guidance").value !== ""; // empty: the model's own
    if (guided) body.guidance = number("guidance");
    if (body.model === "diffusion") {
      body.steps = number("steps");
      body.frames = FRAMES;
    }
    return body;
  }

  /** Why the server would refuse `body` (null if it would not), in the words of the form. */
  function refusal(body) {
    const whole = (v) => Number.isInteger(v);
    if (!whole(body.n) || body.n < 1 || body.n > limits.max_n) return `How many: 1 to ${limits.max_n}.`;
    const most = MAX_GUIDANCE[body.model];
    if ("guidance" in body && !(body.guidance >= 0 && body.guidance <= most)) return `Guidance: 0 to ${most}.`;
    if (body.model !== "diffusion") return null;
    if (!whole(body.steps) || body.steps < 1 || body.steps > limits.max_steps) {
      return `Steps: 1 to ${limits.max_steps}.`;
    }
    if (body.n * body.steps > limits.max_work) {
      return `${body.n} × ${body.steps} steps is ${body.n * body.steps} sample-steps; the server takes at ` +
        `most ${limits.max_work} per request (about 3 s of work): lower How many or Steps.`;
    }
    return null;
  }

  // ---- drawing the samples ---------------------------------------------------------------------------
  function paint(c, rows) {
    const size = rows.length;
    const g = c.getContext("2d");
    const img = g.createImageData(size, size);
    rows.forEach((row, y) => row.forEach((v, x) => {
      const k = (y * size + x) * 4;
      img.data[k] = img.data[k + 1] = img.data[k + 2] = 255 - v; // ink dark on white
      img.data[k + 3] = 255;
    }));
    g.putImageData(img, 0, 0);
  }

  function placeholders(n, size = 28) { // the samples' places, kept from the start: nothing moves later
    generated.replaceChildren(...Array.from({ length: n }, () => {
      const c = document.createElement("canvas");
      c.width = c.height = size;
      c.className = "pending";
      return c;
    }));
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function animate(canvases, frames, id) {
    for (const frame of frames) {
      if (id !== shown) return;
      frame.forEach((rows, i) => paint(canvases[i], rows));
      await sleep(FRAME_MS);
    }
  }

  async function show(answer, id) {
    const canvases = [...generated.querySelectorAll("canvas")];
    answer.images.forEach((_, i) => {
      canvases[i].className = "";
      canvases[i].setAttribute("role", "img");
      canvases[i].setAttribute("aria-label", `generated ${answer.category}`);
    });
    const done = `${answer.images.length} × ${answer.category} in ${Math.round(answer.server_ms)} ms`;
    if (answer.strokes && answer.strokes.length) return drawStrokes(answer, canvases, done, id);
    if (answer.frames && answer.frames.length) {
      genStatus.textContent = "denoising…";
      await animate(canvases, answer.frames, id);
      if (id !== shown) return;
    }
    answer.images.forEach((rows, i) => paint(canvases[i], rows));
    genStatus.textContent = done;
  }

  /** Draw a stroke model's doodle on its canvas point by point (sketch.js); false if a newer request came. */
  const replay = (c, strokes, id) => window.doodlelabSketch.play(strokes, (finished, partial) =>
    window.doodlelabSketch.paintSimplified(c, partial ? [...finished, partial] : finished), () => id === shown);

  /** While the stroke model's job runs: start drawing each doodle as soon as the server has finished it. */
  function drawReady(ready, id) {
    const canvases = [...generated.querySelectorAll("canvas")];
    ready.forEach((strokes, i) => {
      if (!strokes || early[i] || !canvases[i]) return;
      canvases[i].className = "strokes";
      early[i] = replay(canvases[i], strokes, id);
    });
  }

  async function drawStrokes(answer, canvases, done, id) { // the stroke model: drawn as a person would
    const { svg, ndjson } = window.doodlelabSketch; // sketch.js
    canvases.forEach((c, i) => {
      c.classList.add("strokes");
      c.title = "click to draw it again";
      c.addEventListener("click", () => replay(c, answer.strokes[i], id));
    });
    const links = document.createElement("p");
    links.className = "gen-downloads";
    const name = `doodlelab-${answer.category.replaceAll(" ", "_")}-${answer.seed}`;
    for (const [text, type, body] of [["SVG", "image/svg+xml", svg(answer.strokes)],
      ["ndjson", "application/x-ndjson", ndjson(answer.category, answer.strokes)]]) {
      const a = document.createElement("a");
      a.textContent = `Download ${text}`;
      a.dataset.testid = `download-${text.toLowerCase()}`;
      a.href = URL.createObjectURL(new Blob([body], { type }));
      a.download = `${name}.${text.toLowerCase()}`;
      links.append(a);
    }
    genStatus.textContent = "drawing…";
    await Promise.all(canvases.map((c, i) => early[i] || replay(c, answer.strokes[i], id)));
    if (id !== shown) return;
    generated.append(links);
    genStatus.textContent = done;
  }

  // ---- running a job ---------------------------------------------------------------------------------
  function running(on) {
    button.disabled = on;
    cancel.disabled = !on;
    progress.classList.toggle("active", on);
    if (!on) job = null;
  }

  function report(status) {
    progress.max = status.total;
    progress.value = status.done;
    genStatus.textContent = status.status === "queued"
      ? `waiting: ${status.ahead} request${status.ahead === 1 ? "" : "s"} ahead (about ${Math.ceil(status.seconds_left)} s)`
      : `step ${status.done} of ${status.total}`;
  }

  async function answerOf(response) {
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.detail || `error ${response.status}`);
    return answer;
  }

  $("generate-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (job) return; // one request of this page at a time
    const body = request();
    genError.textContent = "";
    const refused = refusal(body);
    if (refused) {
      genError.textContent = refused;
      return;
    }
    const id = ++shown;
    early = [];
    placeholders(body.n, body.model === "sketch" ? 112 : 28);
    genStatus.textContent = "sending…";
    progress.removeAttribute("value"); // indeterminate until the server counts steps
    running(true);
    try {
      let status = await answerOf(await fetch("/api/generate/jobs", {
        method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" },
      }));
      job = { id: status.id };
      for (let polls = 0; status.status === "queued" || status.status === "running"; polls++) {
        report(status);
        if (status.ready) drawReady(status.ready, id);
        await sleep(polls ? POLL_MS : FIRST_POLL_MS);
        if (!job || job.id !== status.id) return; // cancelled meanwhile
        const next = await answerOf(await fetch(`/api/generate/jobs/${status.id}`));
        if (!job || job.id !== status.id) return; // cancelled while the poll was on its way
        status = next;
      }
      report(status);
      running(false);
      if (status.status === "cancelled") genStatus.textContent = "cancelled";
      else if (status.status === "failed") genError.textContent = status.detail || "generation failed";
      else await show(status.result, id);
    } catch (err) {
      running(false);
      genStatus.textContent = "";
      genError.textContent = err instanceof TypeError ? `cannot reach the server (${err.message})` : err.message;
      generated.replaceChildren();
    }
  });

  cancel.addEventListener("click", async () => {
    if (!job) return;
    const { id } = job;
    running(false);
    shown++;
    genStatus.textContent = "cancelled";
    generated.replaceChildren();
    await fetch(`/api/generate/jobs/${id}`, { method: "DELETE" }).catch(() => {});
  });

  window.addEventListener("pagehide", () => { // leaving the page frees the server's work at once
    if (job) fetch(`/api/generate/jobs/${job.id}`, { method: "DELETE", keepalive: true }).catch(() => {});
  });
})();
