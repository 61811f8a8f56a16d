"""What every attack shares: the threat model, losses, projections, and a model guard.

Threat models (pixel space, images in [0, 1]):

- ``Norm.LINF``: ‖δ‖∞ ≤ ε, projection δ ← clip(δ, −ε, ε);
- ``Norm.L2``:   ‖δ‖₂ ≤ ε per sample, projection δ ← δ · min(1, ε / ‖δ‖₂).

After the projection the image is clipped to [0, 1]. Clipping moves every pixel toward
the clean pixel, so it never leaves the ball: both constraints hold at once.

Losses an attack *maximises* (z: logits, y: true label):

- ``ce``: cross-entropy, summed over the batch so that each sample's input gradient
  does not depend on the batch size;
- ``margin``: the Carlini-Wagner margin max_{j≠y} z_j − z_y (positive iff misclassified).

Gradients are taken with ``torch.autograd.grad`` with respect to the input only, so the
model's parameters never accumulate ``.grad``.
"""
from __future__ import annotations

import contextlib
from enum import Enum
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Norm", "Loss", "attack_mode", "margin", "loss_fn", "input_gradient", "project", "steepest_step",
           "pgd_step", "random_start", "per_sample_norm", "check_attack_inputs", "generator_for"]


class _Choice(str, Enum):
    """A string setting with a fixed set of values; ``parse`` accepts the member or its value."""

    @classmethod
    def parse(cls, value):
        if isinstance(value, cls):
            return value
        key = str(value).lower().replace("∞", "inf")
        for member in cls:
            if member.value == key:
                return member
        raise ValueError(f"unknown {cls.__name__.lower()} {value!r}; valid: {[m.value for m in cls]}")


class Norm(_Choice):
    """The norm of the perturbation ball."""

    LINF = "linf"
    L2 = "l2"


class Loss(_Choice):
    """The objective an attack maximises."""

    CE = "ce"
    MARGIN = "margin"


@contextlib.contextmanager
def attack_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put every submodule in eval mode for the attack, then give each back its own mode."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes:
            module.training = training


def margin(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sample max_{j≠y} z_j − z_y: positive exactly when the sample is misclassified."""
    true = logits.gather(1, y[:, None]).squeeze(1)
    others = logits.scatter(1, y[:, None], float("-inf"))
    return others.amax(dim=1) - true


def loss_fn(logits: torch.Tensor, y: torch.Tensor, loss: Loss) -> torch.Tensor:
    """Summed loss to maximise."""
    if loss is Loss.CE:
        return F.cross_entropy(logits, y, reduction="sum")
    return margin(logits, y).sum()


def input_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                   loss: Loss) -> tuple[torch.Tensor, torch.Tensor]:
    """(∇ₓ loss, logits at x) without touching the parameters' ``.grad``."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        logits = model(x)
        (grad,) = torch.autograd.grad(loss_fn(logits, y, loss), x)
    return grad.detach(), logits.detach()


def per_sample_norm(v: torch.Tensor, norm: Norm) -> torch.Tensor:
    """‖v_i‖ for each sample i."""
    flat = v.flatten(1)
    if norm is Norm.LINF:
        return flat.abs().amax(dim=1)
    return flat.norm(p=2, dim=1)


def _view(s: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return s.view(-1, *([1] * (like.dim() - 1)))


def project(x_adv: torch.Tensor, x: torch.Tensor, eps: float, norm: Norm) -> torch.Tensor:
    """Nearest point of the ε-ball around the clean x, then clipped to [0, 1]."""
    delta = x_adv - x
    if norm is Norm.LINF:
        delta = delta.clamp(-eps, eps)
    else:
        n = per_sample_norm(delta, norm)
        delta = delta * _view(torch.clamp(eps / (n + 1e-12), max=1.0), delta)
    return (x + delta).clamp(0.0, 1.0)


def steepest_step(grad: torch.Tensor, size: float, norm: Norm) -> torch.Tensor:
    """The step of length ``size`` that increases a linear function with this gradient most."""
    if norm is Norm.LINF:
        return size * grad.sign()
    n = per_sample_norm(grad, norm)
    return size * grad / _view(n + 1e-12, grad)


def pgd_step(x_adv: torch.Tensor, grad: torch.Tensor, x: torch.Tensor, eps: float, alpha: float,
             norm: Norm) -> torch.Tensor:
    """One PGD step: Π_{B(x, ε) ∩ [0,1]}( x_adv + α · s(grad) ), s = sign (L∞) or g / ‖g‖₂ (L2).

    The one place the signed step and its projection are written; PGD, I-FGSM, TRADES' inner
    maximisation and the solver-step analysis all call it.
    """
    return project(x_adv + steepest_step(grad, alpha, norm), x, eps, norm)


def random_start(x: torch.Tensor, eps: float, norm: Norm, generator: torch.Generator) -> torch.Tensor:
    """A uniform point of the L∞ ball, or a point of the L2 ball (uniform direction, radius ε·U)."""
    if norm is Norm.LINF:
        u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return project(x + (2 * u - 1) * eps, x, eps, norm)
    d = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    r = torch.rand(x.shape[0], generator=generator, device=x.device, dtype=x.dtype)
    d = d / _view(per_sample_norm(d, norm) + 1e-12, d) * _view(r * eps, d)
    return project(x + d, x, eps, norm)


def generator_for(x: torch.Tensor, seed: int) -> torch.Generator:
    """A generator on x's device, seeded explicitly (attacks never use the global RNG)."""
    g = torch.Generator(device=x.device)
    g.manual_seed(int(seed))
    return g


def check_attack_inputs(x: torch.Tensor, y: torch.Tensor, eps: float | None = None) -> None:
    """One clear error for inputs an attack cannot work with."""
    if not torch.is_tensor(x) or not x.is_floating_point():
        raise ValueError("x must be a float tensor of images in [0, 1] (N, C, H, W) or points (N, D)")
    if not torch.is_tensor(y) or y.dtype != torch.long or y.dim() != 1 or y.shape[0] != x.shape[0]:
        raise ValueError(f"y must be a long tensor of N={x.shape[0]} class labels; got "
                         f"{getattr(y, 'dtype', type(y))} of shape {tuple(getattr(y, 'shape', ()))}")
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise ValueError("x must hold pixels in [0, 1] (models normalise inside); rescale the input")
    if eps is not None and not eps >= 0:
        raise ValueError(f"eps must be a non-negative radius in pixel units; got {eps}")
