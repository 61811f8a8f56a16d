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
from stablenets.stability import ivp, regions, roots, spectra, zerosnet
from stablenets.stability.ivp import *  # noqa: F401,F403  (each module's __all__ is the public API)
from stablenets.stability.regions import *  # noqa: F401,F403
from stablenets.stability.roots import *  # noqa: F401,F403
from stablenets.stability.spectra import *  # noqa: F401,F403
from stablenets.stability.zerosnet import *  # noqa: F401,F403

__all__ = [name for module in (roots, zerosnet, regions, ivp, spectra) for name in module.__all__]
