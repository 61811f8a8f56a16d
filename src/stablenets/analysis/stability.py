"""Stability analyses and figures: characteristic roots, ZeroSNet's λ region, Euler regions, the IVP.

Numbers come from :mod:`stablenets.stability`; this module gathers them per request and draws.

* Roots: ρ(ζ) = ζ^k − Σ_j α_j ζ^{k−1−j} of x_{n+1} = Σ_j α_j x_{n−j} + β h f(x_n); the root
  condition (all |ζ| ≤ 1, those on the circle simple) is zero stability (paper E).
* ZeroSNet(λ) is zero-stable iff λ ≤ −1 or λ > 1/3; the largest spurious root modulus is
  minimal (1/3) at λ = −9/5, ZeroSNet-Opt.
* Explicit Euler is stable on ẋ = λx iff |1 + hλ| ≤ 1, implicit Euler iff |1 − hλ| ≥ 1
  (papers B, C, Fig. 1); the IVP ẋ = −2.3x shows explicit Euler blowing up for h > 2/2.3.
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from stablenets import stability as st
from stablenets.analysis._io import pyplot, save_figure

_NUMBER = r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?"
_NUMBERS = re.compile(rf"{_NUMBER}(,{_NUMBER})*(:{_NUMBER})?")

__all__ = ["scheme_coefficients_of", "root_report", "model_roots", "zerosnet_region_curve",
           "euler_regions", "stability_analysis", "roots_table_markdown", "plot_roots",
           "plot_zerosnet_region", "plot_euler_regions", "plot_ivp"]


def scheme_coefficients_of(spec) -> tuple[tuple[float, ...], float, str]:
    """(alphas, beta, label) from a preset name, "zerosnet:λ", "α0,α1,…[:β]", an (alphas, beta) pair
    or alphas alone (β then defaults to the consistent β = 1 + Σ j α_j).

    Presets with a fixed scheme give their coefficients: Euler with step h is α = (1,), β = h,
    multistep presets their (α, β). Learned-coefficient presets (damped, learnable h/k/λ) have no
    fixed roots: pass a trained model to :func:`model_roots` instead.
    """
    if isinstance(spec, str):
        if _NUMBERS.fullmatch(spec.replace(" ", "")):
            head, _, beta = spec.replace(" ", "").partition(":")
            alphas = tuple(float(a) for a in head.split(","))
            return alphas, float(beta) if beta else st.consistent_beta(alphas), f"α=({head})"
        if spec.startswith("zerosnet:"):
            lam = float(spec.split(":", 1)[1])
            alphas, beta = st.zerosnet_coefficients(lam)
            return tuple(alphas), float(beta), f"ZeroSNet λ={lam:g}"
        from stablenets.models import get_preset

        args = get_preset(spec).args
        scheme, settings = args.get("scheme", "euler"), dict(args.get("scheme_args") or {})
        learned = settings.get("learn") or settings.get("learnable_h")
        if scheme == "euler" and not learned:
            return (1.0,), float(settings.get("h", 1.0)), spec
        if scheme == "multistep" and not learned:
            alphas = tuple(float(a) for a in settings.get("alphas", (1.0,)))
            beta = settings.get("beta", 1.0)
            beta = st.consistent_beta(alphas) if beta == "consistent" else float(beta)
            return alphas, beta * float(settings.get("h", 1.0)), spec
        raise ValueError(f"preset {spec!r} (scheme {scheme!r}, settings {settings}) has no fixed multistep "
                         "coefficients; analyse a trained model's learned coefficients with model_roots(model)")
    if isinstance(spec, (tuple, list)) and len(spec) == 2 and isinstance(spec[0], (tuple, list, np.ndarray)):
        alphas = tuple(float(a) for a in spec[0])
        return alphas, float(spec[1]), f"α={tuple(round(a, 4) for a in alphas)}"
    alphas = tuple(float(a) for a in np.atleast_1d(np.asarray(spec, dtype=np.float64)))
    return alphas, st.consistent_beta(alphas), f"α={tuple(round(a, 4) for a in alphas)}"


def root_report(alphas: Sequence[float], beta: float | None = None, label: str = "") -> dict:
    """Roots of ρ, their multiplicities, and the verdicts (zero stable, consistent) with a sentence."""
    alphas = tuple(float(a) for a in alphas)
    roots = st.characteristic_roots(alphas)
    clusters = st.root_clusters(alphas)
    zero_stable = st.is_zero_stable(alphas)
    consistent = None if beta is None else st.is_consistent(alphas, beta)
    worst = max(clusters, key=lambda c: (abs(c[0]), c[1]))
    if zero_stable:
        verdict = "zero-stable: every root |ζ| ≤ 1 and those on the unit circle are simple"
    elif abs(worst[0]) > 1 + 1e-9:
        verdict = f"not zero-stable: root {worst[0]:.4g} has |ζ| = {abs(worst[0]):.4g} > 1"
    else:
        verdict = f"not zero-stable: root {worst[0]:.4g} on the unit circle has multiplicity {worst[1]}"
    return {"label": label or f"α={alphas}", "alphas": alphas, "beta": beta, "roots": roots,
            "moduli": np.abs(roots), "multiplicities": [m for _, m in clusters],
            "zero_stable": zero_stable, "consistent": consistent, "verdict": verdict}


def model_roots(model) -> list[dict]:
    """One root report per block of a model, from its effective coefficients.

    Multistep blocks give α_j = "alpha<j>", β = "beta"; damped blocks x_{n+1} = (1 − λ)x_n + f give
    α = (1 − λ,); Euler blocks with a learned h give α = (1,), β = h.
    """
    from stablenets.models import scheme_coefficients

    blocks: dict[str, dict[str, float]] = {}
    for key, value in scheme_coefficients(model).items():
        path, name = key.rsplit(".", 1)
        if value.numel() == 1:
            blocks.setdefault(path, {})[name] = float(value)
    reports = []
    for path, c in blocks.items():
        if "alpha0" in c:
            alphas = tuple(c[f"alpha{j}"] for j in range(sum(k.startswith("alpha") for k in c)))
            beta = c.get("beta")
        elif "lambda" in c and "beta" not in c:
            alphas, beta = (1.0 - c["lambda"],), c.get("rho", 1.0)
        elif "h" in c:
            alphas, beta = (1.0,), c["h"]
        else:
            continue
        reports.append(root_report(alphas, beta, path))
    if not reports:
        raise ValueError("the model has no per-block scheme coefficients to analyse (a plain ResNet has α = (1,)); "
                         "pass a preset name or coefficients to root_report instead")
    return reports


def zerosnet_region_curve(lams: Sequence[float] | None = None) -> dict:
    """Over a λ grid: the root-condition verdict and the largest spurious root modulus of ZeroSNet(λ)."""
    lams = np.linspace(-4.0, 3.0, 1401) if lams is None else np.asarray(lams, dtype=np.float64)
    lams = lams[lams != 0.0]
    return {"lam": lams, "zero_stable": st.zerosnet_region_numeric(lams),
            "spurious_modulus": np.array([st.zerosnet_spurious_root_modulus(v) for v in lams]),
            "optimal_lambda": st.optimal_zerosnet_lambda(),
            "region": [tuple(iv) for iv in st.zerosnet_zero_stable_region()]}


def euler_regions(extent: float = 3.0, n: int = 241) -> dict:
    """Amplification grids and boundaries of explicit (|1 + z| ≤ 1) and implicit (|1 − z| ≥ 1) Euler."""
    rng = (-extent, extent)
    return {"explicit_euler": {**st.stability_region_grid("explicit_euler", rng, rng, n),
                               "boundary": st.explicit_euler_boundary()},
            "implicit_euler": {**st.stability_region_grid("implicit_euler", rng, rng, n),
                               "boundary": st.implicit_euler_boundary()}}


def stability_analysis(schemes: Sequence = ("resnet-20", "zerosnet-opt-20", "zerosnet:1", "lm-resnet-consistent-20"),
                       hs: Sequence[float] = (0.1, 0.5, 0.8, 0.9, 1.0)) -> dict:
    """Everything of the ``stability`` kind: roots of ``schemes``, the ZeroSNet region and paper E's
    table, both Euler regions, and the ẋ = −2.3x IVP with step sizes ``hs``."""
    return {"roots": [root_report(*scheme_coefficients_of(s)) for s in schemes],
            "zerosnet": zerosnet_region_curve(),
            "paper_e_table": st.paper_e_coefficient_table(),
            "regions": euler_regions(),
            "ivp": st.ivp_example(hs)}


def roots_table_markdown(rows: Sequence[dict]) -> str:
    """Paper E's roots table (or any root reports) as Markdown."""
    lines = ["| scheme | α | β | roots | max \\|ζ\\| | zero-stable | consistent |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        roots = ", ".join(f"{complex(z).real:.3g}{complex(z).imag:+.3g}i" if abs(complex(z).imag) > 1e-9
                          else f"{complex(z).real:.3g}" for z in r["roots"])
        alphas = ", ".join(f"{a:.4g}" for a in r["alphas"])
        beta = "—" if r.get("beta") is None else f"{r['beta']:.4g}"
        lines.append(f"| {r.get('name', r.get('label'))} | {alphas} | {beta} | {roots} | "
                     f"{float(np.max(np.abs(r['roots']))):.4g} | {r['zero_stable']} | {r.get('consistent')} |")
    return "\n".join(lines)


