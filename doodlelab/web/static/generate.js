// doodlelab page, generate panel: the searchable category list and POST /api/generate; samples are drawn
// as 28x28 canvases (diffusion: after replaying the denoising frames the server sent), or the server's
// message is shown. Plain JS, no build step.

(() => {
  const $ = (id) => document.getElementById(id);
  // ---- generate ------------------------------------------------------------------------------------

  const genStatus = $("generate-status");
  const generated = $("generated");

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

  const FRAMES = 12; // denoising frames asked of the diffusion model
  const FRAME_MS = 90;
  let shown = 0; // generation counter: a newer request stops an older animation

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

  function bitmapCanvas(rows) {
    const c = document.createElement("canvas");
    c.width = c.height = rows.length;
    paint(c, rows);
    return c;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function animate(canvases, frames, id) {
    for (const frame of frames) {
      if (id !== shown) return;
      frame.forEach((rows, i) => paint(canvases[i], rows));
      await sleep(FRAME_MS);
    }
  }

  $("generate-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const number = (id) => Number($(id).value);
    const body = {
      model: $("model").value,
      category: $("category").value.trim(),
      n: number("n"),
      steps: number("steps"),
    };
    if ($("guidance").value !== "") body.guidance = number("guidance"); // empty: the model's own
    if (body.model === "diffusion") body.frames = FRAMES;
    const id = ++shown;
    if ($("seed").value !== "") body.seed = number("seed");
    genStatus.textContent = "generating…";
    generated.replaceChildren();
    try {
      const response = await fetch("/api/generate", {
        method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" },
      });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) {
        genStatus.textContent = answer.detail || `error ${response.status}`;
        return;
      }
      if (id !== shown) return;
      const canvases = answer.images.map((rows) => {
        const c = bitmapCanvas(rows);
        c.setAttribute("role", "img");
        c.setAttribute("aria-label", `generated ${answer.category}`);
        return c;
      });
      generated.replaceChildren(...canvases);
      const done = `${answer.images.length} × ${answer.category} in ${Math.round(answer.server_ms)} ms`;
      if (answer.frames && answer.frames.length) {
        genStatus.textContent = "denoising…";
        await animate(canvases, answer.frames, id);
        if (id !== shown) return;
        answer.images.forEach((rows, i) => paint(canvases[i], rows));
      }
      genStatus.textContent = done;
    } catch (err) {
      genStatus.textContent = `cannot reach the server (${err.message})`;
    }
  });
})();
