"""The ZeroSNet(λ) family of 3-step schemes, its zero-stable region, and its optimal λ.

Paper E: Chen, Jin, Shang, "Zero Stability Well Predicts Performance of Convolutional Neural
Networks", AAAI 2022 (code: LongJin-lab/ZeroSNet).  The scheme is

    x_{n+1} = α_0 x_n + α_1 x_{n−1} + α_2 x_{n−2} + β h f(x_n),
    α_0 = 3(1+λ)/(4λ),  α_1 = −1/λ,  α_2 = (1+λ)/(4λ),  β = (3λ−1)/(2λ).

Consistency and order.  Σα = (3 + 3λ − 4 + 1 + λ)/(4λ) = 1 and 1 + α_1 + 2α_2 = β for every λ ≠ 0,
and α_1 + 4α_2 = 1 (the order-2 condition), so every member is consistent of order 2; the
order-3 condition −(α_1 + 8α_2) = 1 holds only at λ = −1/3, which is not zero-stable.  The
leading error constant is C_3 = (1 + α_1 + 8α_2)/6 = (1 + 3λ)/(6λ).

Zero-stable region (derivation).  Since Σα = 1, ζ = 1 is a root and

    ρ(ζ) = (ζ − 1)(ζ² + Bζ + C),   B = (λ − 3)/(4λ),  C = α_2 = (1 + λ)/(4λ).

By the Schur–Cohn (Jury) test the spurious quadratic has both roots strictly inside the unit
disc iff |C| < 1, 1 + B + C > 0 and 1 − B + C > 0, where
    1 + B + C = (3λ − 1)/(2λ) = β     (> 0 iff λ < 0 or λ > 1/3),
    1 − B + C = (λ + 1)/λ            (> 0 iff λ < −1 or λ > 0),
    |C| < 1                          iff λ < −1/5 or λ > 1/3.
Hence strictly: λ < −1 or λ > 1/3.  Boundary points: at λ = −1, ρ = ζ(ζ − 1)(ζ + 1) has simple
roots on the circle (zero-stable); at λ = 1/3, β = 0 and ρ(ζ) = (ζ − 1)³, a triple root (not
zero-stable).  So the zero-stable region is (−∞, −1] ∪ (1/3, ∞); ``zerosnet_region_numeric``
confirms it with the general root-condition check.

Optimal λ.  Paper E Theorem 3 states the optimal coefficients (1/3, 5/9, 1/9, 16/9) "from the
perspective of zero stability"; its proof is in an appendix that our copy of the paper does
not include, so the criterion below is our derivation, and it reproduces the paper's
coefficients exactly.  The spurious roots
satisfy 4λζ² + (λ − 3)ζ + (1 + λ) = 0 with discriminant −(15λ² + 22λ − 9) = −(5λ + 9)(3λ − 1).
  * λ ∈ (−9/5, −1]: two real roots; the larger modulus falls from 1 (λ = −1) to 1/3.
  * λ < −9/5 or λ > 1/3: complex pair of modulus √C = √((1+λ)/(4λ)), rising from 1/3 to 1/2
    (left branch) or above 1/2 (right branch).
So the largest spurious-root modulus is minimised, over the zero-stable region, at λ = −9/5,
where ρ(ζ) = (ζ − 1)(ζ + 1/3)² and the coefficients are (1/3, 5/9, 1/9, β = 16/9) — ZeroSNet-Opt.
(The error constant |C_3| would instead favour λ → −1, so it is not the paper's criterion.)
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from stablenets.stability.roots import characteristic_roots, is_consistent, is_zero_stable

__all__ = [
    "Interval",
    "zerosnet_coefficients",
    "zerosnet_coefficients_of_inverse",
    "E_TABLE10",
    "zerosnet_zero_stable_region",
    "zerosnet_region_numeric",
    "zerosnet_spurious_root_modulus",
    "zerosnet_error_constant",
    "optimal_zerosnet_lambda",
    "paper_e_coefficient_table",
]

ZEROSNET_OPT_LAMBDA = -9.0 / 5.0


class Interval(NamedTuple):
    """A real interval; ``x in interval`` respects open/closed ends."""

    lo: float
    hi: float
    lo_closed: bool
    hi_closed: bool

    def __contains__(self, x: object) -> bool:
        v = float(x)  # type: ignore[arg-type]
        above = v >= self.lo if self.lo_closed else v > self.lo
        below = v <= self.hi if self.hi_closed else v < self.hi
        return above and below


def zerosnet_coefficients_of_inverse(mu):
    """(α_0, α_1, α_2), β of ZeroSNet(λ) written in μ = 1/λ — the one place the formula lives.

    Paper E eq 10 divides by λ; in μ the coefficients are affine,
    α = (3(1 + μ)/4, −μ, (1 + μ)/4), β = (3 − μ)/2, defined for every finite μ (λ = 0 is μ = ±∞).
    Works on floats and on tensors (differentiably, for ZeroSNet-Tra's learnable λ_n).
    """
    return (3 * (1 + mu) / 4, -mu, (1 + mu) / 4), (3 - mu) / 2


def zerosnet_coefficients(lam):
    """(α_0, α_1, α_2), β of ZeroSNet(λ) (paper E eq 10); λ = −9/5 gives ZeroSNet-Opt (1/3, 5/9, 1/9), 16/9.

    ``lam`` is a number (λ = 0 and non-finite λ are refused: eq 10 divides by λ) or a tensor.
    """
    if not hasattr(lam, "dim"):
        lam = float(lam)
        if lam == 0.0 or not math.isfinite(lam):
            raise ValueError(f"ZeroSNet needs a finite λ ≠ 0 (the coefficients divide by λ), got {lam}")
        alphas, beta = zerosnet_coefficients_of_inverse(1.0 / lam)
        return tuple(float(a) for a in alphas), float(beta)
    return zerosnet_coefficients_of_inverse(1 / lam)


# E-table10: the ten coefficient sets (α_0, α_1, α_2, β) of paper E's third-order networks (E-table3,
# E-fig4, E-table6), with the moduli of the roots and the zero-stability verdict the table prints.
# Six rows are ZeroSNet(λ) (the λ column; the printed decimals are the exact values of eq 10 at
# that λ), four are free coefficient sets. Order of the rows as printed.
E_TABLE10 = (
    dict(alphas=(1.0, 1.0, 1.0), beta=1.0, lam=None, moduli=(1.84, 0.74, 0.74), zero_stable=False),
    dict(alphas=(3.75, -4.0, 1.25), beta=-0.5, lam=0.25, moduli=(0.57, 1.00, 2.18), zero_stable=False),
    dict(alphas=(-3.0, 5.0, -1.0), beta=4.0, lam=-0.2, moduli=(4.24, 0.24, 1.00), zero_stable=False),
    dict(alphas=(-0.75, 2.0, -0.25), beta=2.5, lam=-0.5, moduli=(1.88, 0.13, 1.00), zero_stable=False),
    dict(alphas=(2.25, -2.0, 0.75), beta=0.5, lam=0.5, moduli=(1.00, 0.87, 0.87), zero_stable=True),
    dict(alphas=(0.1, 0.2, 0.3), beta=0.4, lam=None, moduli=(0.81, 0.61, 0.61), zero_stable=True),
    dict(alphas=(0.5, 0.3, 0.1), beta=0.1, lam=None, moduli=(0.94, 0.33, 0.33), zero_stable=True),
    dict(alphas=(0.825, -0.1, 0.275), beta=1.45, lam=10.0, moduli=(1.00, 0.52, 0.52), zero_stable=True),
    dict(alphas=(1.0, 0.3, -0.4), beta=1.0, lam=None, moduli=(0.60, 0.82, 0.82), zero_stable=True),
    dict(alphas=(1 / 3, 5 / 9, 1 / 9), beta=16 / 9, lam=-9 / 5, moduli=(0.33, 0.33, 1.00), zero_stable=True),
)


def zerosnet_zero_stable_region() -> tuple[Interval, Interval]:
    """The λ for which ZeroSNet(λ) is zero-stable: (−∞, −1] ∪ (1/3, ∞) (derivation in the module docstring)."""
    return Interval(-math.inf, -1.0, False, True), Interval(1.0 / 3.0, math.inf, False, False)


def zerosnet_region_numeric(lams) -> np.ndarray:
    """Root-condition verdict for each λ of an array, by the general check (λ = 0 gives False)."""
    lams = np.atleast_1d(np.asarray(lams, dtype=np.float64))
    return np.array([lam != 0.0 and is_zero_stable(zerosnet_coefficients(lam)[0]) for lam in lams], dtype=bool)


def zerosnet_spurious_root_modulus(lam: float) -> float:
    """Largest modulus of the two roots of ρ other than the principal root ζ = 1."""
    a, b, c = 4.0 * lam, lam - 3.0, 1.0 + lam
    if lam == 0.0:
        raise ValueError("ZeroSNet needs λ ≠ 0")
    return float(np.max(np.abs(np.roots([a, b, c]))))


def zerosnet_error_constant(lam: float) -> float:
    """Leading local truncation error constant C_3 = (1 + 3λ)/(6λ) of the order-2 scheme ZeroSNet(λ)."""
    if lam == 0.0:
        raise ValueError("ZeroSNet needs λ ≠ 0")
    return (1.0 + 3.0 * lam) / (6.0 * lam)


def optimal_zerosnet_lambda() -> float:
    """λ = −9/5: over the zero-stable region it minimises the largest spurious root modulus (= 1/3, a double root)."""
    return ZEROSNET_OPT_LAMBDA


def _row(name: str, family: str, alphas, beta: float, **extra) -> dict:
    roots = characteristic_roots(alphas)
    moduli = np.abs(roots)
    principal = int(np.argmin(np.abs(roots - 1.0)))
    spurious = np.delete(moduli, principal)
    return {
        "name": name,
        "family": family,
        **extra,
        "alphas": tuple(float(a) for a in alphas),
        "beta": float(beta),
        "roots": roots,
        "max_modulus": float(moduli.max()),
        "max_spurious_modulus": float(spurious.max()) if spurious.size else 0.0,
        "zero_stable": is_zero_stable(alphas),
        "consistent": is_consistent(alphas, beta),
    }


def paper_e_coefficient_table() -> list[dict]:
    """Roots and verdicts for the coefficient families paper E compares.

    Paper E studies first-order (ResNet / PreResNet-α: x_{n+1} = α x_n + f, E-table1),
    second-order (LM-ResNet: (1 − k) x_n + k x_{n−1} + β f, E-table2) and 3-step ZeroSNet(λ)
    networks (E-table10 lists the third-order sets it trains, :data:`E_TABLE10`). The rows
    below cover each family on both sides of its stability boundary: PreResNet-α is
    zero-stable iff |α| ≤ 1 (consistent only at α = 1); LM-ResNet has roots {1, −k},
    zero-stable iff −1 < k ≤ 1 (consistent with β = 1 + k); ZeroSNet(λ) is zero-stable iff
    λ ≤ −1 or λ > 1/3.  Each row: name, family, the parameter, alphas, beta, roots,
    max_modulus, max_spurious_modulus, zero_stable, consistent.
    """
    rows = [_row("ResNet", "euler", (1.0,), 1.0)]
    for alpha in (0.5, 1.5):
        rows.append(_row(f"PreResNet-α={alpha:g}", "preresnet-alpha", (alpha,), 1.0, alpha=alpha))
    for k in (-1.0, -0.5, -0.1, 0.5, 1.0, 1.5):
        rows.append(_row(f"LM-ResNet k={k:g}", "lm-resnet", (1.0 - k, k), 1.0 + k, k=k))
    alphas, beta = zerosnet_coefficients(ZEROSNET_OPT_LAMBDA)
    rows.append(_row("ZeroSNet-Opt (λ=−9/5)", "zerosnet", alphas, beta, lam=ZEROSNET_OPT_LAMBDA))
    for lam in (-3.0, -1.0, -0.5, 1.0 / 3.0, 1.0, 10.0):
        alphas, beta = zerosnet_coefficients(lam)
        label = "1/3" if lam == 1.0 / 3.0 else f"{lam:g}"
        name = f"ZeroSNet λ={label}" + (" (ZeroSNet-Tra init)" if lam == 1.0 else "")
        rows.append(_row(name, "zerosnet", alphas, beta, lam=lam))
    return rows
