"""Drawing with the stroke model: row by row with temperature, nucleus (top-p) and classifier-free guidance
from a seeded NumPy Generator; new doodles in the simplified schema; completions in their own frame."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from doodlelab import modelfile
from doodlelab.data import strokes as pipeline
from doodlelab.generative import sketch_data as sd
from doodlelab.generative.sketch_config import SHIPPED, SketchConfig, check_sampling
from doodlelab.generative.sketch_moves import draw, guided_move, mixture_move, token_move
from doodlelab.generative.sketch_numpy import NumpySketchNet

FORMAT = "doodlelab-sketch/1"


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
    guidance: float = 0.0,
    none: int | None = None,
    on_finished: Callable[[int, np.ndarray], None] | None = None,
) -> list[np.ndarray]:
    """n continuations of `context` (T0, 3) stroke-5 rows (T0 may be 0) under class `label`, drawn by `model`
    (`NumpySketchNet`, or `sketch_model.OnNumpy` of a PyTorch network): the new rows
    [(t_i, 3)], each ending with PEN_END (forced at `max_new`). Offsets that would take the pen outside
    `bounds` (lo, hi grid positions, both axes) are forbidden, and so is what training drawings never do:
    a zero move within a stroke (repeated points are dropped) and PEN_END before two new points.

    The network sees each new row once, through a key-value cache (`use_cache`), while the sequence fits
    in max_len; past that, the window slides and every step recomputes it. With `guidance` w > 0 and the
    "no category" class `none`, each row is also run under `none` (a batch of 2n) and its move is drawn
    from the guided distribution (`guided` logits, `guided_move` for the mixture); the pen is drawn from
    the category's own head (guiding it too ends drawings early and makes them alike: measured in
    docs/experiments/2026-12-04-sketch-guidance.md). `on_finished(i, rows)` is called as soon as
    continuation i has ended, with the rows it will return (a page can start drawing it)."""
    rows = np.repeat(np.asarray(context, np.int64).reshape(1, -1, 3), n, axis=0)
    here = np.cumsum(rows[..., :2], axis=1)[:, -1] if rows.shape[1] else np.zeros((n, 2), np.int64)
    guide = guidance > 0 and none is not None and label != none
    labels = np.repeat(np.array([label, none] if guide else [label], np.int64), n)
    twice = (lambda a: np.concatenate([a, a])) if guide else (lambda a: a)  # rows under both labels
    pen_before = np.full(n, rows[0, -1, 2] if rows.shape[1] else sd.PEN_START)
    finished = np.zeros(n, bool)
    length = np.zeros(n, np.int64)
    cache: list[list] | None = [[] for _ in model.blocks] if use_cache else None
    for step in range(max_new):
        inputs, where = map(twice, _window(rows, model.grid_size, model.max_len))
        if cache is not None and rows.shape[1] + 1 > model.max_len:
            cache = None  # the window slides: positions move, so the cached keys no longer apply
        if cache is not None and step > 0:  # only the newest row is new to the network
            h = model.hidden(inputs[:, -1:], where[:, -1:], labels, cache, inputs.shape[1] - 1)[:, -1]
        else:
            h = model.hidden(inputs, where, labels, cache)[:, -1]
        sampling = (here, pen_before, bounds, temperature, top_p, rng)
        if model.head == "mixture":
            mixture = model.mixture(h)
            if guide:
                move = guided_move([a[:n] for a in mixture], [a[n:] for a in mixture], guidance, *sampling)
            else:
                move = mixture_move(mixture, *sampling)
            pen_logits = model.pen_logits(h[:n], move[:, 0], move[:, 1]).astype(np.float64)
        else:
            move = token_move(model, h[:n], *sampling, h[n:] if guide else None, guidance)
            pen_logits = model.heads(h[:n], *(move + model.grid_size).T)[2].astype(np.float64)
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
        ended = ~finished & (pen == sd.PEN_END)
        finished |= ended
        for i in np.flatnonzero(ended) if on_finished else ():
            on_finished(int(i), rows[i, len(context) : len(context) + length[i]])
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
        guidance: float | None = None,
        on_drawing: Callable[[int, list[np.ndarray]], None] | None = None,
    ) -> list[list[np.ndarray]]:
        """n new drawings in the simplified schema: [[(m, 2) integer strokes in 0..255]] (the pipeline's
        `simplify` of the decoded rows, so every tool reads them as simplified). None: the model's setting.
        `on_drawing(i, drawing)` gets each drawing as soon as it is finished, before the others."""
        temperature, top_p, guidance = self.sampling(temperature, top_p, guidance)
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
            guidance=guidance,
            none=len(self.classes),
            on_finished=(lambda i, rows: on_drawing(i, self.drawing(rows))) if on_drawing else None,
        )
        return [self.drawing(r) for r in new]

    def drawing(self, rows: np.ndarray) -> list[np.ndarray]:
        """A new drawing's rows (t, 3) -> its strokes in the simplified schema."""
        return pipeline.simplify(sd.from_grid(sd.decode(rows), self.config.grid_size))

    def complete(
        self,
        drawing: list[np.ndarray],
        raw: bool | None,
        category: str | None,
        n: int,
        seed: int | list[int],
        temperature: float | None = None,
        top_p: float | None = None,
        guidance: float | None = None,
    ) -> list[list[np.ndarray]]:
        """n continuations of `drawing` (parsed strokes in the input's own coordinates; `raw` as
        `strokes.rasterize` takes it): per continuation, only the NEW strokes, in the input's frame. `seed`
        seeds the NumPy Generator (an int or a list of ints, e.g. [seed, line])."""
        temperature, top_p, guidance = self.sampling(temperature, top_p, guidance)
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
            guidance=guidance,
            none=len(self.classes),
        )
        last = tuple(int(v) for v in cells[-1][-1])
        out = []
        for rows in new:
            mapped = [s / scale + origin for s in sd.from_grid(sd.decode(rows, last), g)]
            out.append([np.round(s) if not raw else np.round(s, 2) for s in mapped])
        return out

    def sampling(
        self, temperature: float | None, top_p: float | None, guidance: float | None = None
    ) -> tuple[float, float, float]:
        """(temperature, top_p, guidance) to sample with: the given ones, checked, or the model's defaults.
        A model trained without "no category" (p_uncond 0) has nothing to guide with: no guidance by
        default, and a DataError if some is asked for."""
        from doodlelab.errors import DataError

        temperature = self.config.temperature if temperature is None else temperature
        top_p = self.config.top_p if top_p is None else top_p
        unguided = self.config.p_uncond == 0
        guidance = (0.0 if unguided else self.config.guidance) if guidance is None else guidance
        check_sampling(temperature, top_p, guidance)
        if unguided and guidance > 0:
            raise DataError(f"guidance: {self.path.name} never learned 'no category' (p_uncond 0); use 0")
        return float(temperature), float(top_p), float(guidance)


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
