"""FGSM, the fast gradient sign method (Goodfellow, Shlens, Szegedy, ICLR 2015).

    x_adv = clip_[0,1]( x + ε · sign(∇ₓ L(x, y)) )          (L∞)
    x_adv = clip_[0,1]( x + ε · ∇ₓ L / ‖∇ₓ L‖₂ )             (L2 variant, "fast gradient method")

One gradient, no random start. For a linear binary classifier the L∞ step is the exact
worst case inside the ball (the loss is monotone in the logit margin).
"""
from __future__ import annotations

import torch
from torch import nn

from stablenets.attacks.base import (Loss, Norm, attack_mode, check_attack_inputs, input_gradient,
                                     project, steepest_step)

__all__ = ["fgsm"]


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, *,
         norm: Norm | str = Norm.LINF, loss: Loss | str = Loss.CE, seed: int = 0) -> torch.Tensor:
    """One signed-gradient step of size ε; returns x_adv with ‖x_adv − x‖ ≤ ε, x_adv ∈ [0, 1].

    ``seed`` is accepted for the common signature; FGSM uses no randomness.
    """
    norm, loss = Norm.parse(norm), Loss.parse(loss)
    check_attack_inputs(x, y, eps)
    with attack_mode(model):
        grad, _ = input_gradient(model, x, y, loss)
        return project(x + steepest_step(grad, eps, norm), x, eps, norm).detach()
