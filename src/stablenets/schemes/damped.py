"""Damped / interpolated residual steps: the In-ResNet family (Yang et al., ICML 2020).

    x_{n+1} = (1 − act(d_n))·s_n(x_n) + ρ_n·f_n(x_n)

- In-ResNet: act = ReLU, d_n = λ_n (a learnable scalar per block), ρ_n = 1.
- λ-In-ResNet: as In-ResNet with ρ_n = 1 + ReLU(λ_n).
- -sig: act = sigmoid.
- -gating: d_n(x) = W_d·pool(x_n) + b_d, a per-sample scalar from the globally
  average-pooled input through a linear layer. -gating-sig: both.

λ_n starts from U[a, b] (paper: U[0.2, 0.25] for 110 layers, U[0.1, 0.2] for
In-ResNet-164). λ = 0 gives exactly the ResNet, λ = 1 the plain network
x_{n+1} = f_n(x_n). The Jacobian of the step is (1 − λ)·I + ∂f/∂x: the damping
shifts the spectrum of the ResNet step by −λ toward the stable region (paper A §3.4).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from stablenets.schemes.base import ResidualBlock, Scheme, SchemeStep, axpy

ACTIVATIONS = {"relu": torch.relu, "sigmoid": torch.sigmoid}


def global_pool(x: Tensor) -> Tensor:
    """Average over every dimension after the channel one; (N, D) points pass through."""
    return x.flatten(2).mean(-1) if x.dim() > 2 else x


class DampedStep(SchemeStep):
    def __init__(self, channels: int, activation: str, gating: bool, rho_from_lambda: bool,
                 init_range: tuple[float, float], learnable: bool):
        super().__init__()
        self.activation = activation
        self.rho_from_lambda = rho_from_lambda
        low, high = init_range
        lam = torch.empty(()).uniform_(low, high) if high > low else torch.tensor(float(low))
        lam_is_used = not gating or rho_from_lambda  # a gate replaces λ_n unless ρ_n needs it
        self.lam = nn.Parameter(lam) if learnable and lam_is_used else nn.Buffer(lam)
        self.gate = nn.Linear(channels, 1) if gating else None
        if self.gate is not None:
            nn.init.zeros_(self.gate.weight)
            with torch.no_grad():
                self.gate.bias.copy_(lam)

    def damping(self, x: Tensor) -> Tensor:
        if self.gate is None:
            return ACTIVATIONS[self.activation](self.lam)
        d = self.gate(global_pool(x))  # (N, 1)
        return ACTIVATIONS[self.activation](d).view(-1, *([1] * (x.dim() - 1)))

    def forward(self, block: ResidualBlock, x: Tensor, history: Sequence[Tensor]) -> Tensor:
        f = block.branch(x)
        if self.rho_from_lambda:
            f = f * (1 + torch.relu(self.lam))
        return axpy(f, 1 - self.damping(x), history[0])

    def coefficients(self) -> dict[str, Tensor]:
        out = {"lambda_raw": self.lam.detach()}
        if self.gate is None:
            out["lambda"] = ACTIVATIONS[self.activation](self.lam).detach()
        else:
            out["gate_bias"] = ACTIVATIONS[self.activation](self.gate.bias.detach()[0])
        if self.rho_from_lambda:
            out["rho"] = (1 + torch.relu(self.lam)).detach()
        return out


class Damped(Scheme):
    """In-ResNet and its variants; see the module docstring for the update."""

    name = "damped"
    order = 1
    explicit = True
    n_history = 1

    def __init__(self, activation: str = "relu", gating: bool = False, rho_from_lambda: bool = False,
                 lambda_init: tuple[float, float] | float = (0.2, 0.25), learnable: bool = True):
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown damping activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
        if isinstance(lambda_init, (int, float)):
            lambda_init = (float(lambda_init), float(lambda_init))
        low, high = (float(v) for v in lambda_init)
        if high < low:
            raise ValueError(f"lambda_init must be (a, b) with a ≤ b, got {lambda_init}")
        self.activation = activation
        self.gating = bool(gating)
        self.rho_from_lambda = bool(rho_from_lambda)
        self.lambda_init = (low, high)
        self.learnable = bool(learnable)

    def make_step(self, index: int, block: ResidualBlock) -> SchemeStep:
        return DampedStep(block.in_channels, self.activation, self.gating, self.rho_from_lambda,
                          self.lambda_init, self.learnable)

    def settings(self) -> dict:
        return {"activation": self.activation, "gating": self.gating, "rho_from_lambda": self.rho_from_lambda,
                "lambda_init": list(self.lambda_init), "learnable": self.learnable}
