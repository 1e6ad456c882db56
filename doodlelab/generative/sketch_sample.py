"""Drawing with the stroke model: row by row with temperature and nucleus (top-p) sampling from a seeded
NumPy Generator; new doodles in the simplified schema; completions of strokes in their own frame."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from doodlelab import modelfile
from doodlelab.data import strokes as pipeline
from doodlelab.generative import sketch_data as sd
from doodlelab.generative.sketch_config import SHIPPED, SketchConfig, check_sampling
from doodlelab.generative.sketch_numpy import NumpySketchNet

FORMAT = "doodlelab-sketch/1"


def draw(logits: np.ndarray, temperature: float, top_p: float, rng: np.random.Generator) -> np.ndarray:
    """One value per row of logits (N, V) (-inf: forbidden): softmax(logits / tau) (Ha & Eck 2017, eq. 8),
    cut to the nucleus, the most probable values holding top_p of the mass (Holtzman et al. 2020), then
    drawn by inverse CDF with one uniform number per row from `rng`. Returns (N,) int64."""
    z = logits.astype(np.float64) / temperature
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    order = np.argsort(-p, axis=1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=1)
    ranked = np.where(np.cumsum(ranked, axis=1) - ranked < top_p, ranked, 0.0)  # the first always stays
    cdf = np.cumsum(ranked, axis=1)
    u = rng.random(len(p)) * cdf[:, -1]
    pick = np.minimum((cdf < u[:, None]).sum(axis=1), p.shape[1] - 1)
    return order[np.arange(len(p)), pick]


def _window(rows: np.ndarray, grid_size: int, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs for predicting the row after `rows` (N, T, 3): (inputs, where) as in `sketch_data.batch`,
    the last max_len positions only (a long prefix is seen through a sliding window)."""
    n = len(rows)
    start = np.tile(np.array([[[grid_size, grid_size, sd.PEN_START]]]), (n, 1, 1))
    shifted = rows.copy()
    shifted[..., :2] += grid_size
    inputs = np.concatenate([start, shifted], axis=1)[:, -max_len:]
    moved = np.cumsum(rows[..., :2], axis=1)
    where = np.concatenate([np.zeros((n, 1, 2), np.int64), moved], axis=1)[:, -max_len:]
    return inputs, np.clip(where, 0, grid_size)


def token_move(model, h, here, pen_before, bounds, temperature, top_p, rng) -> np.ndarray:
    """(N, 2) moves in grid cells from the categorical heads of hidden states h (N, d): dx, then dy given
    dx, each by `draw`; moves taking the pen (here, (N, 2)) outside `bounds` are forbidden, and so is a zero
    move while the pen is down (pen_before (N,))."""
    g = model.grid_size
    steps, chosen = np.arange(-g, g + 1), []
    for axis in (0, 1):  # dx given the state, then dy given dx
        logits = model.heads(h, *chosen)[axis].astype(np.float64)
        target = here[:, axis, None] + steps[None]
        logits[(target < bounds[0]) | (target > bounds[1])] = -np.inf
        if axis == 1:  # no (0, 0) move while the pen is down
            logits[(chosen[0] == g) & (pen_before == sd.PEN_DOWN), g] = -np.inf
        chosen.append(draw(logits, temperature, top_p, rng))
    return np.column_stack(chosen) - g


def mixture_move(mixture, here, pen_before, bounds, temperature, top_p, rng, tries: int = 16) -> np.ndarray:
    """(N, 2) moves in grid cells from the mixtures (log weights, mu_x, mu_y, sigma_x, sigma_y, rho; each
    (N, M)): a component drawn by `draw` from its weights, then a point from its Gaussian with the standard
    deviations scaled by sqrt(tau) (Ha & Eck 2017, sec. 3.3), rounded to the grid. A move that leaves
    `bounds` or stays put while the pen is down is drawn again, up to `tries` times; one still refused is
    clipped into the bounds, and a zero move then steps one cell along x, into the bounds."""
    log_w, mx, my, sx, sy, rho = mixture
    n = len(log_w)
    k = draw(log_w, temperature, top_p, rng)
    mx, my, sx, sy, rho = (a[np.arange(n), k] for a in (mx, my, sx, sy, rho))
    s = np.sqrt(temperature)
    move, todo = np.zeros((n, 2), np.int64), np.ones(n, bool)
    for _ in range(tries):
        e = rng.standard_normal((n, 2))
        x = mx + sx * s * e[:, 0]
        y = my + sy * s * (rho * e[:, 0] + np.sqrt(1 - rho**2) * e[:, 1])  # correlation rho
        fresh = np.rint(np.clip(np.column_stack([x, y]), -1e6, 1e6)).astype(np.int64)
        there = here + fresh
        ok = ((there >= bounds[0]) & (there <= bounds[1])).all(axis=1)
        ok &= ~((fresh == 0).all(axis=1) & (pen_before == sd.PEN_DOWN))
        move[todo & ok] = fresh[todo & ok]
        move[todo & ~ok] = np.clip(there, bounds[0], bounds[1])[todo & ~ok] - here[todo & ~ok]
        todo &= ~ok
        if not todo.any():
            return move
    stuck = todo & (move == 0).all(axis=1) & (pen_before == sd.PEN_DOWN)
    move[stuck, 0] = np.where(here[stuck, 0] < bounds[1], 1, -1)
    return move


