"""FGSM, the fast gradient sign method (Goodfellow, Shlens, Szegedy, ICLR 2015).

    x_adv = clip_[0,1]( x + ε · sign(∇ₓ L(x, y)) )          (L∞)
    x_adv = clip_[0,1]( x + ε · ∇ₓ L / ‖∇ₓ L‖₂ )             (L2 variant, "fast gradient method")

One gradient, no random start. For a linear binary classifier the L∞ step is the exact
worst case inside the ball (the loss is monotone in the logit margin).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from stablenets.attacks.base import Loss, Norm, attack_mode, check_attack_inputs, input_gradient, pgd_step
from stablenets.settings import setting

__all__ = ["fgsm", "FGSMSettings"]


@dataclass
class FGSMSettings:
    eps: float = setting(8 / 255, "step size = radius of the ball around x, pixel units", ge=0)
    norm: str = setting("linf", "norm of the ball (l2: the fast gradient method)", choices=("linf", "l2"))
    loss: str = setting("ce", "objective whose gradient gives the step", choices=("ce", "margin"))


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float = 8 / 255, *,
         norm: Norm | str = Norm.LINF, loss: Loss | str = Loss.CE, seed: int = 0) -> torch.Tensor:
    """One signed-gradient step of size ε; returns x_adv with ‖x_adv − x‖ ≤ ε, x_adv ∈ [0, 1].

    ``seed`` is accepted for the common signature; FGSM uses no randomness.
    """
    from stablenets.attacks.registry import get_attack_spec

    norm, loss = Norm.parse(norm), Loss.parse(loss)
    get_attack_spec("fgsm").make(dict(eps=eps, norm=norm.value, loss=loss.value))
    check_attack_inputs(x, y, eps)
    with attack_mode(model):
        grad, _ = input_gradient(model, x, y, loss)
        return pgd_step(x, grad, x, eps, eps, norm).detach()
