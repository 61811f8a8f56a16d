"""CW-L2, the Carlini-Wagner L2 attack (Carlini & Wagner, S&P 2017).

Change of variables x_adv = (tanh(w) + 1) / 2 keeps x_adv in [0, 1]; Adam minimises

    ‖x_adv − x‖₂² + c · max(z_y − max_{j≠y} z_j, −κ)

over w. An outer binary search adapts c per sample: after a success c ← (lo + c)/2 style
bisection toward smaller c, after a failure c grows ×10 until an upper bound is known.
The smallest successful perturbation per sample is returned; a sample never fooled is
returned unchanged (clean). Paper C (Li, He, Lin, ICML 2020) uses Adam, 50 iterations,
lr 6e-4, c = 10 and no search (``binary_search_steps=1``).

With ``eps`` set, successes whose ‖δ‖₂ exceeds ε are discarded, which turns the attack
into an ε-bounded one (robust accuracy "at radius ε").

``target="random"`` is the targeted form C §5.1 writes (F(w, x + η) = t, t the target label):
each sample's target t is drawn uniformly among its wrong labels from ``seed`` (Carlini & Wagner
2017 §VI, the "average case"; paper C's public code has no C&W), the misclassification term
becomes max(max_{j≠t} z_j − z_t, −κ), and a success is a sample classified as t. A sample never
driven to its target is returned unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from stablenets.attacks.base import Norm, attack_mode, check_attack_inputs, margin, per_sample_norm
from stablenets.settings import setting

__all__ = ["cw_l2", "CWL2Settings", "random_targets"]

TARGETS = ("none", "random")


def random_targets(y: torch.Tensor, num_classes: int, seed: int) -> torch.Tensor:
    """A label ≠ y per sample, uniform over the num_classes − 1 wrong ones, from ``seed`` (on y's device)."""
    g = torch.Generator().manual_seed(int(seed))
    shift = torch.randint(1, num_classes, (y.shape[0],), generator=g).to(y.device)
    return (y + shift) % num_classes


@dataclass
class CWL2Settings:
    c: float = setting(10.0, "initial weight of the misclassification term", gt=0)
    steps: int = setting(50, "Adam iterations per search step", ge=1, integer=True)
    lr: float = setting(6e-4, "Adam learning rate", gt=0)
    kappa: float = setting(0.0, "confidence margin κ", ge=0)
    binary_search_steps: int = setting(1, "outer searches over c (1 = no search)", ge=1, integer=True)
    eps: float | None = setting(None, "discard successes with ‖δ‖₂ > eps (None: unbounded)", ge=0, optional=True)
    target: str = setting("none", "none: untargeted; random: a wrong label per sample drawn from the seed (targeted)",
                          choices=TARGETS)


def _atanh(x: torch.Tensor) -> torch.Tensor:
    return torch.atanh((2 * x - 1).clamp(-1 + 1e-6, 1 - 1e-6))


def cw_l2(model: nn.Module, x: torch.Tensor, y: torch.Tensor, c: float = 10.0, steps: int = 50,
          lr: float = 6e-4, kappa: float = 0.0, binary_search_steps: int = 1, *,
          eps: float | None = None, target: str = "none", seed: int = 0) -> torch.Tensor:
    """CW-L2, untargeted or (``target="random"``) targeted; returns the smallest adversarial example found per
    sample (or x)."""
    from stablenets.attacks.registry import get_attack_spec

    get_attack_spec("cw_l2").make(dict(c=c, steps=steps, lr=lr, kappa=kappa, binary_search_steps=binary_search_steps,
                                       eps=eps, target=target))
    check_attack_inputs(x, y, eps)
    x = x.detach()
    n = x.shape[0]
    view = (-1,) + (1,) * (x.dim() - 1)
    const = torch.full((n,), float(c), device=x.device)
    lo = torch.zeros(n, device=x.device)
    hi = torch.full((n,), float("inf"), device=x.device)
    best_x, best_d = x.clone(), torch.full((n,), float("inf"), device=x.device)
    w0 = _atanh(x)
    goal = None
    with attack_mode(model), torch.enable_grad():
        for _ in range(binary_search_steps):
            w = w0.clone().requires_grad_(True)
            opt = torch.optim.Adam([w], lr=lr)
            found = torch.zeros(n, dtype=torch.bool, device=x.device)
            for _ in range(steps):
                x_adv = (torch.tanh(w) + 1) / 2
                logits = model(x_adv)
                if target == "random" and goal is None:
                    goal = random_targets(y, logits.shape[1], seed)
                m = margin(logits, y) if goal is None else -margin(logits, goal)  # > 0: fooled (into t)
                dist = (x_adv - x).flatten(1).pow(2).sum(1)
                loss = (dist + const * torch.clamp(-m, min=-kappa)).sum()
                opt.zero_grad(set_to_none=True)
                (grad,) = torch.autograd.grad(loss, w)
                w.grad = grad
                opt.step()
                with torch.no_grad():
                    ok = m > 0
                    if eps is not None:
                        ok = ok & (per_sample_norm(x_adv - x, Norm.L2) <= eps)
                    better = ok & (dist < best_d)
                    best_d = torch.where(better, dist, best_d)
                    best_x = torch.where(better.view(view), x_adv.detach(), best_x)
                    found = found | ok
            hi = torch.where(found, torch.minimum(hi, const), hi)
            lo = torch.where(found, lo, torch.maximum(lo, const))
            const = torch.where(torch.isinf(hi), const * 10, (lo + hi) / 2)
    return best_x.detach()
