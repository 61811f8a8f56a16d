"""Training dynamics: per-layer weight and gradient norms over training (paper B, Zhang et al. 2019,
Figs. 2, 10, 11), read from ``metrics.jsonl`` (runs trained with ``run.log_norms=true``).

Paper B shows that with h = 1 the gradient norms of a deep ResNet's layers grow and spread over
iterations, while a small h keeps them bounded. Each metrics line holds ‖θ‖₂ at the end of the
epoch and the epoch's mean ‖∇θ‖₂ per parameter; the x axis is the optimiser step.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from stablenets.analysis._io import pyplot, save_figure
from stablenets.analysis.runs import read_metrics, require

__all__ = ["training_dynamics", "plot_dynamics"]

_HINT = "train with run.log_norms=true to log per-layer norms"


def training_dynamics(run_dir: str | Path, layers: Sequence[str] | None = None, max_layers: int = 12) -> dict:
    """{"step", "epoch", "loss", "test_acc" (T,), "layers" [L names], "weight_norms", "grad_norms" (T, L)}.

    Default layers: the parameters named ``*.weight`` with a norm logged at every epoch, at most
    ``max_layers`` of them evenly spread over depth.
    """
    rows = read_metrics(run_dir)
    where = str(Path(run_dir) / "metrics.jsonl")
    weights = [require(r, "weight_norms", where, _HINT) for r in rows]
    grads = [require(r, "grad_norms", where, _HINT) for r in rows]
    common = [n for n in weights[0] if all(n in w and n in g for w, g in zip(weights, grads))]
    if layers is None:
        chosen = [n for n in common if n.endswith("weight")] or common
        if len(chosen) > max_layers:
            chosen = [chosen[i] for i in np.linspace(0, len(chosen) - 1, max_layers).round().astype(int)]
    else:
        missing = [n for n in layers if n not in common]
        if missing:
            raise KeyError(f"{where} has no norms for {missing[:3]}; logged parameters: {common[:8]} …")
        chosen = list(layers)
    if not chosen:
        raise ValueError(f"{where}: no parameter has norms at every epoch")
    return {"step": np.array([r.get("step", r.get("epoch", i + 1)) for i, r in enumerate(rows)], dtype=float),
            "epoch": np.array([r.get("epoch", i + 1) for i, r in enumerate(rows)]),
            "loss": np.array([r.get("loss", np.nan) for r in rows], dtype=float),
            "test_acc": np.array([r.get("test_acc", np.nan) for r in rows], dtype=float),
            "layers": chosen,
            "weight_norms": np.array([[w[n] for n in chosen] for w in weights], dtype=float),
            "grad_norms": np.array([[g[n] for n in chosen] for g in grads], dtype=float)}


def plot_dynamics(runs: dict, path):
    """One row per run ({label: training_dynamics(...)}): weight norms and gradient norms per layer
    against the optimiser step, colour = depth of the layer."""
    plt = pyplot()
    fig, axes = plt.subplots(len(runs), 2, figsize=(9, 3 * len(runs)), squeeze=False)
    cmap = plt.get_cmap("viridis")
    for (ax_w, ax_g), (label, d) in zip(axes, runs.items()):
        n = len(d["layers"])
        for j in range(n):
            color = cmap(j / max(1, n - 1))
            ax_w.plot(d["step"], d["weight_norms"][:, j], color=color, marker=".", ms=3)
            ax_g.plot(d["step"], d["grad_norms"][:, j], color=color, marker=".", ms=3)
        ax_w.set_title(f"{label}: ‖W‖₂ per layer (dark = early)", fontsize=9)
        ax_g.set_title(f"{label}: mean ‖∇W‖₂ per layer", fontsize=9)
        if np.all(d["grad_norms"] > 0):
            ax_g.set_yscale("log")
        for ax in (ax_w, ax_g):
            ax.set_xlabel("optimiser step")
    fig.tight_layout()
    return save_figure(fig, path)
