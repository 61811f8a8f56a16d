"""Jacobian spectra and C-stability of a trained model's blocks and stages at a data point.

For block n with state x_n (history x_{n−1}, … held fixed at their values at the data point)
the block map is x ↦ Φ_n(s_n(x), s_n(x_{n−1}), …, f_n(x)), the scheme step of
:class:`~stablenets.schemes.base.SchemeTrunk`; a stage is the composition of its blocks (a
stage starts at every block whose shortcut changes the shape). Only Jacobian-vector products
are used (:mod:`stablenets.stability.spectra`), never the matrix:

* top singular values σ_1 ≥ σ_2 … of J (Lanczos on JᵀJ) and σ_1 again by power iteration;
* top eigenvalues (Arnoldi Ritz values) of J for same-shape blocks;
* the C-stability constant max ‖s(x′) − s(x)‖ / ‖x′ − x‖ over small random and adversarial
  perturbations, per block and per stage (paper C, Definition 1);
* for damped blocks (1 − λ)x + f(x), the spectrum of x + f(x) and its shift by −λ (paper A §3.4).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from stablenets import stability as st
from stablenets.analysis._io import pyplot, save_figure

__all__ = ["trunk_histories", "segment_map", "stage_ranges", "jacobian_analysis", "plot_jacobian"]


def _trunk(model: nn.Module):
    trunk = getattr(model, "trunk", None)
    if trunk is None or len(trunk.blocks) == 0:
        raise ValueError("the model has no chain of residual blocks (model.trunk.blocks); continuous models "
                         "are analysed with the `solver` kind")
    return trunk


def trunk_histories(model: nn.Module, x: torch.Tensor) -> list[list[torch.Tensor]]:
    """The (unprojected) state history entering every block: [x_n, x_{n−1}, …] newest first."""
    trunk = _trunk(model)
    model.check_input(x)
    out: list[list[torch.Tensor]] = []
    with torch.no_grad():
        trunk.run([model.stem(model.input_layer(x))], record=out)
    return out


def segment_map(model: nn.Module, histories: list[list[torch.Tensor]], start: int, stop: int):
    """The map from x_start to x_stop through blocks start … stop−1, older history held fixed."""
    trunk = _trunk(model)
    if not 0 <= start < stop <= len(trunk.blocks):
        raise ValueError(f"need 0 ≤ start < stop ≤ {len(trunk.blocks)} blocks, got start={start}, stop={stop}")
    older = [h.detach() for h in histories[start][1:]]

    def fn(x: torch.Tensor) -> torch.Tensor:
        return trunk.run([x, *older], start, stop)[0]

    return fn


def stage_ranges(model: nn.Module) -> list[tuple[int, int]]:
    """(start, stop) block ranges of the stages: a new stage begins where a shortcut changes the shape."""
    blocks = _trunk(model).blocks
    starts = [0] + [i for i in range(1, len(blocks)) if not blocks[i].same_shape]
    return list(zip(starts, starts[1:] + [len(blocks)]))


def _damping(step) -> float | None:
    coefficients = step.coefficients()
    if "lambda" in coefficients and "alpha0" not in coefficients and coefficients["lambda"].numel() == 1:
        return float(coefficients["lambda"])
    return None


def jacobian_analysis(model: nn.Module, x: torch.Tensor, blocks: Sequence[int] | None = None, k: int = 6,
                      krylov_dim: int = 30, radius: float = 1e-3, stages: bool = True, seed: int = 0,
                      c_steps: int = 50) -> dict:
    """Spectra and C-stability constants of the chosen blocks (default all) and of every stage at x[:1].

    Returns {"blocks": [{"index", "same_shape", "singular_values" (k,), "spectral_norm_power",
    "eigenvalues" (k complex, same-shape blocks only), "c_stability", "lambda", "shift" (damped
    blocks: resnet, damped, expected = resnet − λ, max_deviation)}], "stages": [{"start", "stop",
    "c_stability"}]}. The C-stability constants are lower bounds from 16 random perturbations of
    norm ``radius`` followed by ``c_steps`` adversarial (power-iteration-like) steps.
    """
    model.eval()
    x = x[:1].detach()
    histories = trunk_histories(model, x)
    n_blocks = len(histories)
    chosen = range(n_blocks) if blocks is None else list(blocks)
    for i in chosen:
        if not 0 <= i < n_blocks:
            raise ValueError(f"block index {i} out of range: the model has {n_blocks} blocks (0 … {n_blocks - 1})")
    trunk = model.trunk

    def gen():
        return torch.Generator(device=x.device).manual_seed(seed)

    out_blocks = []
    for i in chosen:
        fn = segment_map(model, histories, i, i + 1)
        state = histories[i][0]
        same = bool(trunk.blocks[i].same_shape)
        c = st.c_stability_constant(fn, state, radius, n_adversarial_steps=c_steps, per_sample=False, generator=gen())
        row = {"index": i, "same_shape": same,
               "singular_values": st.jacobian_top_singular_values(fn, state, k, krylov_dim, gen()).numpy(),
               "spectral_norm_power": float(st.jacobian_spectral_norm(fn, state, per_sample=False, generator=gen())),
               "c_stability": c["c"],
               "eigenvalues": None, "lambda": _damping(trunk.steps[i]), "shift": None}
        if same:
            row["eigenvalues"] = st.jacobian_top_eigenvalues(fn, state, k, max(krylov_dim, 3 * k), gen()).numpy()
            if row["lambda"] is not None:
                row["shift"] = st.spectrum_shift_damped(trunk.blocks[i].branch, state, row["lambda"], krylov_dim, seed)
        out_blocks.append(row)
    out_stages = []
    if stages:
        for start, stop in stage_ranges(model):
            fn = segment_map(model, histories, start, stop)
            c = st.c_stability_constant(fn, histories[start][0], radius, n_adversarial_steps=c_steps,
                                        per_sample=False, generator=gen())
            out_stages.append({"start": start, "stop": stop, "c_stability": c["c"]})
    return {"blocks": out_blocks, "stages": out_stages, "radius": radius}


def plot_jacobian(data: dict, path, title: str = ""):
    """Left: top eigenvalues of every same-shape block against the unit circle (and the damped shift);
    right: σ_1 and the C-stability constant per block."""
    plt = pyplot()
    fig, (ax_eig, ax_norm) = plt.subplots(1, 2, figsize=(9, 3.6))
    circle = np.exp(1j * np.linspace(0, 2 * np.pi, 200))
    ax_eig.plot(circle.real, circle.imag, color="0.6", lw=1)
    cmap = plt.get_cmap("viridis")
    rows = data["blocks"]
    for j, row in enumerate(rows):
        if row["eigenvalues"] is not None:
            ev = np.asarray(row["eigenvalues"])
            ax_eig.scatter(ev.real, ev.imag, s=12, color=cmap(j / max(1, len(rows) - 1)))
        if row["shift"] is not None:
            r, d = np.asarray(row["shift"]["resnet"]), np.asarray(row["shift"]["damped"])
            ax_eig.scatter(r.real, r.imag, s=10, marker="x", color="tab:red")
            ax_eig.scatter(d.real, d.imag, s=10, marker="+", color="tab:blue")
    if any(row["shift"] is not None for row in rows):
        ax_eig.scatter([], [], marker="x", color="tab:red", label="x + f(x)")
        ax_eig.scatter([], [], marker="+", color="tab:blue", label="(1 − λ)x + f(x)")
        ax_eig.legend(fontsize=7)
    ax_eig.set_aspect("equal")
    ax_eig.set_title("top Jacobian eigenvalues per block (colour = depth)", fontsize=9)
    idx = [row["index"] for row in rows]
    ax_norm.plot(idx, [row["singular_values"][0] for row in rows], marker="o", label="σ₁ (Lanczos)")
    ax_norm.plot(idx, [row["c_stability"] for row in rows], marker="s", ls="--", label="C-stability constant")
    for stage in data.get("stages", []):
        ax_norm.hlines(stage["c_stability"], stage["start"] - 0.4, stage["stop"] - 0.6, color="tab:green", lw=2)
    if data.get("stages"):
        ax_norm.plot([], [], color="tab:green", lw=2, label="C of the stage")
    ax_norm.axhline(1.0, color="0.5", ls=":", lw=1)
    ax_norm.set_xlabel("block")
    ax_norm.legend(fontsize=7)
    ax_norm.set_title(title or "block Jacobians at one input", fontsize=9)
    return save_figure(fig, path)