def sample_rows(
    model,
    label: int,
    context: np.ndarray,
    n: int,
    rng: np.random.Generator,
    temperature: float,
    top_p: float,
    max_new: int,
    bounds: tuple[int, int],
    use_cache: bool = True,
) -> list[np.ndarray]:
    """n continuations of `context` (T0, 3) stroke-5 rows (T0 may be 0) under class `label`, drawn by `model`
    (`NumpySketchNet`, or `sketch_model.OnNumpy` of a PyTorch network): the new rows
    [(t_i, 3)], each ending with PEN_END (forced at `max_new`). Offsets that would take the pen outside
    `bounds` (lo, hi grid positions, both axes) are forbidden, and so is what training drawings never do:
    a zero move within a stroke (repeated points are dropped) and PEN_END before two new points.

    The network sees each new row once, through a key-value cache (`use_cache`), while the sequence fits
    in max_len; past that, the window slides and every step recomputes it."""
    rows = np.repeat(np.asarray(context, np.int64).reshape(1, -1, 3), n, axis=0)
    here = np.cumsum(rows[..., :2], axis=1)[:, -1] if rows.shape[1] else np.zeros((n, 2), np.int64)
    labels = np.full(n, label, np.int64)
    pen_before = np.full(n, rows[0, -1, 2] if rows.shape[1] else sd.PEN_START)
    finished = np.zeros(n, bool)
    length = np.zeros(n, np.int64)
    cache: list[list] | None = [[] for _ in model.blocks] if use_cache else None
    for step in range(max_new):
        inputs, where = _window(rows, model.grid_size, model.max_len)
        if cache is not None and rows.shape[1] + 1 > model.max_len:
            cache = None  # the window slides: positions move, so the cached keys no longer apply
        if cache is not None and step > 0:  # only the newest row is new to the network
            h = model.hidden(inputs[:, -1:], where[:, -1:], labels, cache, inputs.shape[1] - 1)[:, -1]
        else:
            h = model.hidden(inputs, where, labels, cache)[:, -1]
        if model.head == "mixture":
            move = mixture_move(model.mixture(h), here, pen_before, bounds, temperature, top_p, rng)
            pen_logits = model.pen_logits(h, move[:, 0], move[:, 1]).astype(np.float64)
        else:
            move = token_move(model, h, here, pen_before, bounds, temperature, top_p, rng)
            pen_logits = model.heads(h, *(move + model.grid_size).T)[2].astype(np.float64)
        if step == 0:
            pen_logits[:, sd.PEN_END] = -np.inf
        pen = draw(pen_logits, temperature, top_p, rng)
        if step == max_new - 1:
            pen[:] = sd.PEN_END
        row = np.column_stack([move, pen])
        row[finished] = (0, 0, sd.PEN_END)
        rows = np.concatenate([rows, row[:, None]], axis=1)
        here, pen_before = here + row[:, :2], row[:, 2]
        length += ~finished
        finished |= pen == sd.PEN_END
        if finished.all():
            break
    return [r[len(context) : len(context) + k] for r, k in zip(rows, length)]


