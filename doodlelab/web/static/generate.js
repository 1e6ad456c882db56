// doodlelab page, generate panel: the searchable category list and POST /api/generate; samples are drawn
// as 28x28 canvases, or the server's message ("not available yet") is shown. Plain JS, no build step.

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

  function bitmapCanvas(rows) {
    const size = rows.length;
    const c = document.createElement("canvas");
    c.width = c.height = size;
    const g = c.getContext("2d");
    const img = g.createImageData(size, size);
    rows.forEach((row, y) => row.forEach((v, x) => {
      const k = (y * size + x) * 4;
      img.data[k] = img.data[k + 1] = img.data[k + 2] = 255 - v; // ink dark on white
      img.data[k + 3] = 255;
    }));
    g.putImageData(img, 0, 0);
    return c;
  }

  $("generate-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const number = (id) => Number($(id).value);
    const body = {
      model: $("model").value,
      category: $("category").value.trim(),
      n: number("n"),
      steps: number("steps"),
      guidance: number("guidance"),
    };
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
      generated.replaceChildren(...answer.images.map((rows) => {
        const c = bitmapCanvas(rows);
        c.setAttribute("role", "img");
        c.setAttribute("aria-label", `generated ${answer.category}`);
        return c;
      }));
      genStatus.textContent = `${answer.images.length} × ${answer.category} in ${Math.round(answer.server_ms)} ms`;
    } catch (err) {
      genStatus.textContent = `cannot reach the server (${err.message})`;
    }
  });
})();
