"""CW-L∞: PGD on the Carlini-Wagner margin loss.

In robustness papers (TRADES, SONet — Huang et al. 2021, paper D here) "CW attack" under an
L∞ budget means PGD that maximises the margin f(x) = max_{j≠y} z_j − z_y instead of the
cross-entropy (Carlini & Wagner, S&P 2017, loss f₆), with the usual projection onto the
ε-ball around the clean input. That is what this function does; the optimisation-based
L2 attack of Carlini & Wagner is ``cw_l2``.
"""
from __future__ import annotations

import torch
from torch import nn

from stablenets.attacks.base import Loss, Norm
from stablenets.attacks.pgd import pgd

__all__ = ["cw_linf"]


def cw_linf(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, alpha: float, steps: int, *,
            restarts: int = 1, random_start: bool = True, seed: int = 0) -> torch.Tensor:
    """PGD (L∞, centred on x) on the CW margin loss."""
    return pgd(model, x, y, eps, alpha, steps, norm=Norm.LINF, restarts=restarts,
               random_start=random_start, loss=Loss.MARGIN, seed=seed)
