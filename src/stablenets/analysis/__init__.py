"""Analyses and figures of the five papers, each a pure function returning numbers plus a plot function.

* :mod:`~stablenets.analysis.stability` — roots and root condition, ZeroSNet's λ region, paper E's
  table, explicit/implicit Euler regions, the ẋ = −2.3x IVP (papers B, C, E).
* :mod:`~stablenets.analysis.jacobian` — block Jacobian spectra, C-stability per block and stage,
  the damped spectrum shift (papers A, C).
* :mod:`~stablenets.analysis.landscape` — loss surface and predicted classes along FGSM × random (paper A).
* :mod:`~stablenets.analysis.coefficients` — histograms of learned λ_n, h_n, k_n (paper A Fig. 1).
* :mod:`~stablenets.analysis.dynamics` — per-layer weight/gradient norms from metrics.jsonl (paper B).
* :mod:`~stablenets.analysis.flow` — two-moons points through the blocks of residual MLPs (paper B Fig. 7).
* :mod:`~stablenets.analysis.solver` — step times and NFE of continuous blocks vs PGD and tolerance (paper D).
* :mod:`~stablenets.analysis.sweeps` — accuracy vs h, vs depth, generalisation gap across runs (papers B, E).

Plots need matplotlib (``pip install stablenets[plot]``); the numbers do not.
`stablenets analyze KIND …` (:mod:`~stablenets.commands.analyze`) writes PNG + JSON + a Markdown report.
"""
