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

import torch
from torch import nn

from stablenets.attacks.base import (Loss, Norm, attack_mode, check_attack_inputs, generator_for,
                                     input_gradient, margin, project, steepest_step)
from stablenets.attacks.base import random_start as _random_start

__all__ = ["pgd"]


def _where(mask: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.where(mask.view(-1, *([1] * (a.dim() - 1))), a, b)


def pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, alpha: float, steps: int, *,
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
    norm, loss = Norm.parse(norm), Loss.parse(loss)
    check_attack_inputs(x, y, eps)
    if steps < 0 or restarts < 1:
        raise ValueError(f"need steps >= 0 and restarts >= 1; got steps={steps}, restarts={restarts}")
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
                x_adv = project(x_adv + steepest_step(grad, alpha, norm), x, eps, norm)
            if not keep_best and restarts == 1:
                return x_adv.detach()  # plain PGD: the last iterate, no ranking forward pass needed
            with torch.no_grad():
                m = margin(model(x_adv), y)
            better = m > best_m
            best_x, best_m = _where(better, x_adv, best_x), torch.where(better, m, best_m)
    return best_x.detach()

