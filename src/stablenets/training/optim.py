"""Optimisers (SGD with momentum / Nesterov, Adam) and learning-rate schedules.

Weight decay on scheme coefficients. The learnable coefficients of a scheme (In-ResNet's
λ_n, a learnable step factor h_n, LM-ResNet's k_n, gates) are put in their own parameter
group, decayed only when ``optim.scheme_weight_decay`` is true; the default is no decay.
Decay adds wd·θ to the gradient, i.e. pulls θ toward 0: for λ it biases the learned
damping toward the plain ResNet (λ = 0), for h toward no update at all, and the authors'
In-ResNet code, which stores k = 1 − λ, decays k and so pulls λ toward 1 (the non-residual
end). Either way the "learned" coefficient then reports the regulariser, not the data,
so it is off unless asked for.

Schedules are a pure function of the position of the step, so a resumed run needs only
the epoch to continue exactly. Step s (0-based) of epoch e (0-based, S steps per epoch)
completes at the fractional epoch t = e + (s + 1)/S and runs at

    multistep  lr = lr₀ · γ^{#{m ∈ milestones : m ≤ e}}
    cosine     lr = min_lr + (lr₀ − min_lr) · (1 + cos(π t / T)) / 2
    constant   lr = lr₀
    warm-up    lr ← lr · min(1, t / warmup_epochs)   (linear from 0)

"Divide by 10 at epochs 80 and 120" (the papers' schedules) is ``milestones = [80, 120]``:
every step of epochs 0–79 runs at lr₀, of epochs 80–119 at lr₀/10 (PyTorch's MultiStepLR
stepped once per epoch). A milestone counts from the first step of its epoch, never earlier.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from stablenets.training.config import OptimConfig, ScheduleConfig

__all__ = ["build_optimizer", "learning_rate", "set_lr"]


def build_optimizer(model: nn.Module, cfg: OptimConfig, *, fused: bool = False,
                    capturable: bool = False) -> torch.optim.Optimizer:
    """The optimiser over ``model``'s parameters, with scheme coefficients in a separate group.

    ``fused``: torch's fused update kernel (CUDA); ``capturable``: Adam keeps its step count on the
    device so that its update can be captured in a CUDA graph. Neither changes the arithmetic.
    """
    from stablenets.models import scheme_parameters

    scheme_ids = {id(p) for p in scheme_parameters(model)}
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if id(p) not in scheme_ids], "weight_decay": cfg.weight_decay,
               "name": "weights"}]
    scheme = [p for p in params if id(p) in scheme_ids]
    if scheme:
        groups.append({"params": scheme, "weight_decay": cfg.weight_decay if cfg.scheme_weight_decay else 0.0,
                       "name": "scheme"})
    extra = {"fused": True} if fused else {}
    if cfg.name == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov, **extra)
    if cfg.name == "adam":
        return torch.optim.Adam(groups, lr=cfg.lr, betas=tuple(cfg.betas), capturable=capturable and not fused,
                                **extra)
    raise ValueError(f"unknown optimiser {cfg.name!r}; valid: sgd, adam")


def learning_rate(base_lr: float, cfg: ScheduleConfig, epoch: int, step: int, steps_per_epoch: int,
                  total_epochs: int) -> float:
    """The learning rate of step ``step`` of epoch ``epoch`` (both 0-based; see the module docstring)."""
    t = epoch + (step + 1) / steps_per_epoch
    if cfg.kind == "multistep":
        lr = base_lr * cfg.gamma ** sum(1 for m in cfg.milestones if m <= epoch)
    elif cfg.kind == "cosine":
        lr = cfg.min_lr + (base_lr - cfg.min_lr) * (1 + math.cos(math.pi * min(t / total_epochs, 1.0))) / 2
    elif cfg.kind == "constant":
        lr = base_lr
    else:
        raise ValueError(f"unknown schedule {cfg.kind!r}; valid: multistep, cosine, constant")
    if cfg.warmup_epochs > 0 and t < cfg.warmup_epochs:
        lr *= t / cfg.warmup_epochs
    return lr


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
