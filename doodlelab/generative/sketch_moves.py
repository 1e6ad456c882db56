"""One move of the stroke model, drawn: temperature and nucleus (top-p) sampling from the heads, the moves
a drawing may not make, and classifier-free guidance toward the category (`sketch_sample` draws the rows)."""

from __future__ import annotations

import numpy as np

from doodlelab.generative import sketch_data as sd


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


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log-probabilities of logits (N, V) along the last axis, float64."""
    z = logits.astype(np.float64)
    top = z.max(axis=-1, keepdims=True)
    return z - top - np.log(np.exp(z - top).sum(axis=-1, keepdims=True))


def guided(cond: np.ndarray, none: np.ndarray, guidance: float) -> np.ndarray:
    """Classifier-free guidance of logits (N, V), conditional and "no category": log p_c + w (log p_c -
    log p_none), i.e. p_c^(1+w) / p_none^w (Ho & Salimans 2022, eq. 6, on log-probabilities as Sanchez et al.
    2023 guide language models). Call it on finite logits, before forbidding values with -inf."""
    log_c = log_softmax(cond)
    return log_c + guidance * (log_c - log_softmax(none))


def log_mixture(mixture: tuple[np.ndarray, ...], moves: np.ndarray) -> np.ndarray:
    """log p(move) (N, K) of moves (N, K, 2) in grid cells under mixtures (log weights, mu_x, mu_y, sigma_x,
    sigma_y, rho; each (N, M)): the bivariate Gaussians' density (Ha & Eck 2017, eq. 9)."""
    log_w, mx, my, sx, sy, rho = (a[:, None, :] for a in mixture)
    zx, zy = (moves[..., :1] - mx) / sx, (moves[..., 1:] - my) / sy
    one = 1 - rho**2
    log_n = -(zx**2 + zy**2 - 2 * rho * zx * zy) / (2 * one) - np.log(2 * np.pi * sx * sy * np.sqrt(one))
    a = log_w + log_n
    top = a.max(axis=-1, keepdims=True)
    return (top + np.log(np.exp(a - top).sum(axis=-1, keepdims=True)))[..., 0]


def token_move(model, h, here, pen_before, bounds, temperature, top_p, rng, h_none=None, guidance=0.0):
    """(N, 2) moves in grid cells from the categorical heads of hidden states h (N, d): dx, then dy given
    dx, each by `draw` (guided by the "no category" states h_none when given); moves taking the pen (here,
    (N, 2)) outside `bounds` are forbidden, and so is a zero move while the pen is down (pen_before (N,))."""
    g = model.grid_size
    steps, chosen = np.arange(-g, g + 1), []
    for axis in (0, 1):  # dx given the state, then dy given dx
        logits = model.heads(h, *chosen)[axis].astype(np.float64)
        if h_none is not None:
            logits = guided(logits, model.heads(h_none, *chosen)[axis], guidance)
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


def guided_move(cond, none, guidance, here, pen_before, bounds, temperature, top_p, rng, candidates=16):
    """(N, 2) moves under classifier-free guidance from the mixtures of the category (cond) and of "no
    category" (none): `candidates` moves per row drawn by `mixture_move` from cond, one of them kept with
    probability proportional to (p_c / p_none)^w at it. This is sampling-importance-resampling (Rubin 1987)
    of q(x) (p_c(x) / p_none(x))^w, q the tempered conditional mixture: a mixture raised to a power has no
    closed form to draw from. Every candidate obeys `mixture_move`'s rules, so the kept one does."""
    n = len(cond[0])
    tiled = [np.repeat(a, candidates, axis=0) for a in (*cond, here, pen_before)]
    moves = mixture_move(tuple(tiled[:6]), *tiled[6:], bounds, temperature, top_p, rng).reshape(
        n, candidates, 2
    )
    score = guidance * (log_mixture(cond, moves) - log_mixture(none, moves))
    cdf = np.cumsum(np.exp(score - score.max(axis=1, keepdims=True)), axis=1)
    pick = np.minimum((cdf < rng.random(n)[:, None] * cdf[:, -1:]).sum(axis=1), candidates - 1)
    return moves[np.arange(n), pick]
