"""I-FGSM / BIM, the iterative fast gradient sign method (Kurakin, Goodfellow, Bengio 2017).

    x⁰ = x,   x^{t+1} = Π_{B(x, ε) ∩ [0,1]}( x^t + α · sign(∇ₓ L(x^t, y)) )

No random start (that is what separates it from PGD). Returns the final iterate.
"""
from __future__ import annotations

import torch
from torch import nn

from stablenets.attacks.base import Loss, Norm, check_attack_inputs
from stablenets.attacks.pgd import pgd

__all__ = ["ifgsm"]


def ifgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, alpha: float, steps: int, *,
          norm: Norm | str = Norm.LINF, loss: Loss | str = Loss.CE, seed: int = 0) -> torch.Tensor:
    """``steps`` projected signed-gradient steps of size α from the clean input, no restarts."""
    check_attack_inputs(x, y, eps)
    return pgd(model, x, y, eps, alpha, steps, norm=norm, loss=loss, restarts=1, random_start=False,
               keep_best=False, seed=seed)