def plot_roots(reports: Sequence[dict], path):
    """Roots of each scheme against the unit circle, one panel per scheme."""
    plt = pyplot()
    n = len(reports)
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n, 2.8), squeeze=False)
    circle = np.exp(1j * np.linspace(0, 2 * np.pi, 200))
    for ax, r in zip(axes[0], reports):
        ax.plot(circle.real, circle.imag, color="0.6", lw=1)
        roots = np.asarray(r["roots"])
        ax.scatter(roots.real, roots.imag, color="tab:green" if r["zero_stable"] else "tab:red", zorder=3)
        ax.set_aspect("equal")
        lim = max(1.2, float(np.max(np.abs(roots))) * 1.15)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_title(f"{r['label']}\n{'zero-stable' if r['zero_stable'] else 'NOT zero-stable'}", fontsize=8)
        ax.tick_params(labelsize=7)
    return save_figure(fig, path)


def plot_zerosnet_region(curve: dict, path):
    """Largest spurious root modulus of ZeroSNet(λ), the zero-stable λ shaded, λ = −9/5 marked."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.2))
    lam, stable = np.asarray(curve["lam"]), np.asarray(curve["zero_stable"])
    ax.plot(lam, np.clip(curve["spurious_modulus"], 0, 2.5), color="tab:blue", label="max spurious |ζ|")
    ax.fill_between(lam, 0, 2.5, where=stable, color="tab:green", alpha=0.15, label="zero-stable λ")
    ax.axhline(1.0, color="0.5", ls="--", lw=1)
    opt = curve["optimal_lambda"]
    ax.axvline(opt, color="tab:red", lw=1, label=f"ZeroSNet-Opt λ = {opt:g}")
    ax.set_xlabel("λ")
    ax.set_ylabel("modulus")
    ax.set_ylim(0, 2.5)
    ax.set_title("ZeroSNet(λ): zero-stable iff λ ≤ −1 or λ > 1/3")
    ax.legend(fontsize=7, loc="upper right")
    return save_figure(fig, path)


def plot_euler_regions(regions: dict, path):
    """Stability regions of explicit and implicit Euler in the z = hλ plane, side by side."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.4))
    titles = {"explicit_euler": "explicit Euler: |1 + z| ≤ 1", "implicit_euler": "implicit Euler: |1 − z| ≥ 1"}
    for ax, (kind, grid) in zip(axes, regions.items()):
        ax.contourf(grid["re"], grid["im"], np.asarray(grid["stable"], dtype=float), levels=[0.5, 1.5],
                    colors=["tab:green"], alpha=0.35)
        b = np.asarray(grid["boundary"])
        ax.plot(np.append(b.real, b.real[0]), np.append(b.imag, b.imag[0]), color="tab:green")
        ax.axhline(0, color="0.6", lw=0.7)
        ax.axvline(0, color="0.6", lw=0.7)
        ax.set_aspect("equal")
        ax.set_title(titles[kind], fontsize=9)
        ax.set_xlabel("Re z")
    axes[0].set_ylabel("Im z")
    return save_figure(fig, path)


def plot_ivp(ivp: dict, path):
    """ẋ = −2.3x: exact solution against explicit (top) and implicit (bottom) Euler for each h."""
    plt = pyplot()
    fig, axes = plt.subplots(2, 1, figsize=(6, 5), sharex=True)
    for ax, scheme in zip(axes, ("explicit", "implicit")):
        ax.plot(ivp["exact"]["t"], ivp["exact"]["x"], color="k", lw=2, label="exact")
        for run in ivp["runs"]:
            ax.plot(run["t"], run[scheme], marker=".", ms=3, lw=1, label=f"h = {run['h']:g}")
        ax.set_ylim(-3, 3)
        ax.set_ylabel("x(t)")
        rule = f"stable iff h ≤ {ivp['explicit_threshold']:.3g}" if scheme == "explicit" else "stable for every h"
        ax.set_title(f"{scheme} Euler on ẋ = {ivp['rate']:g}x ({rule})", fontsize=9)
    axes[0].legend(fontsize=7, ncol=3)
    axes[1].set_xlabel("t")
    return save_figure(fig, path)