@dataclass
class Sketcher:
    """A trained stroke model file, ready to draw: network (float32, eval), config and its categories."""

    model: NumpySketchNet  # or sketch_model.OnNumpy: a network answering NumPy arrays
    config: SketchConfig
    classes: list[str]
    path: Path

    def label(self, category: str | None) -> int:
        """The class index of `category` (None: "no category"); DataError when the model lacks it."""
        from doodlelab.errors import DataError

        if category is None:
            return len(self.classes)
        if category not in self.classes:
            raise DataError(f"the sketch model {self.path.name} does not know {category!r}")
        return self.classes.index(category)

    def generate(
        self,
        category: str | None,
        n: int,
        seed: int | list[int],
        temperature: float | None = None,
        top_p: float | None = None,
    ) -> list[list[np.ndarray]]:
        """n new drawings in the simplified schema: [[(m, 2) integer strokes in 0..255]] (the pipeline's
        `simplify` of the decoded rows, so every tool reads them as simplified)."""
        temperature, top_p = self.sampling(temperature, top_p)
        rng = np.random.default_rng(seed)
        new = sample_rows(
            self.model,
            self.label(category),
            np.zeros((0, 3), np.int64),
            n,
            rng,
            temperature,
            top_p,
            self.config.max_len,
            (0, self.config.grid_size),
        )
        return [pipeline.simplify(sd.from_grid(sd.decode(r), self.config.grid_size)) for r in new]

    def complete(
        self,
        drawing: list[np.ndarray],
        raw: bool | None,
        category: str | None,
        n: int,
        seed: int | list[int],
        temperature: float | None = None,
        top_p: float | None = None,
    ) -> list[list[np.ndarray]]:
        """n continuations of `drawing` (parsed strokes in the input's own coordinates; `raw` as
        `strokes.rasterize` takes it): per continuation, only the NEW strokes, in the input's frame. `seed`
        seeds the NumPy Generator (an int or a list of ints, e.g. [seed, line])."""
        temperature, top_p = self.sampling(temperature, top_p)
        g, max_len = self.config.grid_size, self.config.max_len
        origin, scale, boxed, raw = frame(drawing, raw)
        cells = sd.to_grid(boxed, g)
        context = sd.encode(cells, end=False)
        bounds = (-(g // 2), g + g // 2) if raw else (0, g)  # simplified input: stay in the 0..255 box
        rng = np.random.default_rng(seed)
        new = sample_rows(
            self.model,
            self.label(category),
            context,
            n,
            rng,
            temperature,
            top_p,
            max(max_len - len(context), max_len // 2),
            bounds,
        )
        last = tuple(int(v) for v in cells[-1][-1])
        out = []
        for rows in new:
            mapped = [s / scale + origin for s in sd.from_grid(sd.decode(rows, last), g)]
            out.append([np.round(s) if not raw else np.round(s, 2) for s in mapped])
        return out

    def sampling(self, temperature: float | None, top_p: float | None) -> tuple[float, float]:
        """(temperature, top_p) to sample with: the given ones, checked, or the model's defaults."""
        temperature = self.config.temperature if temperature is None else temperature
        top_p = self.config.top_p if top_p is None else top_p
        check_sampling(temperature, top_p)
        return float(temperature), float(top_p)


def frame(drawing: list[np.ndarray], raw: bool | None) -> tuple[np.ndarray, float, list[np.ndarray], bool]:
    """(origin (2,), scale, strokes in the 0..255 box, raw) of a drawing: simplified input is its own frame
    (origin 0, scale 1); raw input is aligned and scaled as `strokes.simplify` does, and simplified by it."""
    raw = (not pipeline.is_simplified(drawing)) if raw is None else raw
    if not raw:
        return np.zeros(2), 1.0, [np.asarray(s, np.float64) for s in drawing], False
    points = np.concatenate(drawing)
    origin = points.min(axis=0)
    extent = float((points.max(axis=0) - origin).max())
    dot = extent <= 1e-9 * max(1.0, float(np.abs(points).max()))  # as in strokes.simplify
    return origin, 1.0 if dot else pipeline.SIMPLIFIED_MAX / extent, pipeline.simplify(drawing), True


def load(model: str | Path = "sketch") -> Sketcher:
    """The shipped model ("sketch") or a `sketch.safetensors` file written by `doodlelab train sketch`."""
    path = SHIPPED if str(model) == "sketch" else Path(model)
    if str(model) == "sketch" and not path.is_file():
        raise modelfile.ModelFileError(
            "no sketch model is shipped yet: train one with `doodlelab train "
            "sketch` and pass --model runs/sketch/sketch.safetensors"
        )
    arrays, meta = modelfile.load_float32(path)
    if meta.get("format") != FORMAT:
        raise modelfile.ModelFileError(f"{path}: not a doodlelab sketch model file")
    config = SketchConfig.from_dict(meta["config"])
    classes = list(modelfile.load_card(path)["classes"])
    try:
        net = NumpySketchNet(arrays, config, len(classes))
    except ValueError as exc:
        raise modelfile.ModelFileError(f"{path}: {exc}") from None
    return Sketcher(net, config, classes, path)
