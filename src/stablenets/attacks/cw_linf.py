"""CW-L∞, the Carlini–Wagner L∞ attack (Carlini & Wagner, S&P 2017, §V-C), inside an ε-ball.

Carlini and Wagner replace ‖δ‖∞ (whose gradient touches one coordinate) by the penalty
Σ_i max(|δ_i| − τ, 0) and minimise, with Adam,

    c · max(z_y − max_{j≠y} z_j, −κ) + Σ_i max(|δ_i| − τ, 0),

lowering τ ← 0.9 τ whenever every |δ_i| < τ. Paper D (Huang et al., §5.1) runs it with
ε = 0.031 and K = 100 iterations. To keep the search inside the threat model, the change
of variables is that of CW's box constraint applied to the box ∩ ball: with
lo = max(0, x − ε), hi = min(1, x + ε),

    x_adv = lo + (hi − lo) · (tanh(w) + 1) / 2,

so x_adv ∈ [0, 1] and ‖x_adv − x‖∞ ≤ ε for every w, and the search starts at x. τ starts
at ε and is lowered per sample. The smallest-‖δ‖∞ adversarial point found per sample is
returned, otherwise the last iterate. Paper D leaves c and the learning rate open; the
defaults here (c = 10, lr = 0.1, no c search) are our decision, stated in the README.

PGD on the CW margin loss (what many robustness papers call a "CW attack") is
``pgd(..., loss="margin")``, named ``pgd_margin`` in the suites.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from stablenets.attacks.base import Norm, attack_mode, check_attack_inputs, margin, per_sample_norm
from stablenets.settings import setting

__all__ = ["cw_linf", "CWLinfSettings"]


@dataclass
class CWLinfSettings:
    eps: float = setting(0.031, "L∞ radius of the search region around x, pixel units", ge=0)
    steps: int = setting(100, "Adam iterations", ge=1, integer=True)
    c: float = setting(10.0, "weight of the misclassification term", gt=0)
    lr: float = setting(0.1, "Adam learning rate (on the tanh variable)", gt=0)
    kappa: float = setting(0.0, "confidence margin κ", ge=0)
    tau_decay: float = setting(0.9, "τ ← tau_decay · τ once every |δ_i| < τ (CW's 0.9)", gt=0, lt=1)


def _atanh(u: torch.Tensor) -> torch.Tensor:
    return torch.atanh(u.clamp(-1 + 1e-6, 1 - 1e-6))


def cw_linf(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float = 0.031, steps: int = 100,
            c: float = 10.0, lr: float = 0.1, kappa: float = 0.0, tau_decay: float = 0.9, *,
            seed: int = 0) -> torch.Tensor:
    """Untargeted CW-L∞ within the ε-ball; ``seed`` is accepted for the common signature (no randomness)."""
    from stablenets.attacks.registry import get_attack_spec

    get_attack_spec("cw_linf").make(dict(eps=eps, steps=steps, c=c, lr=lr, kappa=kappa, tau_decay=tau_decay))
    check_attack_inputs(x, y, eps)
    x = x.detach()
    n = x.shape[0]
    view = (-1,) + (1,) * (x.dim() - 1)
    lo, hi = (x - eps).clamp(min=0), (x + eps).clamp(max=1)
    width = hi - lo
    u0 = torch.where(width > 0, 2 * (x - lo) / width.clamp(min=1e-12) - 1, torch.zeros_like(x))
    w = _atanh(u0).requires_grad_(True)
    opt = torch.optim.Adam([w], lr=lr)
    tau = torch.full((n,), float(eps), device=x.device, dtype=x.dtype)
    best_x, best_d = x.clone(), torch.full((n,), float("inf"), device=x.device, dtype=x.dtype)
    x_adv = x
    with attack_mode(model), torch.enable_grad():
        for _ in range(steps):
            x_adv = lo + width * (torch.tanh(w) + 1) / 2
            m = margin(model(x_adv), y)
            delta = (x_adv - x).abs()
            penalty = (delta - tau.view(view)).clamp(min=0).flatten(1).sum(1)
            loss = (c * torch.clamp(-m, min=-kappa) + penalty).sum()
            opt.zero_grad(set_to_none=True)
            (w.grad,) = torch.autograd.grad(loss, w)
            opt.step()
            with torch.no_grad():
                d = per_sample_norm(x_adv - x, Norm.LINF)
                better = (m > 0) & (d < best_d)
                best_d = torch.where(better, d, best_d)
                best_x = torch.where(better.view(view), x_adv.detach(), best_x)
                tau = torch.where((m > 0) & (d < tau), tau * tau_decay, tau)
    with torch.no_grad():
        last = lo + width * (torch.tanh(w) + 1) / 2
    return torch.where(torch.isinf(best_d).view(view), last, best_x).detach()
