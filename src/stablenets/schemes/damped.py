"""Damped / interpolated residual steps: the In-ResNet family (Yang et al., ICML 2020).

    x_{n+1} = (1 − act(d_n))·s_n(x_n) + ρ_n·f_n(x_n)

- In-ResNet: act = ReLU, d_n = λ_n (a learnable scalar per block), ρ_n = 1.
- λ-In-ResNet: as In-ResNet with ρ_n = 1 + ReLU(λ_n).
- -sig: act = sigmoid.
- -gating: d_n(x) = W_d·pool(x_n) + b_d, a per-sample scalar from the globally
  average-pooled input through a linear layer. -gating-sig: both.

λ_n starts from U[a, b] (paper A §4.1: U[0.2, 0.25] for (λ-)In-ResNet-110 and
(λ-)In-ResNeXt, U[0.1, 0.2] for In-ResNet-164). The five ranges of A-table5 are
named settings: ``lambda_init="u0.3-0.4"`` is U[0.3, 0.4] (see ``LAMBDA_INIT_RANGES``). λ = 0 gives exactly the ResNet, λ = 1 the plain network
x_{n+1} = f_n(x_n). The Jacobian of the step is (1 − λ)·I + ∂f/∂x: the damping
shifts the spectrum of the ResNet step by −λ toward the stable region (paper A §3.4).

Two settings reproduce paper A's public code (minicheshire/InResNet, ``InResNet.py``, class
``InResNet``): ``parametrization="one-minus"`` stores the learnable k_n = 1 − λ_n (the code's
``ks``, λ = ReLU(1 − k)); the function is the same, but weight decay then pulls λ_n toward 1
instead of 0. ``blocks="same-shape-from-1"`` damps only the blocks that keep the shape, from the
second block on; the first block and the shape-changing ones take the plain step s_n(x_n) + f_n(x_n).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor, nn

from stablenets.schemes.base import ResidualBlock, Scheme, SchemeStep, axpy
from stablenets.settings import SettingError, check, setting

ACTIVATIONS = {"relu": torch.relu, "sigmoid": torch.sigmoid}
# The λ_n initialisation intervals U[a, b] that A-table5 compares (paper A §4.5), by name.
LAMBDA_INIT_RANGES = {"u0-0.1": (0.0, 0.1), "u0.1-0.2": (0.1, 0.2), "u0.2-0.25": (0.2, 0.25),
                      "u0.25-0.3": (0.25, 0.3), "u0.3-0.4": (0.3, 0.4)}


def lambda_init_range(value) -> tuple[float, float]:
    """(a, b) of U[a, b] from a number (a = b), a pair, or a name of ``LAMBDA_INIT_RANGES``."""
    if isinstance(value, str):
        check("scheme damped.lambda_init", value, choices=tuple(LAMBDA_INIT_RANGES))
        return LAMBDA_INIT_RANGES[value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = (value, value)
    check("scheme damped.lambda_init", value, nonempty=True, each=dict(lt=float("inf")))
    if len(value) != 2 or not value[0] <= value[1]:
        raise SettingError(f"scheme damped.lambda_init = {value!r}: must be a number, a pair (a, b) with a ≤ b, "
                           f"or one of {', '.join(LAMBDA_INIT_RANGES)}")
    return float(value[0]), float(value[1])


def global_pool(x: Tensor) -> Tensor:
    """Average over every dimension after the channel one; (N, D) points pass through."""
    return x.flatten(2).mean(-1) if x.dim() > 2 else x


PARAMETRIZATIONS = ("lambda", "one-minus")
DAMPED_BLOCKS = ("all", "same-shape-from-1")


class PlainStep(SchemeStep):
    """x_{n+1} = s_n(x_n) + f_n(x_n): an undamped block of ``blocks="same-shape-from-1"``."""

    def forward(self, block: ResidualBlock, x: Tensor, history: Sequence[Tensor]) -> Tensor:
        return history[0] + block.branch(x)


class DampedStep(SchemeStep):
    def __init__(self, channels: int, activation: str, gating: bool, rho_from_lambda: bool,
                 init_range: tuple[float, float], learnable: bool, parametrization: str = "lambda"):
        super().__init__()
        self.activation = activation
        self.rho_from_lambda = rho_from_lambda
        self.one_minus = parametrization == "one-minus"
        low, high = (1 - init_range[1], 1 - init_range[0]) if self.one_minus else init_range
        lam = torch.empty(()).uniform_(low, high) if high > low else torch.tensor(float(low))
        lam_is_used = not gating or rho_from_lambda  # a gate replaces λ_n unless ρ_n needs it
        self.lam = nn.Parameter(lam) if learnable and lam_is_used else nn.Buffer(lam)
        self.gate = nn.Linear(channels, 1) if gating else None
        if self.gate is not None:
            nn.init.zeros_(self.gate.weight)
            with torch.no_grad():
                self.gate.bias.copy_(lam)

    @property
    def lam_value(self) -> Tensor:
        """λ_n itself (1 − k_n under the "one-minus" parametrization)."""
        return 1 - self.lam if self.one_minus else self.lam

    def damping(self, x: Tensor) -> Tensor:
        if self.gate is None:
            return ACTIVATIONS[self.activation](self.lam_value)
        d = self.gate(global_pool(x))  # (N, 1)
        return ACTIVATIONS[self.activation](d).view(-1, *([1] * (x.dim() - 1)))

    def forward(self, block: ResidualBlock, x: Tensor, history: Sequence[Tensor]) -> Tensor:
        f = block.branch(x)
        if self.rho_from_lambda:
            f = f * (1 + torch.relu(self.lam_value))
        return axpy(f, 1 - self.damping(x), history[0])

    def coefficients(self) -> dict[str, Tensor]:
        out = {"lambda_raw": self.lam_value.detach()}
        if self.gate is None:
            out["lambda"] = ACTIVATIONS[self.activation](self.lam_value).detach()
        else:
            out["gate_bias"] = ACTIVATIONS[self.activation](self.gate.bias.detach()[0])
        if self.rho_from_lambda:
            out["rho"] = (1 + torch.relu(self.lam_value)).detach()
        return out


@dataclass(repr=False)
class Damped(Scheme):
    """In-ResNet and its variants; see the module docstring for the update."""

    name = "damped"
    order = 1
    explicit = True
    n_history = 1

    activation: str = setting("relu", "act of the damping: relu (In-ResNet) or sigmoid (-sig)",
                              choices=tuple(ACTIVATIONS))
    gating: bool = setting(False, "d_n(x) = W_d pool(x_n) + b_d, a per-sample gate (-gating)", choices=(False, True))
    rho_from_lambda: bool = setting(False, "rho_n = 1 + ReLU(lambda_n) (lambda-In-ResNet, paper A eq 15)",
                                    choices=(False, True))
    lambda_init: tuple[float, float] | float | str = setting(
        (0.2, 0.25), "lambda_n ~ U[a, b]: a number, (a, b), or an A-table5 name such as u0.3-0.4")
    learnable: bool = setting(True, "learn lambda_n (paper A) or keep it fixed", choices=(False, True))
    parametrization: str = setting("lambda", "the stored parameter: lambda_n, or k_n = 1 - lambda_n (one-minus, "
                                   "paper A's code: weight decay then pulls lambda_n toward 1)",
                                   choices=PARAMETRIZATIONS)
    blocks: str = setting("all", "damped blocks: all, or same-shape-from-1 (paper A's code: not the first block, "
                          "not the shape-changing ones)", choices=DAMPED_BLOCKS)

    def __post_init__(self):
        self.lambda_init = lambda_init_range(self.lambda_init)
        super().__post_init__()

    def make_step(self, index: int, block: ResidualBlock) -> SchemeStep:
        if self.blocks == "same-shape-from-1" and (index == 0 or not block.same_shape):
            return PlainStep()
        return DampedStep(block.in_channels, self.activation, self.gating, self.rho_from_lambda,
                          self.lambda_init, self.learnable, self.parametrization)
