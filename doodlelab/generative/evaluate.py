"""The generation yardstick shared by the generators: recognizability (a fixed judge classifier's top-1 on
samples, per intended category) and the Fréchet distance to real test drawings in its feature space."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from doodlelab.data import cache
from doodlelab.data.categories import categories

Generate = Callable[[str, int, int], np.ndarray]  # (category, n, seed) -> (n, 28, 28) uint8


# The yardstick's classifier, frozen like FID's Inception network: the classifier shipped until
# 2026-12 (71.2% top-1 on the test split), so generator figures stay comparable when the served
# classifier changes. Its card and float ONNX export (with the features output) sit beside it.
JUDGE = Path(__file__).resolve().parent.parent / "weights" / "judge.safetensors"


class Judge:
    """The judge classifier (JUDGE, or given weights), used for both yardsticks on (N, 28, 28) uint8 images.

    With PyTorch installed it runs the weights themselves (the figures in the model cards); without it,
    the float ONNX export beside them (`NAME.onnx`, whose second output is the features), on ONNX Runtime.
    """

    def __init__(self, weights: str | Path | None = None, backend: str = "auto") -> None:
        self.path = Path(weights) if weights else JUDGE
        if backend == "auto":
            backend = "torch" if _has_torch() else "onnx"
        self.backend = backend
        if backend == "torch":
            from doodlelab.classifier import checkpoint

            self.model, self.config, self.card = checkpoint.load_model(self.path)
            self.feature_dim = self.model.feature_dim
        else:
            self._session, self.card = _features_session(self.path)
            self.feature_dim = self.card["features"]["shape"][1]
        self.classes = self.card["classes"]

    def run(self, images: np.ndarray, batch: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        """(top-1 class indices (N,), penultimate features (N, D) float64) for (N, 28, 28) uint8 images."""
        preds, feats = [], []
        for start in range(0, len(images), batch):
            x = np.ascontiguousarray(images[start : start + batch]).astype(np.float32)[:, None] / 255.0
            logits, f = self._forward(x)
            preds.append(logits.argmax(1))
            feats.append(f.astype(np.float64))
        if not preds:
            return np.zeros(0, np.int64), np.zeros((0, self.feature_dim))
        return np.concatenate(preds), np.concatenate(feats)

    def _forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, 1, 28, 28) float32 in [0, 1] -> (logits (B, C), features (B, D))."""
        if self.backend == "onnx":
            return tuple(self._session.run(["logits", "features"], {"images": x}))
        import torch

        with torch.no_grad():
            f = self.model.features(torch.from_numpy(x))
            return self.model.head(f).numpy(), f.numpy()


def _has_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _features_session(weights: Path):
    """(ONNX Runtime session, card) of `weights`' float export with the "features" output, or DoodleError."""
    import json

    from doodlelab.classifier.recognizer import _onnx_session
    from doodlelab.errors import DoodleError
    from doodlelab.onnx_export import export_matches, onnx_card_path

    path = weights.with_suffix(".onnx")
    matches = export_matches(path, weights)  # exported from exactly these weights (both hashes)
    card = json.loads(onnx_card_path(path).read_text(encoding="utf-8")) if matches else {}
    if "features" not in card:
        raise DoodleError(
            f"judging generators without PyTorch needs {path.name} exported from these weights, with a "
            "features output; "
            f"export it with `doodlelab export onnx --weights {weights} --out {path}` (needs [train])"
        )
    return _onnx_session(path), card


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||² + Tr(S_a + S_b - 2 (S_a S_b)^½) between Gaussians fitted to feature sets (N, D)
    (Heusel et al. 2017, the FID formula). Tr((S_a S_b)^½) = Σ sqrt(eig(S_a^½ S_b S_a^½)), all symmetric."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(s_a)
    root_a = (v * np.sqrt(w.clip(min=0))) @ v.T
    cross = np.sqrt(np.linalg.eigvalsh(root_a @ s_b @ root_a).clip(min=0)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * cross)


