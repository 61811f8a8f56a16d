"""I-FGSM / BIM, the iterative fast gradient sign method (Kurakin, Goodfellow, Bengio 2017).

    x⁰ = x,   x^{t+1} = Π_{B(x, ε) ∩ [0,1]}( x^t + α · sign(∇ₓ L(x^t, y)) )

No random start (that is what separates it from PGD). Returns the final iterate.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from stablenets.attacks.base import Loss, Norm, check_attack_inputs
from stablenets.attacks.pgd import pgd
from stablenets.settings import setting

__all__ = ["ifgsm", "IFGSMSettings"]


@dataclass
class IFGSMSettings:
    eps: float = setting(8 / 255, "radius of the ball around the clean x, pixel units", ge=0)
    alpha: float = setting(2 / 255, "step size per iteration, pixel units", gt=0)
    steps: int = setting(10, "iterations from x (the last iterate is returned)", ge=0, integer=True)
    norm: str = setting("linf", "norm of the ball", choices=("linf", "l2"))
    loss: str = setting("ce", "objective maximised", choices=("ce", "margin"))


def ifgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float = 8 / 255, alpha: float = 2 / 255,
          steps: int = 10, *,
          norm: Norm | str = Norm.LINF, loss: Loss | str = Loss.CE, seed: int = 0) -> torch.Tensor:
    """``steps`` projected signed-gradient steps of size α from the clean input, no restarts."""
    from stablenets.attacks.registry import get_attack_spec

    get_attack_spec("ifgsm").make(dict(eps=eps, alpha=alpha, steps=steps, norm=Norm.parse(norm).value,
                                       loss=Loss.parse(loss).value))
    check_attack_inputs(x, y, eps)
    return pgd(model, x, y, eps, alpha, steps, norm=norm, loss=loss, restarts=1, random_start=False,
               keep_best=False, seed=seed)
