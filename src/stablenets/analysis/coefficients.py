"""Learned scheme coefficients of a model (paper A, Yang et al. ICML 2020, Fig. 1).

Paper A shows the histogram of the learned damping λ_n after the activation (ReLU or sigmoid)
over the blocks of an In-ResNet, and the share of blocks whose λ_n exceeds 0.01 (blocks that damp
at all). The same view applies to learned step factors h_n (paper B) and LM-ResNet's k_n / ZeroSNet's
λ_n (paper E). Values come from :func:`stablenets.models.scheme_coefficients` (effective values,
after any activation).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Mapping, Sequence

import numpy as np
from torch import nn

from stablenets.analysis._io import pyplot, save_figure

__all__ = ["LEARNED_NAMES", "coefficient_summary", "plot_coefficients"]

LEARNED_NAMES = ("lambda", "h", "k", "rho", "gate_bias")


def coefficient_summary(model: nn.Module, names: Sequence[str] = LEARNED_NAMES, threshold: float = 0.01) -> dict:
    """Per coefficient name: the blocks' paths, values, share above ``threshold``, min/median/max.

    Raises ValueError when the model has none of ``names`` (e.g. a plain ResNet).
    """
    from stablenets.models import scheme_coefficients

    grouped: dict[str, dict[str, list]] = defaultdict(lambda: {"blocks": [], "values": []})
    for key, value in scheme_coefficients(model).items():
        path, name = key.rsplit(".", 1)
        if name in names:
            grouped[name]["blocks"].append(path)
            grouped[name]["values"].append(value.detach().double().reshape(-1).cpu().numpy())
    if not grouped:
        raise ValueError(f"the model has no learned scheme coefficients among {list(names)}; "
                         "coefficient histograms need e.g. an In-ResNet, resnet-hlearn or lm-resnet preset")
    out = {}
    for name, g in grouped.items():
        values = np.concatenate(g["values"])
        out[name] = {"blocks": g["blocks"], "values": values, "threshold": threshold,
                     "share_above": float(np.mean(values > threshold)), "min": float(values.min()),
                     "median": float(np.median(values)), "max": float(values.max())}
    return out


def plot_coefficients(summaries: Mapping[str, dict], path, bins: int = 20):
    """One histogram per (model, coefficient); ``summaries`` maps a model label to coefficient_summary()."""
    plt = pyplot()
    panels = [(label, name, s) for label, summary in summaries.items() for name, s in summary.items()]
    if not panels:
        raise ValueError("nothing to plot: no coefficient summaries")
    fig, axes = plt.subplots(1, len(panels), figsize=(3.4 * len(panels), 3), squeeze=False)
    for ax, (label, name, s) in zip(axes[0], panels):
        ax.hist(np.asarray(s["values"]), bins=bins, color="tab:blue", alpha=0.8)
        ax.axvline(s["threshold"], color="tab:red", ls="--", lw=1)
        ax.set_xlabel(name)
        ax.set_ylabel("blocks")
        ax.set_title(f"{label}: {100 * s['share_above']:.0f}% of {name} > {s['threshold']:g}", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)
