"""Jacobian spectra of a block without forming the Jacobian, and the C-stability constant.

Every function takes a plain callable ``fn: Tensor -> Tensor`` (a residual branch, a whole
block, a stage) and a point ``x``; only Jacobian-vector products J·v (``torch.func.jvp``,
forward mode) and vector-Jacobian products Jᵀ·u (``torch.func.vjp``) are used.

* Spectral norm ‖J‖₂ by power iteration on JᵀJ:  v ← JᵀJv / ‖JᵀJv‖,  σ ≈ ‖Jv‖ (batched per
  sample), or the top singular values by Lanczos on JᵀJ (faster when σ_1 ≈ σ_2).
* Eigenvalues of a same-shape map's (non-symmetric) Jacobian by Arnoldi on J·v: the Ritz
  values, eigenvalues of the Hessenberg matrix H = Vᵀ J V of the Krylov basis V, approximate
  the extreme eigenvalues (exact once the Krylov dimension reaches the state dimension).
* Paper A (Yang et al., ICML 2020, §3.4): the damped block (1 − λ)x + f(x) has Jacobian
  (1 − λ)I + J_f, i.e. the ResNet block's spectrum {1 + μ(J_f)} shifted by −λ.  Krylov spaces are
  shift-invariant, so Arnoldi with the same start vector returns Ritz values shifted exactly by −λ.
* Paper C (Li, He, Lin, ICML 2020, Definition 1): a map s is C-stable at x when
  ‖s(x′) − s(x)‖ ≤ C‖x′ − x‖ for small x′ − x.  We estimate the smallest such C as the largest
  ratio seen over random perturbations of norm ``radius`` and over adversarial ones.

Batch convention: with ``per_sample=True`` the first dimension indexes samples, norms are taken
per sample and the result has one value per sample.  This is exact only when ``fn`` treats
samples independently (e.g. BatchNorm in eval mode): then J is block diagonal and each block is
iterated separately.  With ``per_sample=False`` the whole batch is one vector, and the spectral
norm is that of the whole-batch Jacobian (the maximum over samples when they are independent).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

__all__ = [
    "jacobian_spectral_norm",
    "jacobian_top_singular_values",
    "jacobian_ritz_values",
    "jacobian_top_eigenvalues",
    "spectrum_shift_damped",
    "c_stability_constant",
]

Fn = Callable[[torch.Tensor], torch.Tensor]


def _norms(t: torch.Tensor, per_sample: bool) -> torch.Tensor:
    return t.flatten(1).norm(dim=1) if per_sample else t.norm().reshape(1)


def _scale(t: torch.Tensor, factor: torch.Tensor, per_sample: bool) -> torch.Tensor:
    return t * factor.reshape((-1,) + (1,) * (t.dim() - 1)) if per_sample else t * factor


def _normalise(t: torch.Tensor, per_sample: bool) -> torch.Tensor:
    return _scale(t, 1.0 / _norms(t, per_sample).clamp_min(torch.finfo(t.dtype).tiny), per_sample)


def _randn(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


def _check_input(x: torch.Tensor, per_sample: bool) -> torch.Tensor:
    if not torch.is_floating_point(x):
        raise ValueError(f"x must be a floating-point tensor, got dtype {x.dtype}")
    if per_sample and x.dim() < 2:
        raise ValueError("per_sample=True needs a batch dimension: pass x of shape (N, ...) or per_sample=False")
    return x.detach()


def jacobian_spectral_norm(
    fn: Fn,
    x: torch.Tensor,
    iters: int = 100,
    tol: float = 1e-6,
    per_sample: bool = True,
    check_every: int = 5,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Largest singular value of the Jacobian of ``fn`` at ``x`` by power iteration on JᵀJ.

    Stops after ``iters`` iterations or when every estimate changed by less than ``tol``
    (relative) over ``check_every`` iterations (the only host synchronisation).  Returns a
    tensor of shape (N,) with ``per_sample=True``, else a 0-d tensor (see the module docstring).
    """
    if iters < 1:
        raise ValueError(f"iters must be ≥ 1, got {iters}")
    x = _check_input(x, per_sample)
    _, vjp_fn = torch.func.vjp(fn, x)
    v = _normalise(_randn(x, generator), per_sample)
    previous = None
    sigma = None
    for i in range(iters):
        jv = torch.func.jvp(fn, (x,), (v,))[1]
        sigma = _norms(jv, per_sample)
        v = _normalise(vjp_fn(jv)[0], per_sample)
        if (i + 1) % check_every == 0:
            if previous is not None and bool(torch.all((sigma - previous).abs() <= tol * sigma.abs())):
                break
            previous = sigma
    sigma = _norms(torch.func.jvp(fn, (x,), (v,))[1], per_sample).detach()
    return sigma if per_sample else sigma[0]


