"""The mathematics of the schemes, without training.

* :mod:`~stablenets.stability.roots` — characteristic roots, the root condition (zero stability),
  consistency, and ``check_coefficients`` (used by ``create_model``).
* :mod:`~stablenets.stability.zerosnet` — the ZeroSNet(λ) family (paper E): coefficients, its
  zero-stable λ region, the optimal λ = −9/5, and the table of roots.
* :mod:`~stablenets.stability.regions` — absolute-stability regions of explicit/implicit Euler and
  of any linear multistep scheme (boundary locus), on grids for plotting.
* :mod:`~stablenets.stability.ivp` — ẋ = −2.3x solved by both Euler schemes (papers B, C, Fig. 1).
* :mod:`~stablenets.stability.spectra` — Jacobian spectral norms and eigenvalues from JVPs/VJPs,
  the C-stability constant (paper C), and the damped spectrum shift (paper A).
"""
from stablenets.stability.ivp import ivp_example
from stablenets.stability.regions import (
    euler_stable_interval,
    explicit_euler_boundary,
    explicit_euler_is_stable,
    implicit_euler_boundary,
    implicit_euler_is_stable,
    multistep_amplification,
    multistep_boundary_locus,
    stability_region_grid,
)
from stablenets.stability.roots import (
    StabilityWarning,
    characteristic_polynomial,
    characteristic_roots,
    check_coefficients,
    consistent_beta,
    is_consistent,
    is_zero_stable,
    root_clusters,
)
from stablenets.stability.spectra import (
    c_stability_constant,
    jacobian_ritz_values,
    jacobian_spectral_norm,
    jacobian_top_eigenvalues,
    jacobian_top_singular_values,
    spectrum_shift_damped,
)
from stablenets.stability.zerosnet import (
    Interval,
    optimal_zerosnet_lambda,
    paper_e_coefficient_table,
    zerosnet_coefficients,
    zerosnet_error_constant,
    zerosnet_region_numeric,
    zerosnet_spurious_root_modulus,
    zerosnet_zero_stable_region,
)

__all__ = [
    "StabilityWarning",
    "characteristic_polynomial",
    "characteristic_roots",
    "root_clusters",
    "is_zero_stable",
    "is_consistent",
    "consistent_beta",
    "check_coefficients",
    "Interval",
    "zerosnet_coefficients",
    "zerosnet_zero_stable_region",
    "zerosnet_region_numeric",
    "zerosnet_spurious_root_modulus",
    "zerosnet_error_constant",
    "optimal_zerosnet_lambda",
    "paper_e_coefficient_table",
    "explicit_euler_is_stable",
    "implicit_euler_is_stable",
    "euler_stable_interval",
    "explicit_euler_boundary",
    "implicit_euler_boundary",
    "multistep_boundary_locus",
    "multistep_amplification",
    "stability_region_grid",
    "ivp_example",
    "jacobian_spectral_norm",
    "jacobian_top_singular_values",
    "jacobian_ritz_values",
    "jacobian_top_eigenvalues",
    "spectrum_shift_damped",
    "c_stability_constant",
]
