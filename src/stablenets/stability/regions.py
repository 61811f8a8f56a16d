"""Absolute-stability regions for the test equation ẋ = λx, with z = hλ.

* Explicit Euler x_{n+1} = (1 + z) x_n: stable iff |1 + z| ≤ 1, the disc of radius 1 centred at −1.
  For a real λ < 0 this is h ≤ 2/|λ|; for complex λ with Re λ < 0 it is h ≤ −2 Re λ / |λ|².
* Implicit Euler x_{n+1} = x_n / (1 − z): stable iff |1 − z| ≥ 1, the outside of the disc
  of radius 1 centred at +1 (A-stable: it contains the whole left half-plane).
* A linear multistep scheme x_{n+1} = Σ_j α_j x_{n−j} + β z x_n is stable at z iff all roots of
  π(ζ; z) = ρ(ζ) − z σ(ζ) = ζ^k − Σ_j α_j ζ^{k−1−j} − β z ζ^{k−1} satisfy |ζ| ≤ 1.  Its boundary
  is contained in the boundary locus z(θ) = ρ(e^{iθ}) / σ(e^{iθ}), θ ∈ [0, 2π) (Hairer–Wanner, V.1).

Papers B ("Towards Robust ResNet", Zhang et al. 2019) and C (IE-skip, Li, He, Lin 2020) use these
regions to motivate a small step h and implicit skips.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from stablenets.stability.roots import characteristic_polynomial

__all__ = [
    "explicit_euler_is_stable",
    "implicit_euler_is_stable",
    "euler_stable_interval",
    "explicit_euler_boundary",
    "implicit_euler_boundary",
    "multistep_boundary_locus",
    "multistep_amplification",
    "stability_region_grid",
    "REGION_KINDS",
]

REGION_KINDS = ("explicit_euler", "implicit_euler", "multistep")
_TOL = 1e-12


def explicit_euler_is_stable(h, eigenvalue):
    """|1 + hλ| ≤ 1 (elementwise for arrays; a Python bool for scalars)."""
    out = np.abs(1.0 + np.asarray(h) * np.asarray(eigenvalue, dtype=np.complex128)) <= 1.0 + _TOL
    return bool(out) if out.ndim == 0 else out


def implicit_euler_is_stable(h, eigenvalue):
    """|1 / (1 − hλ)| ≤ 1, i.e. |1 − hλ| ≥ 1 (elementwise for arrays; a Python bool for scalars)."""
    out = np.abs(1.0 - np.asarray(h) * np.asarray(eigenvalue, dtype=np.complex128)) >= 1.0 - _TOL
    return bool(out) if out.ndim == 0 else out


def euler_stable_interval(h: float | None, eigenvalue: complex) -> dict:
    """The step sizes h ≥ 0 for which explicit Euler is stable on ẋ = λx, and where ``h`` sits.

    |1 + hλ|² = 1 + 2h Re λ + h²|λ|² ≤ 1  ⇔  0 ≤ h ≤ h_max = −2 Re λ / |λ|²  (when Re λ < 0).
    Re λ > 0 (or purely imaginary λ ≠ 0) gives only h = 0; λ = 0 gives every h.

    Returns {"interval": (0, h_max), "h_max", "h", "amplification": |1 + hλ|, "stable"}; the last
    two are None when h is None.
    """
    lam = complex(eigenvalue)
    if lam == 0:
        h_max = float("inf")
    else:
        h_max = max(0.0, -2.0 * lam.real / abs(lam) ** 2)
    result = {"interval": (0.0, h_max), "h_max": h_max, "h": h, "amplification": None, "stable": None}
    if h is not None:
        if h < 0:
            raise ValueError(f"step size h must be ≥ 0, got {h}")
        result["amplification"] = abs(1.0 + h * lam)
        result["stable"] = explicit_euler_is_stable(h, lam)
    return result


def _circle(n: int) -> np.ndarray:
    if n < 3:
        raise ValueError(f"need at least 3 boundary points, got n={n}")
    return np.exp(1j * np.linspace(0.0, 2.0 * np.pi, n, endpoint=False))


def explicit_euler_boundary(n: int = 256) -> np.ndarray:
    """n points z = e^{iθ} − 1 on |1 + z| = 1, the boundary of explicit Euler's region."""
    return _circle(n) - 1.0


def implicit_euler_boundary(n: int = 256) -> np.ndarray:
    """n points z = 1 − e^{iθ} on |1 − z| = 1, the boundary of implicit Euler's region."""
    return 1.0 - _circle(n)


def multistep_boundary_locus(alphas: Sequence[float], beta: float, n: int = 512) -> np.ndarray:
    """Boundary locus z(θ) = ρ(ζ) / (β ζ^{k−1}), ζ = e^{iθ}, of x_{n+1} = Σ α_j x_{n−j} + β h f(x_n)."""
    if beta == 0:
        raise ValueError("β = 0: the scheme ignores f, so it has no stability region in z")
    zeta = _circle(n)
    rho = np.polyval(characteristic_polynomial(alphas), zeta)
    k = len(characteristic_polynomial(alphas)) - 1
    return rho / (beta * zeta ** (k - 1))


def multistep_amplification(alphas: Sequence[float], beta: float, z) -> np.ndarray:
    """Largest root modulus of ζ^k − Σ_j α_j ζ^{k−1−j} − β z ζ^{k−1}, for each z (any shape)."""
    z = np.asarray(z, dtype=np.complex128)
    poly = characteristic_polynomial(alphas).astype(np.complex128)
    k = poly.size - 1
    coeffs = np.broadcast_to(poly, z.shape + (k + 1,)).copy()
    coeffs[..., 1] -= beta * z
    companion = np.zeros(z.shape + (k, k), dtype=np.complex128)
    companion[..., 0, :] = -coeffs[..., 1:]
    if k > 1:
        companion[..., np.arange(1, k), np.arange(k - 1)] = 1.0
    return np.abs(np.linalg.eigvals(companion)).max(axis=-1)


def stability_region_grid(
    kind: str,
    re_range: tuple[float, float] = (-3.0, 3.0),
    im_range: tuple[float, float] = (-3.0, 3.0),
    n: int = 201,
    alphas: Sequence[float] | None = None,
    beta: float | None = None,
) -> dict:
    """Amplification factor on an n×n grid of z = hλ, for contour/filled plots.

    kind: "explicit_euler" (|1 + z|), "implicit_euler" (1/|1 − z|) or "multistep" (largest root
    modulus of ρ(ζ) − zσ(ζ); needs ``alphas`` and ``beta``).  Returns {"re": (n,), "im": (n,),
    "amplification": (n, n) indexed [im, re], "stable": amplification ≤ 1}.
    """
    if kind not in REGION_KINDS:
        raise ValueError(f"unknown stability region kind {kind!r}; choose one of {REGION_KINDS}")
    if n < 2:
        raise ValueError(f"grid needs n ≥ 2 points per axis, got {n}")
    re = np.linspace(*re_range, n)
    im = np.linspace(*im_range, n)
    z = re[None, :] + 1j * im[:, None]
    if kind == "explicit_euler":
        amp = np.abs(1.0 + z)
    elif kind == "implicit_euler":
        with np.errstate(divide="ignore"):
            amp = 1.0 / np.abs(1.0 - z)
    else:
        if alphas is None or beta is None:
            raise ValueError('kind="multistep" needs alphas=(α_0, …) and beta=β')
        amp = multistep_amplification(alphas, beta, z)
    return {"re": re, "im": im, "amplification": amp, "stable": amp <= 1.0 + 1e-9}
