"""SPSA, a gradient-free attack (Uesato et al., ICML 2018), on the margin loss.

Per iteration, with S Rademacher directions v_s ∈ {±1}^d and finite-difference size δ:

    ĝ = (1/S) Σ_s [ f(x_adv + δ v_s) − f(x_adv − δ v_s) ] / (2δ) · v_s,
    f(x) = max_{j≠y} z_j − z_y   (maximised),

then an Adam step on the perturbation, projected onto the L∞ ball around the clean input
and onto [0, 1]. No gradient of the model is used, so a masked gradient cannot stop it.
All 2·S evaluations of an iteration go through the model as one batch (split into
``chunk``-sized pieces over the directions when memory is short). The best iterate per
sample is kept. Paper D (Huang et al., SONet) uses ε = 0.031, 20 iterations, 32 samples;
lr and δ default to the cleverhans values (0.01, 0.01).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from stablenets.attacks.base import Norm, attack_mode, check_attack_inputs, generator_for, margin, project
from stablenets.settings import setting

__all__ = ["spsa", "SPSASettings"]


@dataclass
class SPSASettings:
    eps: float = setting(0.031, "L∞ radius around the clean x, pixel units", ge=0)
    steps: int = setting(20, "iterations", ge=1, integer=True)
    samples: int = setting(32, "Rademacher directions per iteration (2 queries each)", ge=1, integer=True)
    lr: float = setting(0.01, "Adam learning rate", gt=0)
    delta: float = setting(0.01, "finite-difference size", gt=0)
    chunk: int | None = setting(None, "directions per forward pass (None: all at once)", ge=1, integer=True,
                                optional=True)


def _margins(model: nn.Module, points: torch.Tensor, y: torch.Tensor, chunk: int) -> torch.Tensor:
    """Margins of points shaped (S, N, ...) for labels y (N,), S·N forward passes in chunks."""
    s, n = points.shape[:2]
    ys = y.repeat(s)
    flat = points.reshape(s * n, *points.shape[2:])
    out = [margin(model(flat[i:i + chunk * n]), ys[i:i + chunk * n]) for i in range(0, s * n, chunk * n)]
    return torch.cat(out).view(s, n)


@torch.no_grad()
def spsa(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float = 0.031, steps: int = 20,
         samples: int = 32, lr: float = 0.01, *, delta: float = 0.01, chunk: int | None = None,
         seed: int = 0, log: Callable[[str], object] | None = None) -> torch.Tensor:
    """Untargeted L∞ SPSA; returns the worst iterate per sample (largest margin). ``log`` hears of each
    iteration ("iteration t/steps"): a long attack shows its progress."""
    from stablenets.attacks.registry import get_attack_spec

    get_attack_spec("spsa").make(dict(eps=eps, steps=steps, samples=samples, lr=lr, delta=delta, chunk=chunk))
    check_attack_inputs(x, y, eps)
    x = x.detach()
    chunk = 2 * samples if chunk is None else int(chunk)
    gen = generator_for(x, seed)
    view = (-1,) + (1,) * (x.dim() - 1)
    beta1, beta2, tiny = 0.9, 0.999, 1e-8
    m1, m2 = torch.zeros_like(x), torch.zeros_like(x)
    with attack_mode(model):
        x_adv = x.clone()
        best_x, best_m = x.clone(), margin(model(x), y)
        for t in range(1, steps + 1):
            v = torch.randint(0, 2, (samples, *x.shape), generator=gen, device=x.device).to(x.dtype) * 2 - 1
            pts = torch.cat([x_adv + delta * v, x_adv - delta * v])
            f = _margins(model, pts, y, chunk)
            diff = (f[:samples] - f[samples:]) / (2 * delta)
            g = (diff.view(samples, *view) * v).mean(0)
            m1 = beta1 * m1 + (1 - beta1) * g
            m2 = beta2 * m2 + (1 - beta2) * g * g
            step = lr * (m1 / (1 - beta1 ** t)) / ((m2 / (1 - beta2 ** t)).sqrt() + tiny)
            x_adv = project(x_adv + step, x, eps, Norm.LINF)
            m = margin(model(x_adv), y)
            better = m > best_m
            best_x, best_m = torch.where(better.view(view), x_adv, best_x), torch.where(better, m, best_m)
            if log is not None:
                log(f"iteration {t}/{steps}")
    return best_x
