"""Characteristic roots, the root condition (zero stability) and consistency of linear multistep schemes.

The explicit k-step scheme used by the multistep networks is

    x_{n+1} = α_0 x_n + α_1 x_{n-1} + … + α_{k-1} x_{n-k+1} + β h f(x_n).

Its first characteristic polynomial is

    ρ(ζ) = ζ^k − α_0 ζ^{k-1} − α_1 ζ^{k-2} − … − α_{k-1},

and its second one is σ(ζ) = β ζ^{k-1}.

Zero stability (Dahlquist's root condition): every root of ρ lies in the closed unit
disc |ζ| ≤ 1, and every root on the unit circle is simple.  A repeated root on the
unit circle (e.g. ζ = 1 twice for α = (2, −1)) makes perturbations grow like n·|ζ|^n
and is *not* zero-stable.

Consistency (order ≥ 1): ρ(1) = 0 and ρ'(1) = σ(1).  With the coefficients above,
ρ(1) = 1 − Σ_j α_j and ρ'(1) = k − Σ_j (k−1−j) α_j = 1 + Σ_j j α_j when Σ_j α_j = 1, so

    Σ_j α_j = 1   and   β = 1 + Σ_j j·α_j     (j = 0, …, k−1).

Examples: ResNet α = (1,), β = 1; ZeroSNet-Opt α = (1/3, 5/9, 1/9), β = 1 + 5/9 + 2/9 = 16/9;
LM-ResNet α = (1 − k, k) needs β = 1 + k.

Numerics of repeated roots: ``np.roots`` (companion-matrix eigenvalues) splits an
m-fold root into m roots about eps^{1/m} apart (~1e-8 for a double root, ~1e-5 for a triple
one), possibly along the unit circle so that every computed modulus stays ≤ 1.  We therefore
group roots closer than ``cluster_tol`` (default max(1e-4, 4·eps^{1/k})) into one root of that
multiplicity, located at the group mean (accurate to ~eps).  Distinct roots on the unit circle
closer than that are treated as repeated: below ~eps^{1/m} they cannot be told from a
multiple root, and over fewer than ~1/separation steps (far more than any network's depth)
two such roots produce the same linear growth n·|ζ|^n as a double root.
"""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

__all__ = [
    "consistency_order",
    "StabilityWarning",
    "characteristic_polynomial",
    "characteristic_roots",
    "root_clusters",
    "is_zero_stable",
    "is_consistent",
    "consistent_beta",
    "check_coefficients",
]


class StabilityWarning(UserWarning):
    """Warned when multistep coefficients break the root condition or consistency."""


def _as_alphas(alphas: Sequence[float]) -> np.ndarray:
    a = np.atleast_1d(np.asarray(alphas, dtype=np.float64))
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"alphas must be a non-empty 1-D sequence of numbers (α_0, …, α_{{k-1}}), got {alphas!r}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"alphas must be finite, got {alphas!r}")
    return a


def characteristic_polynomial(alphas: Sequence[float]) -> np.ndarray:
    """Coefficients of ρ(ζ) = ζ^k − α_0 ζ^{k−1} − … − α_{k−1}, highest power first (np.polyval order)."""
    a = _as_alphas(alphas)
    return np.concatenate([[1.0], -a])


def characteristic_roots(alphas: Sequence[float]) -> np.ndarray:
    """Roots of ρ(ζ) = ζ^k − α_0 ζ^{k−1} − … − α_{k−1} as complex128, sorted by decreasing modulus."""
    roots = np.roots(characteristic_polynomial(alphas)).astype(np.complex128)
    return roots[np.argsort(-np.abs(roots), kind="stable")]


def _default_cluster_tol(k: int) -> float:
    return max(1e-4, 4.0 * float(np.finfo(np.float64).eps) ** (1.0 / k))


def root_clusters(alphas: Sequence[float], cluster_tol: float | None = None) -> list[tuple[complex, int]]:
    """Distinct roots of ρ with multiplicities, robust to the eps^{1/m} splitting of multiple roots.

    Roots closer than ``cluster_tol · max(1, |ζ|)`` are grouped (single linkage); each group is
    returned as (mean, size), largest modulus first.
    """
    roots = characteristic_roots(alphas)
    tol = _default_cluster_tol(roots.size) if cluster_tol is None else float(cluster_tol)
    unassigned = list(range(roots.size))
    clusters: list[tuple[complex, int]] = []
    while unassigned:
        group = [unassigned.pop(0)]
        grown = True
        while grown:
            grown = False
            for i in list(unassigned):
                if any(abs(roots[i] - roots[j]) <= tol * max(1.0, abs(roots[j])) for j in group):
                    group.append(i)
                    unassigned.remove(i)
                    grown = True
        clusters.append((complex(np.mean(roots[group])), len(group)))
    return clusters


