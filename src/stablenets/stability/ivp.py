"""The stiff test problem ẋ = a·x, x(0) = x0 (a = −2.3, x0 = 1) solved by explicit and implicit Euler.

Exact solution x(t) = x0·e^{at}.  With step h the two Euler schemes are

    explicit: x_{n+1} = (1 + ha) x_n        ⇒ x_n = x0 (1 + ha)^n,    stable iff |1 + ha| ≤ 1 ⇔ h ≤ 2/|a|,
    implicit: x_{n+1} = x_n / (1 − ha)      ⇒ x_n = x0 (1 − ha)^{−n},  stable for every h > 0 when a < 0.

For a = −2.3 the explicit threshold is h = 2/2.3 ≈ 0.87: above it the explicit iterates oscillate with
growing amplitude while the implicit ones decay like the true solution.  This is the motivating
figure of papers B (Zhang et al. 2019, "Towards Robust ResNet") and C (Li, He, Lin 2020, IE-skip).
Numbers only; plotting lives in stablenets.analysis.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["ivp_example", "DEFAULT_HS"]

DEFAULT_HS = (0.1, 0.5, 0.8, 0.9, 1.0)


def ivp_example(
    hs: Sequence[float] = DEFAULT_HS,
    t_end: float = 10.0,
    rate: float = -2.3,
    x0: float = 1.0,
    n_exact: int = 501,
) -> dict:
    """Explicit and implicit Euler on ẋ = rate·x, x(0) = x0, for each step size in ``hs``.

    Returns {"rate", "x0", "t_end", "explicit_threshold": 2/|rate| (inf for rate ≥ 0),
    "exact": {"t", "x"} on n_exact points, "runs": [one dict per h]} where each run holds
    h, t (grid 0, h, 2h, … ≤ t_end), exact, explicit, implicit (arrays on that grid),
    explicit_error / implicit_error (max abs error on the grid), explicit_factor = 1 + h·rate,
    implicit_factor = 1/(1 − h·rate), and explicit_stable / implicit_stable (|factor| ≤ 1).
    """
    if t_end <= 0:
        raise ValueError(f"t_end must be > 0, got {t_end}")
    hs = tuple(float(h) for h in hs)
    if not hs or min(hs) <= 0:
        raise ValueError(f"step sizes must be positive, got {hs}")
    if any(h * rate == 1.0 for h in hs):
        raise ValueError(f"implicit Euler is singular at h·rate = 1 (rate={rate}, hs={hs})")
    t_fine = np.linspace(0.0, t_end, n_exact)
    runs = []
    for h in hs:
        steps = int(np.floor(t_end / h + 1e-9))
        n = np.arange(steps + 1)
        t = n * h
        exact = x0 * np.exp(rate * t)
        explicit_factor = 1.0 + h * rate
        implicit_factor = 1.0 / (1.0 - h * rate)
        explicit = x0 * explicit_factor**n
        implicit = x0 * implicit_factor**n
        runs.append(
            {
                "h": h,
                "t": t,
                "exact": exact,
                "explicit": explicit,
                "implicit": implicit,
                "explicit_error": float(np.max(np.abs(explicit - exact))),
                "implicit_error": float(np.max(np.abs(implicit - exact))),
                "explicit_factor": explicit_factor,
                "implicit_factor": implicit_factor,
                "explicit_stable": abs(explicit_factor) <= 1.0,
                "implicit_stable": abs(implicit_factor) <= 1.0,
            }
        )
    return {
        "rate": rate,
        "x0": x0,
        "t_end": t_end,
        "explicit_threshold": 2.0 / abs(rate) if rate < 0 else float("inf"),
        "exact": {"t": t_fine, "x": x0 * np.exp(rate * t_fine)},
        "runs": runs,
    }
