"""The stroke model's network in NumPy: the forward pass of `sketch_model.SketchTransformer` from its weight
file, with the same key-value cache, so that drawing and completing need no PyTorch (the base install)."""

from __future__ import annotations

import numpy as np

from doodlelab.generative.sketch_config import COMPONENTS, SIGMA_MIN, SPREAD, SketchConfig

Cache = list  # per block: [] before the first call, then [keys, values], each (N, heads, T, d / heads)


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """(..., d) -> (..., d): (x - mean) / sqrt(var + eps) * weight + bias, over the last axis (Ba et al.
    2016)."""
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def erf(x: np.ndarray) -> np.ndarray:
    """The error function to within 1.5e-7 (Abramowitz & Stegun 1964, 7.1.26): NumPy has none."""
    t = 1.0 / (1.0 + 0.3275911 * np.abs(x))
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return np.sign(x) * (1.0 - poly * np.exp(-x * x))


def gelu(x: np.ndarray) -> np.ndarray:
    """x Phi(x) = x (1 + erf(x / sqrt 2)) / 2 (Hendrycks & Gimpel 2016), the exact form torch's GELU uses."""
    return 0.5 * x * (1.0 + erf(x * np.float32(1 / np.sqrt(2))))


def softmax(z: np.ndarray) -> np.ndarray:
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def shapes(config: SketchConfig, n_classes: int) -> dict[str, tuple[int, ...]]:
    """The name and shape of every weight of `sketch_mdn.network(config, n_classes)`."""
    d, g, offsets = config.width, config.grid_size, 2 * config.grid_size + 1
    out: dict[str, tuple[int, ...]] = {"norm.weight": (d,), "norm.bias": (d,), "pen_in.weight": (4, d)}
    rows = {"dx_in": offsets, "dy_in": offsets, "x_in": g + 1}
    rows |= {"y_in": g + 1, "time_in": config.max_len, "class_in": n_classes + 1}
    linears = {"head_pen": (3, d)}
    if config.head == "mixture":
        linears |= {"head_mix": (6 * COMPONENTS, d), "offset_out": (d, 2)}
    else:
        rows |= {"dx_out": offsets, "dy_out": offsets}
        linears |= {"head_dx": (offsets, d), "head_dy": (offsets, d)}
    out |= {f"{name}.weight": (n, d) for name, n in rows.items()}
    for i in range(config.layers):
        p = f"blocks.{i}."
        out |= {p + f"norm{k}.{w}": (d,) for k in (1, 2) for w in ("weight", "bias")}
        linears |= {
            p + "qkv": (3 * d, d),
            p + "proj": (d, d),
            p + "mlp.0": (4 * d, d),
            p + "mlp.2": (d, 4 * d),
        }
    for name, shape in linears.items():
        out |= {f"{name}.weight": shape, f"{name}.bias": shape[:1]}
    return out


