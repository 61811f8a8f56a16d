"""Solver steps of continuous blocks under attack and tolerance (paper D, Huang et al. 2021, Table 3).

Paper D argues that adaptive solvers in SONet take few, large steps on clean inputs and change
their step pattern under PGD, which hides gradients. For each ODE block (every
:class:`~stablenets.schemes.continuous.ODEBlock` of the model) we record the number of function
evaluations (NFE) and the accepted step end times of one forward pass

* along an L∞ PGD trajectory x_{t+1} = Π_ε(x_t + α sign ∇ₓ L(x_t, y)) for t = 0 … T, and
* on the clean input for each solver tolerance rtol = atol = τ.

Settings are restored afterwards.
"""
from __future__ import annotations

import dataclasses
from contextlib import contextmanager
from typing import Sequence

import torch
from torch import nn

from stablenets.analysis._io import pyplot, save_figure
from stablenets.attacks.base import Loss, Norm, attack_mode, input_gradient, pgd_step

__all__ = ["solver_steps", "plot_solver_steps", "plot_step_times"]


@contextmanager
def _settings(blocks, **changes):
    saved = [b.settings for b in blocks]
    try:
        for b in blocks:
            b.settings = dataclasses.replace(b.settings, **changes)
        yield
    finally:
        for b, s in zip(blocks, saved):
            b.settings = s


def _record(model, blocks, x) -> list[dict]:
    with torch.no_grad():
        model(x)
    return [{k: v for k, v in b.last_solve().items() if k in ("nfe", "step_times")} for b in blocks]


def solver_steps(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float = 8 / 255, alpha: float = 2 / 255,
                 pgd_steps: int = 10, tolerances: Sequence[float] = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5),
                 record_at: Sequence[int] | None = None) -> dict:
    """{"pgd": [{"iteration", "blocks": [{"nfe", "step_times"}]}], "tolerance": [{"tol", "blocks": …}],
    "solver", "rtol", "n_blocks"}; one forward pass per entry (NFE counts the whole batch's solve).

    ``record_at``: the PGD iterations to record (default every one, 0 … ``pgd_steps``); iteration t
    is the input after t PGD steps, 0 the clean input. The batch is solved as one ODE (torchdiffeq's
    error norm runs over the whole batch), so each entry holds one list of step times per block.
    """
    from stablenets.schemes.continuous import ode_blocks

    blocks = ode_blocks(model)
    if not blocks:
        raise ValueError("the model has no continuous (ODE) blocks; solver steps need e.g. sonet-32, soblock-64 "
                         "or odenet")
    model.eval()
    wanted = set(range(pgd_steps + 1) if record_at is None else (int(t) for t in record_at))
    out = {"solver": blocks[0].settings.solver, "rtol": blocks[0].settings.rtol, "n_blocks": len(blocks),
           "eps": eps, "alpha": alpha, "pgd": [], "tolerance": []}
    with _settings(blocks, record_steps=True):
        x_adv = x.detach().clone()
        with attack_mode(model):
            for t in range(pgd_steps + 1):
                if t in wanted:
                    out["pgd"].append({"iteration": t, "blocks": _record(model, blocks, x_adv)})
                if t < pgd_steps:
                    grad, _ = input_gradient(model, x_adv, y, Loss.CE)
                    x_adv = pgd_step(x_adv, grad, x, eps, alpha, Norm.LINF)
    for tol in tolerances:
        with _settings(blocks, record_steps=True, rtol=float(tol), atol=float(tol)):
            out["tolerance"].append({"tol": float(tol), "blocks": _record(model, blocks, x)})
    return out


def plot_solver_steps(data: dict, path):
    """NFE per block against PGD iteration (left) and against tolerance (middle); accepted step
    times along the PGD trajectory for the first block (right)."""
    plt = pyplot()
    fig, (ax_pgd, ax_tol, ax_t) = plt.subplots(1, 3, figsize=(11, 3.2))
    its = [e["iteration"] for e in data["pgd"]]
    tols = [e["tol"] for e in data["tolerance"]]
    for b in range(data["n_blocks"]):
        ax_pgd.plot(its, [e["blocks"][b]["nfe"] for e in data["pgd"]], marker="o", ms=3, label=f"block {b}")
        if tols:
            ax_tol.plot(tols, [e["blocks"][b]["nfe"] for e in data["tolerance"]], marker="o", ms=3)
    ax_pgd.set_xlabel("PGD iteration")
    ax_pgd.set_ylabel("NFE")
    ax_pgd.legend(fontsize=7)
    ax_pgd.set_title(f"{data['solver']}, rtol {data['rtol']:g}", fontsize=9)
    ax_tol.set_xscale("log")
    ax_tol.set_xlabel("rtol = atol")
    ax_tol.set_title("NFE vs tolerance (clean input)", fontsize=9)
    for e in data["pgd"]:
        times = e["blocks"][0]["step_times"]
        ax_t.scatter(times, [e["iteration"]] * len(times), s=8, color="tab:blue")
    ax_t.set_xlabel("accepted step end time t (block 0)")
    ax_t.set_ylabel("PGD iteration")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_step_times(rows: dict, path):
    """D-table3 as a figure: per row (a tolerance), the accepted step times t ∈ [0, T] (x) after each
    PGD count (y), ours as dots and the paper's as crosses.

    ``rows``: {label: {"iterations": [k…], "steps": {k: [0, t₁, …, T]}, "paper_iterations": [k…],
    "paper": {k: [0, t₁, …, T]}}}; the paper's counts are drawn at the rank of ours.
    """
    plt = pyplot()
    fig, axes = plt.subplots(1, max(len(rows), 1), figsize=(3.6 * max(len(rows), 1), 3.0), squeeze=False)
    for ax, (label, row) in zip(axes[0], rows.items()):
        for rank, k in enumerate(row["iterations"]):
            times = row["steps"].get(k, [])
            ax.scatter(times, [rank + 0.1] * len(times), s=14, color="tab:blue", label="ours" if rank == 0 else None)
        paper = row.get("paper") or {}
        for rank, k in enumerate(row.get("paper_iterations", [])):
            times = paper.get(k, [])
            ax.scatter(times, [rank - 0.1] * len(times), s=18, marker="x", color="tab:red",
                       label="paper" if rank == 0 and times else None)
        names = [f"{k}" + (f" ({p})" if p != k else "") for k, p in
                 zip(row["iterations"], row.get("paper_iterations") or row["iterations"])]
        ax.set_yticks(range(len(names)), names, fontsize=7)
        ax.set_ylim(-0.5, len(names) - 0.5)
        ax.set_xlim(-0.03, 1.03 * max([1.0] + [t for v in row["steps"].values() for t in v]))
        ax.set_xlabel("accepted step end time t", fontsize=8)
        ax.set_title(label, fontsize=9)
    axes[0][0].set_ylabel("PGD iterations, ours (paper's)", fontsize=8)
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="upper right", ncol=2, fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return save_figure(fig, path)
