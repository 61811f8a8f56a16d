"""PGD, projected gradient descent on the loss (Madry et al., ICLR 2018).

    x⁰ = x + U(ball)   (random start, optional),
    x^{t+1} = Π_{B(x, ε) ∩ [0,1]}( x^t + α · s(∇ₓ L(x^t, y)) ),
    s = sign (L∞) or g / ‖g‖₂ (L2).

The ball is always centred on the **clean** input x, never on the random start (one
reference implementation projects around the start, which lets ‖δ‖ reach 2ε).

Restarts: each restart draws a fresh start; per sample the worst case is kept, ranked by
the margin max_{j≠y} z_j − z_y (a misclassified point always wins). With ``keep_best``
the iterate with the largest margin seen during the run is kept, using the logits the
gradient step computes anyway (no extra forward pass), as AutoAttack's APGD does.
The loop has no host synchronisation: selection is done with ``torch.where``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from stablenets.attacks.base import (Loss, Norm, attack_mode, check_attack_inputs, generator_for,
                                     input_gradient, margin, pgd_step)
from stablenets.attacks.base import random_start as _random_start
from stablenets.settings import setting

__all__ = ["pgd", "PGDSettings"]


@dataclass
class PGDSettings:
    """PGD's arguments: what each means and which values it accepts."""

    eps: float = setting(8 / 255, "radius of the ball around the clean x, pixel units", ge=0)
    alpha: float = setting(2 / 255, "step size per iteration, pixel units", gt=0)
    steps: int = setting(10, "iterations per restart (0 = the start point)", ge=0, integer=True)
    norm: str = setting("linf", "norm of the ball", choices=("linf", "l2"))
    restarts: int = setting(1, "independent starts; the per-sample worst case is kept", ge=1, integer=True)
    random_start: bool = setting(True, "start at a uniform point of the ball (else at x)", choices=(True, False))
    loss: str = setting("ce", "objective maximised: cross-entropy or the CW margin", choices=("ce", "margin"))
    keep_best: bool = setting(True, "keep the best iterate seen (else the last one)", choices=(True, False))


def _where(mask: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.where(mask.view(-1, *([1] * (a.dim() - 1))), a, b)


def pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float = 8 / 255, alpha: float = 2 / 255,
        steps: int = 10, *,
        norm: Norm | str = Norm.LINF, restarts: int = 1, random_start: bool = True,
        loss: Loss | str = Loss.CE, keep_best: bool = True, seed: int = 0) -> torch.Tensor:
    """Untargeted PGD; returns the per-sample worst case over restarts (and iterates).

    Args:
        eps: radius of the ball around the clean x (pixel units).
        alpha: step size; steps: iterations per restart; restarts: independent starts.
        norm: "linf" or "l2"; loss: "ce" (cross-entropy) or "margin" (CW margin).
        keep_best: keep the best iterate seen, not only the last one.
        seed: seeds the random starts (a generator on x's device).
    """
    from stablenets.attacks.registry import get_attack_spec

    norm, loss = Norm.parse(norm), Loss.parse(loss)
    get_attack_spec("pgd").make(dict(eps=eps, alpha=alpha, steps=steps, norm=norm.value, restarts=restarts,
                                     random_start=random_start, loss=loss.value, keep_best=keep_best))
    check_attack_inputs(x, y, eps)
    x = x.detach()
    gen = generator_for(x, seed)
    best_x = x.clone()
    best_m = torch.full((x.shape[0],), float("-inf"), device=x.device)
    with attack_mode(model):
        for _ in range(restarts):
            x_adv = _random_start(x, eps, norm, gen) if random_start else x.clone()
            for _ in range(steps):
                grad, logits = input_gradient(model, x_adv, y, loss)
                if keep_best:
                    m = margin(logits, y)
                    better = m > best_m
                    best_x, best_m = _where(better, x_adv, best_x), torch.where(better, m, best_m)
                x_adv = pgd_step(x_adv, grad, x, eps, alpha, norm)
            if not keep_best and restarts == 1:
                return x_adv.detach()  # plain PGD: the last iterate, no ranking forward pass needed
            with torch.no_grad():
                m = margin(model(x_adv), y)
            better = m > best_m
            best_x, best_m = _where(better, x_adv, best_x), torch.where(better, m, best_m)
    return best_x.detach()