class NumpySketchNet:
    """p(row_t | rows < t, class) as `SketchTransformer` computes it, on NumPy arrays: `hidden` and `heads`
    take and give what the PyTorch network's do (integer inputs, float32 hidden states and logits)."""

    def __init__(self, arrays: dict[str, np.ndarray], config: SketchConfig, n_classes: int) -> None:
        expected = shapes(config, n_classes)
        wrong = sorted(
            k
            for k in expected.keys() | arrays.keys()
            if expected.get(k) != getattr(arrays.get(k), "shape", None)
        )
        if wrong:
            raise ValueError(f"weights that do not fit the model's config: {', '.join(wrong[:3])}")
        self.w = {k: np.asarray(v, np.float32) for k, v in arrays.items()}
        self.heads_n, self.n_classes, self.head = config.heads, n_classes, config.head
        self.grid_size, self.max_len, self.blocks = config.grid_size, config.max_len, range(config.layers)
        linears = [k[: -len(".bias")] for k in self.w if k.endswith(".bias") and "norm" not in k]
        self._t = {name: self.w[f"{name}.weight"].T.copy() for name in linears}  # x @ W.T as x @ _t

    def linear(self, name: str, x: np.ndarray) -> np.ndarray:
        """(..., d_in) -> (..., d_out): x W^T + b, as one 2-D product (a stacked one skips BLAS)."""
        w = self._t[name]
        return (x.reshape(-1, x.shape[-1]) @ w).reshape(*x.shape[:-1], w.shape[1]) + self.w[f"{name}.bias"]

    def block(self, i: int, x: np.ndarray, cache: Cache | None) -> np.ndarray:
        """Block i (pre-norm attention, then MLP) on x (N, t, d); the cache holds the earlier keys/values."""
        n, t, d = x.shape
        p, h = f"blocks.{i}.", self.heads_n
        normed = layer_norm(x, self.w[p + "norm1.weight"], self.w[p + "norm1.bias"])
        qkv = self.linear(p + "qkv", normed).reshape(n, t, 3, h, d // h).transpose(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # (N, heads, t, d / heads)
        before = 0
        if cache is not None:
            if cache:
                before = cache[0].shape[2]
                k, v = np.concatenate([cache[0], k], axis=2), np.concatenate([cache[1], v], axis=2)
            cache[:] = [k, v]
        scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(d // h))  # (N, heads, t, T)
        late = np.arange(k.shape[2])[None, :] > before + np.arange(t)[:, None]  # key after the query
        scores = np.where(late, -np.inf, scores)
        y = (softmax(scores) @ v).transpose(0, 2, 1, 3).reshape(n, t, d)  # eq. 1 of Vaswani et al. 2017
        x = x + self.linear(p + "proj", y)
        normed = layer_norm(x, self.w[p + "norm2.weight"], self.w[p + "norm2.bias"])
        return x + self.linear(p + "mlp.2", gelu(self.linear(p + "mlp.0", normed)))

    def hidden(
        self,
        inputs: np.ndarray,
        where: np.ndarray,
        labels: np.ndarray,
        cache: list[Cache] | None = None,
        start: int = 0,
    ) -> np.ndarray:
        """inputs (N, T, 3), where (N, T, 2), labels (N,) -> hidden states (N, T, d) float32, as
        `SketchTransformer.hidden` (positions start..start+T-1 when a cache holds the earlier ones)."""
        w = self.w
        t = np.arange(start, start + inputs.shape[1])
        x = (
            w["dx_in.weight"][inputs[..., 0]]
            + w["dy_in.weight"][inputs[..., 1]]
            + w["pen_in.weight"][inputs[..., 2]]
            + w["x_in.weight"][where[..., 0]]
            + w["y_in.weight"][where[..., 1]]
            + w["time_in.weight"][t]
            + w["class_in.weight"][labels][:, None]
        )
        for i in self.blocks:
            x = self.block(i, x, None if cache is None else cache[i])
        return layer_norm(x, w["norm.weight"], w["norm.bias"])

    def heads(self, h: np.ndarray, dx: np.ndarray | None = None, dy: np.ndarray | None = None):
        """Logits from hidden states h (..., d), as `SketchTransformer.heads`: dx; given dx, dy; given both,
        the pen (None for the heads whose inputs are missing)."""
        logits_dx = self.linear("head_dx", h)
        if dx is None:
            return logits_dx, None, None
        h = h + self.w["dx_out.weight"][dx]
        logits_dy = self.linear("head_dy", h)
        if dy is None:
            return logits_dx, logits_dy, None
        return logits_dx, logits_dy, self.linear("head_pen", h + self.w["dy_out.weight"][dy])

    def mixture(self, h: np.ndarray) -> tuple[np.ndarray, ...]:
        """The mixture head (config.head "mixture"), as `MdnSketchTransformer.mixture`: h (..., d) ->
        (log weights, mu_x, mu_y, sigma_x, sigma_y, rho), each (..., COMPONENTS) float64, in grid cells."""
        logit, mx, my, sx, sy, r = np.split(self.linear("head_mix", h).astype(np.float64), 6, axis=-1)
        scale = self.grid_size / SPREAD
        top = logit.max(axis=-1, keepdims=True)
        log_w = logit - top - np.log(np.exp(logit - top).sum(axis=-1, keepdims=True))
        sigma_x, sigma_y = (SIGMA_MIN + np.logaddexp(0.0, v) * scale for v in (sx, sy))  # softplus
        return log_w, mx * scale, my * scale, sigma_x, sigma_y, 0.95 * np.tanh(r)

    def pen_logits(self, h: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The mixture model's pen logits (..., 3) given the move (x, y) in grid cells (...,)."""
        offset = np.stack([x, y], axis=-1).astype(np.float32) / np.float32(self.grid_size)
        return self.linear("head_pen", h + self.linear("offset_out", offset))
