// The game's records: a round's drawing as a small SVG for the summary, and all rounds as ndjson in the
// official Quick, Draw! raw format (canvas coordinates, per-point times in ms since the first point).
"use strict";

window.doodlelabGameRecord = (() => {
  const SVG = "http://www.w3.org/2000/svg";

  // A drawing ([[xs], [ys], [ts]] per stroke) as an SVG of `size` px, fitted to its bounding box.
  function drawingSvg(strokes, size = 120) {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 100 100");
    svg.setAttribute("width", String(size));
    svg.setAttribute("height", String(size));
    svg.setAttribute("role", "img");
    const xs = strokes.flatMap((s) => s[0]);
    const ys = strokes.flatMap((s) => s[1]);
    if (!xs.length) return svg;
    const x0 = Math.min(...xs), y0 = Math.min(...ys);
    const extent = Math.max(Math.max(...xs) - x0, Math.max(...ys) - y0, 1);
    const scale = 84 / extent;
    const dx = (100 - (Math.max(...xs) - x0) * scale) / 2, dy = (100 - (Math.max(...ys) - y0) * scale) / 2;
    const at = (v, v0, d) => ((v - v0) * scale + d).toFixed(1);
    for (const [sx, sy] of strokes) {
      const line = document.createElementNS(SVG, "polyline");
      const points = sx.map((x, i) => `${at(x, x0, dx)},${at(sy[i], y0, dy)}`);
      if (points.length === 1) points.push(points[0]);
      line.setAttribute("points", points.join(" "));
      svg.append(line);
    }
    return svg;
  }

  // "2026-12-02 20:00:00.12300 UTC", as the official files write their timestamps.
  function officialTimestamp(date) {
    const iso = date.toISOString(); // 2026-12-02T20:00:00.123Z
    return `${iso.slice(0, 10)} ${iso.slice(11, 23)}00 UTC`;
  }

  // A key_id as in the official files: a string of 16 digits, not starting with 0.
  function keyId() {
    const digits = new Uint8Array(16);
    crypto.getRandomValues(digits);
    return Array.from(digits, (d, i) => String(i === 0 ? 1 + (d % 9) : d % 10)).join("");
  }

  // One ndjson line per round that has ink (an empty drawing is not a valid record): the raw format's
  // fields in the official order.
  function toNdjson(rounds) {
    return rounds.filter((r) => r.strokes.length).map((r) => JSON.stringify({
      key_id: r.keyId,
      word: r.word,
      countrycode: "",
      timestamp: officialTimestamp(r.startedAt),
      recognized: r.recognized,
      drawing: r.strokes,
    }) + "\n").join("");
  }

  return { drawingSvg, officialTimestamp, keyId, toNdjson };
})();