def nearest_neighbour_distance(features: np.ndarray) -> float:
    """Median over rows of (N, D) of the Euclidean distance to the nearest other row (N >= 2)."""
    d = np.sqrt(((features[:, None] - features[None]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    return float(np.median(d.min(1)))


def variety(
    fake_f: np.ndarray,
    fake_y: np.ndarray,
    real_f: np.ndarray,
    real_y: np.ndarray,
    wanted: list[int],
    names: list[str],
) -> dict[str, float]:
    """Per category: how far a sample lies from its nearest fellow sample, over the same for real drawings
    of the category (medians, classifier features). 1: as varied as people's drawings; near 0: the samples
    are near-duplicates, i.e. mode collapse. Unlike the mean pairwise distance, one outlier cannot hide
    a collapsed majority."""
    out = {}
    for name, c in zip(names, wanted):
        fake, real = fake_f[fake_y == c], real_f[real_y == c]
        if min(len(fake), len(real)) >= 2:
            out[name] = nearest_neighbour_distance(fake) / max(nearest_neighbour_distance(real), 1e-12)
    return out


def balanced_sample(labels: np.ndarray, per_category: int, wanted: list[int], seed: int) -> np.ndarray:
    """Indices of up to `per_category` items of each wanted label (the real counterpart of the samples)."""
    rng = np.random.default_rng(seed)
    picks = [rng.permutation(np.flatnonzero(labels == c))[:per_category] for c in wanted]
    return np.concatenate(picks) if picks else np.zeros(0, np.int64)


def evaluate_generator(
    generate: Generate,
    per_category: int = 10,
    names: list[str] | None = None,
    judge: Judge | None = None,
    root: Path | None = None,
    cache_root: Path | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    split: str = "test",
) -> dict:
    """Sample `per_category` doodles of each category, then report recognizability next to the classifier's
    accuracy on real test drawings, and the Fréchet distance samples↔test next to the floor train↔test
    (train drawings drawn with the same per-category counts as the samples, so both sides match in size).
    `split="val"` measures against validation drawings instead (to choose sampling settings)."""
    judge = judge or Judge()
    names = names or categories()
    wanted = [judge.classes.index(n) for n in names]
    samples, intended, seconds = [], [], 0.0
    for i, name in enumerate(names):
        started = time.perf_counter()
        samples.append(generate(name, per_category, seed + i))
        seconds += time.perf_counter() - started
        intended.append(np.full(per_category, wanted[i]))
        if progress:
            progress(i + 1, len(names))
    fake, intended_arr = np.concatenate(samples), np.concatenate(intended)
    test_x, test_y = cache.load_split(split, names, 28, root=root, cache_root=cache_root)
    train_x, train_y = cache.load_split("train", names, 28, root=root, cache_root=cache_root)
    floor_idx = balanced_sample(train_y, per_category, wanted, seed)
    fake_pred, fake_f = judge.run(fake)
    test_pred, test_f = judge.run(test_x)
    _, floor_f = judge.run(train_x[floor_idx])
    per_cat = {n: float((fake_pred[intended_arr == c] == c).mean()) for n, c in zip(names, wanted)}
    fd, floor = frechet_distance(fake_f, test_f), frechet_distance(floor_f, test_f)
    real_idx = balanced_sample(test_y, per_category, wanted, seed)
    varied = variety(fake_f, intended_arr, test_f[real_idx], test_y[real_idx], wanted, names)
    spread = np.array(list(varied.values()) or [np.nan])
    return {
        "split": split,
        "categories": len(names),
        "samples_per_category": per_category,
        "samples": len(fake),
        "recognizability": float((fake_pred == intended_arr).mean()),
        "classifier_accuracy_real_test": float((test_pred == test_y).mean()),
        "real_test_drawings": len(test_x),
        "frechet_distance": fd,
        "frechet_floor_train_vs_test": floor,
        "frechet_ratio": fd / floor,
        "floor_train_drawings": len(floor_idx),
        "variety_median": float(np.median(spread)),
        "variety_below_half": int((spread < 0.5).sum()),
        "least_varied": sorted(varied.items(), key=lambda kv: kv[1])[:10],
        "seconds_sampling": seconds,
        "worst_categories": sorted(per_cat.items(), key=lambda kv: kv[1])[:10],
        "per_category": per_cat,
        "classifier": str(judge.path.name),
    }
