"""Training objectives: natural, PGD adversarial (Madry), TRADES, noisy inputs.

With f the model, (x, y) a batch of clean images in [0, 1] and CE the cross-entropy:

- natural:  L = CE(f(x), y).
- pgd:      L = CE(f(x'), y), x' = PGD-k(x, y; ε, α) from a random start in the L∞ ball
            around x (Madry et al., ICLR 2018). Paper C (IE-skip) trains with PGD-10 and
            PGD-3 at ε = 8/255, α = 2/255. The attack is :func:`stablenets.attacks.pgd`
            (last iterate, no best-iterate selection), run in eval mode.
- trades:   L = CE(f(x), y) + β · KL(f(x) ‖ f(x')) / N,
            x' = argmax_{‖x'−x‖∞≤ε} KL(f(x) ‖ f(x')), approximated by k signed-gradient
            steps of size α from x + 0.001·N(0, I) (Zhang et al., ICML 2019); β = 1/λ.
- noisy:    L = CE(f(x̃), y), x̃ = x + σ·std·N(0, I) for images: σ on every normalised pixel,
            paper B's noisy training (:func:`stablenets.data.normalised_gaussian_noise`, std the
            model's own), x̃ = x + σ·N(0, I) for 2-D points, or x̃ = x with a fraction p of its
            characters replaced for text (:func:`stablenets.data.replace_characters`).

Random draws (PGD starts, TRADES starts, noise) come from generators seeded by
(run seed, epoch, step), so a resumed run draws the same noise as an uninterrupted one.
Each objective returns ``(loss, logits)``: the logits on which train accuracy is counted
(the adversarial / noisy ones for pgd and noisy, the clean ones for natural and trades).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from stablenets.attacks import pgd
from stablenets.attacks.base import Norm, attack_mode, pgd_step
from stablenets.training.config import ModeConfig

__all__ = ["step_seed", "trades_adversary", "training_loss", "noisy_inputs"]


def step_seed(seed: int, epoch: int, step: int) -> int:
    """A 63-bit seed that is a pure function of (seed, epoch, step)."""
    return int(np.random.SeedSequence([int(seed), int(epoch), int(step), 5]).generate_state(1, np.uint64)[0] >> 1)


def trades_adversary(model: nn.Module, x: torch.Tensor, eps: float, alpha: float, steps: int,
                     seed: int) -> torch.Tensor:
    """TRADES' inner maximisation of KL(f(x) ‖ f(x')) over the L∞ ball of radius ε around x."""
    g = torch.Generator(device=x.device).manual_seed(seed)
    x = x.detach()
    with attack_mode(model), torch.no_grad():
        p_clean = F.softmax(model(x), dim=1)
    x_adv = (x + 0.001 * torch.randn(x.shape, generator=g, device=x.device, dtype=x.dtype)).clamp(0, 1)
    with attack_mode(model):
        for _ in range(steps):
            x_adv.requires_grad_(True)
            with torch.enable_grad():
                kl = F.kl_div(F.log_softmax(model(x_adv), dim=1), p_clean, reduction="sum")
                (grad,) = torch.autograd.grad(kl, x_adv)
            x_adv = pgd_step(x_adv.detach(), grad, x, eps, alpha, Norm.LINF)
    return x_adv.detach()


def training_loss(model: nn.Module, attack_model: nn.Module, x: torch.Tensor, y: torch.Tensor, cfg: ModeConfig,
                  seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The objective of ``cfg.kind`` on one batch: ``(mean loss, logits for train accuracy)``.

    ``model`` is what the gradient flows through (possibly DDP-wrapped); ``attack_model``
    is the plain model the inner maximisations query (same weights).
    """
    kind = cfg.kind
    if kind == "natural":
        logits = model(x)
        return F.cross_entropy(logits, y), logits
    if kind == "pgd":
        x_adv = pgd(attack_model, x, y, eps=cfg.eps, alpha=cfg.alpha, steps=cfg.steps, keep_best=False,
                    seed=seed)
        logits = model(x_adv)
        return F.cross_entropy(logits, y), logits
    if kind == "trades":
        x_adv = trades_adversary(attack_model, x, cfg.eps, cfg.alpha, cfg.steps, seed)
        logits = model(x)
        logits_adv = model(x_adv)
        kl = F.kl_div(F.log_softmax(logits_adv, dim=1), F.softmax(logits, dim=1), reduction="batchmean")
        return F.cross_entropy(logits, y) + cfg.beta * kl, logits
    if kind == "noisy":
        x = noisy_inputs(attack_model, x, cfg, seed)
        logits = model(x)
        return F.cross_entropy(logits, y), logits
    raise ValueError(f"unknown training mode {kind!r}; valid: natural, pgd, trades, noisy")


def noisy_inputs(model: nn.Module, x: torch.Tensor, cfg: ModeConfig, seed: int) -> torch.Tensor:
    """The noisy batch x̃ of the noisy mode (see the module docstring), drawn from ``seed``; σ is in the
    units of the model's normalised input (:func:`stablenets.data.noisy_training_input`)."""
    from stablenets.data import noisy_training_input
    from stablenets.models import input_normalization

    stats = input_normalization(model) if x.is_floating_point() and x.dim() > 2 else None  # points: raw
    g = torch.Generator(device=x.device).manual_seed(seed)
    return noisy_training_input(x, cfg.sigma, cfg.replace_p, stats[1] if stats else None, generator=g)
