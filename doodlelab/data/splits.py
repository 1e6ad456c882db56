"""Deterministic train/val/test splits, stratified per category and split by drawing identity.

A drawing has one identity across sources: row r of Google's `<category>.npy` is the drawing whose
`qd_index` is r, so a stroke drawing and its bitmap always land in the same split.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

SPLITS = ("train", "val", "test")
SPLIT_CODE = {name: i for i, name in enumerate(SPLITS)}


@dataclass(frozen=True)
class SplitConfig:
    """How drawings are divided; changing any field changes every split."""

    val_fraction: float = 0.1  # share of each category's drawings used for validation
    test_fraction: float = 0.1  # share of each category's drawings held out for testing
    seed: int = 0  # salt of the identity hash: another seed gives another (equally fair) split

    def __post_init__(self) -> None:
        if not (0 <= self.val_fraction < 1 and 0 <= self.test_fraction < 1):
            raise ValueError("split fractions must lie in [0, 1)")
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError("val_fraction + test_fraction must leave room for training")


DEFAULT_SPLIT = SplitConfig()


def identity(category: str, qd_index: int | None = None, key_id: str | None = None) -> str:
    """The identity of one drawing: its row in Google's per-category files when known, else its key_id."""
    if qd_index is not None and qd_index >= 0:
        return f"{category}#{qd_index}"
    if key_id:
        return f"key:{key_id}"
    raise ValueError("a drawing needs a qd_index or a key_id to have an identity")


def _rank_key(ident: str, seed: int) -> int:
    digest = hashlib.blake2b(ident.encode("utf-8"), digest_size=8, key=str(seed).encode()).digest()
    return int.from_bytes(digest, "big")


def assign_splits(identities: Sequence[str], config: SplitConfig = DEFAULT_SPLIT) -> np.ndarray:
    """Split codes (0 train, 1 val, 2 test) for one category's drawings. (N,) str -> (N,) uint8.

    Distinct identities are ordered by a keyed hash; the first `test_fraction` of them go to test, the
    next `val_fraction` to validation, the rest to training, so each category is split in exactly those
    proportions. Duplicated identities (the same drawing from two sources) share one split.
    """
    unique = sorted(set(identities), key=lambda i: (_rank_key(i, config.seed), i))
    n = len(unique)
    n_test = round(n * config.test_fraction)
    n_val = round(n * config.val_fraction)
    code = {}
    for rank, ident in enumerate(unique):
        code[ident] = (
            SPLIT_CODE["test"]
            if rank < n_test
            else (SPLIT_CODE["val"] if rank < n_test + n_val else SPLIT_CODE["train"])
        )
    return np.array([code[i] for i in identities], dtype=np.uint8)


def link_to_bitmaps(rendered: np.ndarray, bitmaps: np.ndarray, threshold: float = 0.99) -> np.ndarray:
    """For drawings whose qd_index is unknown: the bitmap row each one is (Pearson r >= threshold), or -1.

    rendered: (N, 784) our renders; bitmaps: (M, 784) Google's. Returns (N,) int64 row indices.
    Our renderer reproduces Google's at r ~ 0.998, so a match above 0.99 is the same drawing.
    """
    out = np.full(len(rendered), -1, dtype=np.int64)
    if len(rendered) == 0 or len(bitmaps) == 0:
        return out

    def standardize(x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float32)
        x -= x.mean(axis=1, keepdims=True)
        norm = np.linalg.norm(x, axis=1, keepdims=True)
        return x / np.maximum(norm, 1e-6)

    a = standardize(rendered)
    for start in range(0, len(bitmaps), 8192):  # bounded memory for large bitmap files
        b = standardize(np.asarray(bitmaps[start : start + 8192]))
        r = a @ b.T
        best = r.argmax(axis=1)
        hit = r[np.arange(len(a)), best] >= threshold
        out[hit & (out < 0)] = best[hit & (out < 0)] + start
    return out


def split_counts(codes: Iterable[int]) -> dict[str, int]:
    """{"train": n, "val": n, "test": n} for a sequence of split codes."""
    counts = np.bincount(np.fromiter(codes, dtype=np.int64), minlength=len(SPLITS))
    return {name: int(counts[i]) for i, name in enumerate(SPLITS)}