def _arnoldi(matvec: Callable[[torch.Tensor], torch.Tensor], v0: torch.Tensor, m: int) -> np.ndarray:
    """Hessenberg matrix (float64, at most m×m) of m Arnoldi steps from v0 (flat), reorthogonalised twice.

    One host synchronisation per step (the breakdown test); m is small (tens), so this is cheap.
    """
    n = v0.numel()
    m = min(m, n)
    basis = torch.zeros(m + 1, n, dtype=v0.dtype, device=v0.device)
    hess = torch.zeros(m + 1, m, dtype=v0.dtype, device=v0.device)
    basis[0] = v0 / v0.norm()
    size = m
    for j in range(m):
        w = matvec(basis[j])
        for _ in range(2):
            coeff = basis[: j + 1] @ w
            w = w - coeff @ basis[: j + 1]
            hess[: j + 1, j] += coeff
        norm = w.norm()
        hess[j + 1, j] = norm
        scale = hess[: j + 2, : j + 1].abs().max()
        if bool(norm <= 1e-10 * scale.clamp_min(1e-30)):
            size = j + 1  # invariant subspace found: its Ritz values are exact eigenvalues
            break
        basis[j + 1] = w / norm
    return hess[:size, :size].detach().cpu().double().numpy()


def jacobian_top_singular_values(
    fn: Fn, x: torch.Tensor, k: int = 1, krylov_dim: int = 30, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The k largest singular values of the whole-batch Jacobian by Lanczos on v ↦ Jᵀ(J v).

    JᵀJ is symmetric, so the Arnoldi/Lanczos Ritz values are real and converge much faster than
    power iteration when σ_1 and σ_2 are close (as for convolutions).  Like the power iteration
    they are lower bounds that increase with ``krylov_dim``.  Returns a float64 tensor (k,).
    For one point's values pass one sample; for independent samples the batch Jacobian's values
    are the union of the samples' values.
    """
    if k < 1:
        raise ValueError(f"k must be ≥ 1, got {k}")
    x = _check_input(x, per_sample=False)
    _, vjp_fn = torch.func.vjp(fn, x)

    def matvec(v: torch.Tensor) -> torch.Tensor:
        jv = torch.func.jvp(fn, (x,), (v.reshape(x.shape),))[1]
        return vjp_fn(jv)[0].reshape(-1).detach()

    hess = _arnoldi(matvec, _randn(x, generator).reshape(-1), krylov_dim)
    ritz = np.linalg.eigvalsh(0.5 * (hess + hess.T))[::-1][:k]
    return torch.from_numpy(np.sqrt(np.clip(ritz, 0.0, None)).copy())


def jacobian_ritz_values(
    fn: Fn, x: torch.Tensor, krylov_dim: int = 30, generator: torch.Generator | None = None
) -> np.ndarray:
    """All Ritz values (complex128) of ``krylov_dim`` Arnoldi steps on v ↦ J·v for a same-shape map."""
    x = _check_input(x, per_sample=False)
    y = fn(x)
    if y.shape != x.shape:
        raise ValueError(
            f"eigenvalues need a map whose output has the input's shape; got {tuple(x.shape)} -> {tuple(y.shape)}. "
            "Use jacobian_spectral_norm for maps that change the shape."
        )
    if krylov_dim < 1:
        raise ValueError(f"krylov_dim must be ≥ 1, got {krylov_dim}")

    def matvec(v: torch.Tensor) -> torch.Tensor:
        return torch.func.jvp(fn, (x,), (v.reshape(x.shape),))[1].reshape(-1).detach()

    hess = _arnoldi(matvec, _randn(x, generator).reshape(-1), krylov_dim)
    return np.linalg.eigvals(hess).astype(np.complex128)


def jacobian_top_eigenvalues(
    fn: Fn, x: torch.Tensor, k: int = 6, krylov_dim: int | None = None, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The k Ritz values of largest modulus of the Jacobian of a same-shape map, as complex128 (k,).

    Arnoldi on JVPs with ``krylov_dim`` (default max(3k, 30)) steps.  For a batch the Jacobian
    is block diagonal when samples are independent, so its spectrum is the union of the
    per-sample spectra: pass one sample (x[:1]) to study one point.
    """
    if k < 1:
        raise ValueError(f"k must be ≥ 1, got {k}")
    ritz = jacobian_ritz_values(fn, x, krylov_dim or max(3 * k, 30), generator)
    top = ritz[np.argsort(-np.abs(ritz), kind="stable")[:k]]
    return torch.from_numpy(top)


def _match(reference: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Reorder ``values`` so that each entry is the nearest unused one to ``reference`` (greedy)."""
    unused = list(range(values.size))
    out = np.empty_like(values)
    for i, r in enumerate(reference):
        j = min(unused, key=lambda u: abs(values[u] - r))
        out[i] = values[j]
        unused.remove(j)
    return out


def spectrum_shift_damped(fn: Fn, x: torch.Tensor, lam: float, krylov_dim: int = 30, seed: int = 0) -> dict:
    """Ritz values of the ResNet block x + f(x) and of the damped block (1 − λ)x + f(x) at x.

    Both runs use the same Arnoldi start vector, so (paper A §3.4) damped = resnet − λ up to
    rounding.  Returns {"lam", "resnet", "damped" (matched to resnet − λ), "expected": resnet − λ,
    "max_deviation": max |damped − expected|}.
    """
    lam = float(lam)
    x = _check_input(x, per_sample=False)
    resnet = jacobian_ritz_values(
        lambda y: y + fn(y), x, krylov_dim, torch.Generator(device=x.device).manual_seed(seed)
    )
    damped = jacobian_ritz_values(
        lambda y: (1.0 - lam) * y + fn(y), x, krylov_dim, torch.Generator(device=x.device).manual_seed(seed)
    )
    order = np.argsort(-resnet.real, kind="stable")
    resnet = resnet[order]
    expected = resnet - lam
    damped = _match(expected, damped) if damped.size == expected.size else damped
    deviation = float(np.max(np.abs(damped - expected))) if damped.size == expected.size else float("inf")
    return {"lam": lam, "resnet": resnet, "damped": damped, "expected": expected, "max_deviation": deviation}


def c_stability_constant(
    fn: Fn,
    x: torch.Tensor,
    radius: float = 1e-3,
    n_random: int = 16,
    n_adversarial_steps: int = 20,
    per_sample: bool = True,
    generator: torch.Generator | None = None,
) -> dict:
    """Estimate paper C's C-stability constant: max ‖fn(x′) − fn(x)‖ / ‖x′ − x‖ over ‖x′ − x‖ = radius.

    1. ``n_random`` perturbations drawn uniformly on the sphere of the given radius.
    2. From the best random one, ``n_adversarial_steps`` of projected gradient ascent: the
       gradient g of ½‖fn(x + δ) − fn(x)‖² is taken as the whole step and projected back onto
       the sphere, δ ← radius·g/‖g‖ (the fixed point satisfies the first-order condition of
       the ratio; for a linear map A this is power iteration on AᵀA, converging to ‖A‖₂).
    The largest ratio seen at any point is kept.  Returns {"c": float, "per_sample": tensor
    (N,) or None, "random": float, "adversarial": float, "radius": radius}.
    """
    if radius <= 0:
        raise ValueError(f"radius must be > 0, got {radius}")
    if n_random < 1:
        raise ValueError(f"n_random must be ≥ 1, got {n_random}")
    x = _check_input(x, per_sample)
    with torch.no_grad():
        y0 = fn(x)

    def ratio(delta: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return _norms(fn(x + delta) - y0, per_sample) / _norms(delta, per_sample)

    def on_sphere(t: torch.Tensor) -> torch.Tensor:
        return radius * _normalise(t, per_sample)

    def per_sample_mask(t: torch.Tensor) -> torch.Tensor:
        return t.reshape((-1,) + (1,) * (x.dim() - 1)) if per_sample else t

    best_delta = on_sphere(_randn(x, generator))
    random_best = ratio(best_delta)
    for _ in range(n_random - 1):
        delta = on_sphere(_randn(x, generator))
        r = ratio(delta)
        best_delta = torch.where(per_sample_mask(r > random_best), delta, best_delta)
        random_best = torch.maximum(r, random_best)

    delta = best_delta
    adversarial_best = torch.zeros_like(random_best)
    for _ in range(n_adversarial_steps):
        with torch.enable_grad():
            d = delta.detach().requires_grad_(True)
            objective = 0.5 * (fn(x + d) - y0).pow(2).sum()
            (grad,) = torch.autograd.grad(objective, d)
        g_norm = _norms(grad, per_sample)
        delta = torch.where(per_sample_mask(g_norm == 0), delta, on_sphere(grad))
        adversarial_best = torch.maximum(adversarial_best, ratio(delta))
    best = torch.maximum(random_best, adversarial_best)
    return {
        "c": float(best.max()),
        "per_sample": best.detach() if per_sample else None,
        "random": float(random_best.max()),
        "adversarial": float(adversarial_best.max()),
        "radius": radius,
    }
