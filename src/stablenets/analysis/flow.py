"""Feature flow of a residual MLP on two-moons (paper B, Zhang et al. IJCAI 2019, Fig. 7).

The state of "mlp-moons" keeps the input's dimension (2), so the states after the stem and after
every block, x_0, x_1, …, x_N with x_{n+1} = x_n + h f_n(x_n), can be drawn in the plane. With
h = 1 the points jump far between blocks; with h = 0.1 they move in small steps along a flow,
which paper B links to robustness.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from stablenets.analysis._io import pyplot, save_figure

__all__ = ["feature_flow", "plot_feature_flow"]


def feature_flow(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict:
    """States after the stem and after each block for 2-D points ``x``: {"states": (B+1, N, 2), "labels",
    "accuracy", "step_lengths": (B,) mean ‖x_{n+1} − x_n‖}."""
    if x.dim() != 2:
        raise ValueError(f"feature flow draws 2-D points: pass x of shape (N, 2), got {tuple(x.shape)}")
    model.eval()
    with torch.no_grad():
        states = model.block_states(x)
        accuracy = float((model(x).argmax(1) == y).float().mean())
    if states[0].dim() != 2 or states[0].shape[1] != 2:
        raise ValueError(f"the model's state has shape {tuple(states[0].shape[1:])}; feature flow needs a state "
                         "dimension of 2 (the mlp-moons presets)")
    stacked = torch.stack(states).cpu().numpy()
    steps = np.linalg.norm(np.diff(stacked.astype(np.float64), axis=0), axis=-1).mean(axis=1)
    return {"states": stacked, "labels": y.cpu().numpy(), "accuracy": accuracy, "step_lengths": steps}


def plot_feature_flow(flows: Mapping[str, dict], path, columns: Sequence[int] | None = None):
    """One row of scatter plots per model: the points at the chosen block outputs (default: ≤ 6 evenly spaced)."""
    plt = pyplot()
    n_states = min(f["states"].shape[0] for f in flows.values())
    if columns is None:
        columns = sorted(set(np.linspace(0, n_states - 1, min(6, n_states)).round().astype(int).tolist()))
    fig, axes = plt.subplots(len(flows), len(columns), figsize=(2.1 * len(columns), 2.2 * len(flows)),
                             squeeze=False)
    for row, (name, f) in zip(axes, flows.items()):
        labels = np.asarray(f["labels"])
        for ax, j in zip(row, columns):
            pts = np.asarray(f["states"][j])
            ax.scatter(pts[:, 0], pts[:, 1], c=labels, cmap="coolwarm", s=4, vmin=0, vmax=max(1, labels.max()))
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title("input" if j == 0 else f"after block {j}", fontsize=8)
        row[0].set_ylabel(f"{name}\nacc {100 * f['accuracy']:.0f}%", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
