"""Plot alpha_bar_t and log-SNR of the noise schedules (docs/schedules.png): the seed's failure modes and why
doodlelab ships the cosine schedule.   python scripts/plot_schedules.py [--out docs/schedules.png]"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from doodlelab.generative.scheduler import NoiseScheduler

OUT = Path(__file__).resolve().parent.parent / "docs" / "schedules.png"


def curves() -> list[tuple[str, str, torch.Tensor]]:
    """(label, line style, alpha_bar_t for t = 0..T) of each schedule compared."""
    seed_10x = torch.cat(
        [
            torch.ones(1, dtype=torch.float64),
            torch.cumprod(1 - 10 * torch.linspace(1e-4, 0.02, 300, dtype=torch.float64).clamp(max=0.0999), 0),
        ]
    )

    def ab(schedule: str, steps: int) -> torch.Tensor:  # the scheduler's NumPy table as a tensor
        return torch.from_numpy(NoiseScheduler(schedule, steps).alphas_cumprod)

    rows = [
        ("linear, T=1000 (Ho et al. 2020)", "-", ab("linear", 1000)),
        ("linear, T=300, not rescaled (seed)", "--", ab("linear", 300)),
        ("linear, T=300, betas x10 (seed's report)", ":", seed_10x),
        ("rescaled-linear, T=300", "-.", ab("rescaled-linear", 300)),
        ("cosine, T=1000 (shipped; Nichol & Dhariwal 2021)", "-", ab("cosine", 1000)),
    ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for label, style, ab in curves():
        frac = torch.linspace(0, 1, len(ab))
        left.plot(frac, ab, style, label=f"{label}: ᾱ_T = {float(ab[-1]):.2g}")
        snr = torch.log(ab[1:]) - torch.log1p(-ab[1:].clamp(max=1 - 1e-12))
        right.plot(frac[1:], snr, style, label=label)
    left.set(xlabel="t / T", ylabel="ᾱ_t (signal kept)", title="ᾱ_t: should fall smoothly to ~0 at t = T")
    right.set(
        xlabel="t / T",
        ylabel="log SNR = log(ᾱ/(1-ᾱ))",
        title="log-SNR: where the steps are spent",
        ylim=(-15, 12),
    )
    right.axhline(0, color="gray", lw=0.5)
    for ax in (left, right):
        ax.grid(alpha=0.3)
    left.legend(fontsize=7)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    for label, _, ab in curves():
        print(
            f"{label:52s} alpha_bar_T = {float(ab[-1]):.3g}; t/T where alpha_bar < 0.5: "
            f"{float((ab < 0.5).float().argmax()) / (len(ab) - 1):.2f}"
        )


if __name__ == "__main__":
    main()