def is_zero_stable(alphas: Sequence[float], tol: float = 1e-9, cluster_tol: float | None = None) -> bool:
    """The root condition: all roots |ζ| ≤ 1 (+tol) and roots with ||ζ| − 1| ≤ tol simple.

    Multiple roots are detected by clustering (see :func:`root_clusters`), so a double root at 1
    that ``np.roots`` returns as 1 ± 1e-8 (or 1 ± 1e-8 i) is recognised as repeated, hence not
    zero-stable.
    """
    for centre, mult in root_clusters(alphas, cluster_tol):
        modulus = abs(centre)
        if modulus > 1.0 + tol:
            return False
        if mult > 1 and modulus >= 1.0 - tol:
            return False
    return True


def consistent_beta(alphas: Sequence[float]) -> float:
    """The β that makes the scheme consistent: β = 1 + Σ_j j·α_j (assumes Σ α_j = 1)."""
    a = _as_alphas(alphas)
    return float(1.0 + np.sum(np.arange(a.size) * a))


def is_consistent(alphas: Sequence[float], beta: float, tol: float = 1e-9) -> bool:
    """Consistency (order ≥ 1) of x_{n+1} = Σ_j α_j x_{n−j} + β h f(x_n).

    True iff ρ(1) = 0, i.e. Σ_j α_j = 1, and ρ'(1) = σ(1), i.e. β = 1 + Σ_j j·α_j (both within tol).
    """
    a = _as_alphas(alphas)
    return bool(abs(np.sum(a) - 1.0) <= tol and abs(float(beta) - consistent_beta(a)) <= tol)


def consistency_order(alphas: Sequence[float], beta: float, max_order: int = 8, tol: float = 1e-9) -> int:
    """The order p of x_{n+1} = Σ_j α_j x_{n−j} + β h f(x_n) as a discretisation of x' = f(x); 0 if inconsistent.

    The local error of the exact solution is Σ_q C_q h^q y^{(q)}(t_n) with
    C_0 = 1 − Σ α_j, C_1 = 1 + Σ j·α_j − β and C_q = (1 − Σ_j α_j (−j)^q)/q! for q ≥ 2;
    the order is the largest p with C_0 = … = C_p = 0 (so p ≥ 1 is consistency). The global
    error of a zero-stable scheme is O(h^p). ZeroSNet(λ) has p = 2 for every λ ≠ 0 (p = 3 only
    at λ = −1/3), PreResNet-α with α ≠ 1 has p = 0, and the ResNet (α = (1,), β = 1) p = 1.
    """
    a = _as_alphas(alphas)
    j = np.arange(a.size, dtype=np.float64)
    if abs(1.0 - np.sum(a)) > tol or abs(1.0 + np.sum(j * a) - float(beta)) > tol:
        return 0
    p = 1
    while p < max_order and abs(1.0 - np.sum(a * (-j) ** (p + 1))) <= tol:
        p += 1
    return p


def check_coefficients(
    alphas: Sequence[float], beta: float | None = None, strict: bool = False, warn_inconsistent: bool = True
) -> dict:
    """Check multistep coefficients the way ``create_model`` does; warn (or raise) on problems.

    Warns :class:`StabilityWarning` when the root condition fails (the message lists the roots
    and their moduli); with ``strict=True`` raises ValueError instead.  When ``beta`` is given,
    also warns when the scheme is not consistent, unless ``warn_inconsistent=False``
    (inconsistency alone never raises: some papers' networks, e.g. PreResNet-α with α ≠ 1, are
    deliberately inconsistent).

    Returns a dict with roots, moduli, zero_stable, consistent (None without beta).
    """
    a = _as_alphas(alphas)
    roots = characteristic_roots(a)
    zero_stable = is_zero_stable(a)
    consistent = None if beta is None else is_consistent(a, beta)
    report = {
        "alphas": tuple(float(v) for v in a),
        "beta": None if beta is None else float(beta),
        "roots": roots,
        "moduli": np.abs(roots),
        "zero_stable": zero_stable,
        "consistent": consistent,
    }
    if not zero_stable:
        listed = ", ".join(f"{complex(r):.6g} (|ρ|={abs(r):.6g})" for r in roots)
        msg = (
            f"multistep coefficients α={report['alphas']} are not zero-stable: the roots of "
            f"ζ^{a.size} − Σ α_j ζ^{{{a.size}−1−j}} are {listed}; the root condition needs all |ρ| ≤ 1 "
            "and the roots on the unit circle simple."
        )
        if strict:
            raise ValueError(msg + " Choose zero-stable coefficients or pass strict=False.")
        warnings.warn(msg, StabilityWarning, stacklevel=2)
    if consistent is False and warn_inconsistent:
        warnings.warn(
            f"multistep coefficients α={report['alphas']}, β={float(beta):.6g} are not consistent: "
            f"need Σα = 1 (got {float(np.sum(a)):.6g}) and β = 1 + Σ j·α_j = {consistent_beta(a):.6g}.",
            StabilityWarning,
            stacklevel=2,
        )
    return report
