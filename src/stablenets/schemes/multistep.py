"""Linear multistep residual networks: PreResNet-α, LM-ResNet, ZeroSNet.

    x_{n+1} = α0·x_n + α1·x_{n−1} + α2·x_{n−2} + β·h·f_n(x_n)

with 1, 2 or 3 steps (Chen, Jin, Shang, AAAI 2022 "Zero-stable deep neural
networks"; Lu et al., ICML 2018 "Beyond finite layer neural networks").

- PreResNet-α: one step, x_{n+1} = α·x_n + h·f_n(x_n).
- LM-ResNet: x_{n+1} = (1 − k_n)·x_n + k_n·x_{n−1} + β·f_n(x_n), β = 1 and k_n
  learnable per block, k_n ~ U[−0.1, 0] (Lu et al.); or the consistent form
  with one shared fixed k, β = (1 + k)·h (see below).
- ZeroSNet(λ): α0 = 3(1+λ)/(4λ), α1 = −1/λ, α2 = (1+λ)/(4λ), β = (3λ−1)/(2λ):
  consistent for every λ ≠ 0. ZeroSNet-Opt fixes (1/3, 5/9, 1/9, 16/9), λ = −9/5.
  ZeroSNet-Tra learns λ_n per block (from the third block on), starting at 1.
- Any tuple (α0, …, α_{k−1}, β) from the configuration.

Consistency (order ≥ 1): Σ α_j = 1 and β = 1 + Σ_j j·α_j; for the two-step
form above that is β = 1 + k. Zero stability (the root condition): every root
of ρ^k − α0·ρ^{k−1} − … − α_{k−1} lies in the closed unit disc, and those on
the circle are simple. Fixed coefficients are checked when the scheme is made:
a warning when they are not zero-stable, or an error with ``strict=True``.

The first k−1 blocks of the chain have too short a history; they take explicit
Euler steps x_{n+1} = x_n + h·f_n(x_n). At a stage transition every history term
is projected by the block's shortcut (see ``SchemeTrunk``).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from stablenets.schemes.base import ResidualBlock, Scheme, SchemeStep, as_float_tuple, axpy, scalar_parameter
from stablenets.stability.roots import check_coefficients, consistent_beta


def zerosnet_coefficients_torch(lam: Tensor) -> tuple[list[Tensor], Tensor]:
    """ZeroSNet(λ) coefficients as differentiable functions of λ."""
    alphas = [3 * (1 + lam) / (4 * lam), -1 / lam, (1 + lam) / (4 * lam)]
    return alphas, (3 * lam - 1) / (2 * lam)


def _as_tensor(value: Tensor | float) -> Tensor:
    return value.detach() if isinstance(value, Tensor) else torch.tensor(value, dtype=torch.float64)


class MultistepStep(SchemeStep):
    """Fixed coefficients; subclasses with learnable ones override ``alphas_beta``."""

    def __init__(self, alphas: Sequence[float], beta: float, h: float):
        super().__init__()
        self.alphas = tuple(alphas)
        self.beta = beta
        self.h = h

    def alphas_beta(self) -> tuple[Sequence[Tensor | float], Tensor | float]:
        return self.alphas, self.beta

    def forward(self, block: ResidualBlock, x: Tensor, history: Sequence[Tensor]) -> Tensor:
        alphas, beta = self.alphas_beta()
        f = block.branch(x)
        if len(history) < len(alphas):
            return axpy(history[0], self.h, f)
        scale = beta * self.h
        out = f if isinstance(scale, (int, float)) and scale == 1 else f * scale
        for alpha, term in zip(alphas, history):
            out = axpy(out, alpha, term)
        return out

    def coefficients(self) -> dict[str, Tensor]:
        alphas, beta = self.alphas_beta()
        values = {f"alpha{j}": _as_tensor(a) for j, a in enumerate(alphas)}
        values["beta"] = _as_tensor(beta)
        return values


class LearnedKStep(MultistepStep):
    """LM-ResNet with a learnable k_n: α = (1 − k_n, k_n), β = 1."""

    def __init__(self, k_init: tuple[float, float], h: float):
        super().__init__((0.0, 0.0), 1.0, h)
        self.k = nn.Parameter(torch.empty(()).uniform_(*k_init) if k_init[1] > k_init[0] else torch.tensor(k_init[0]))

    def alphas_beta(self):
        return (1 - self.k, self.k), 1.0

    def coefficients(self) -> dict[str, Tensor]:
        return {"k": self.k.detach(), **super().coefficients()}


class LearnedLambdaStep(MultistepStep):
    """ZeroSNet-Tra: the ZeroSNet coefficients of a learnable λ_n."""

    def __init__(self, lam_init: float, h: float):
        super().__init__((0.0, 0.0, 0.0), 0.0, h)
        self.lam = scalar_parameter(lam_init)

    def alphas_beta(self):
        return zerosnet_coefficients_torch(self.lam)

    def coefficients(self) -> dict[str, Tensor]:
        return {"lambda": self.lam.detach(), **super().coefficients()}


class Multistep(Scheme):
    """A linear multistep scheme; see the module docstring.

    Args:
        alphas: (α0, …, α_{k−1}), k = 1, 2 or 3 (fixed coefficients).
        beta: β, or "consistent" to derive it from the alphas.
        h: the step factor multiplying f.
        learn: None (fixed), "k" (LM-ResNet, learnable k_n per block) or "lambda"
            (ZeroSNet-Tra, learnable λ_n per block).
        k_init: U[a, b] for learnable k_n. lambda_init: start of learnable λ_n.
        strict: refuse (ValueError) instead of warning on coefficients that are not zero-stable.
    """

    name = "multistep"
    order = 1
    explicit = True

    def __init__(self, alphas: Sequence[float] = (1.0,), beta: float | str = 1.0, h: float = 1.0,
                 learn: str | None = None, k_init: tuple[float, float] = (-0.1, 0.0),
                 lambda_init: float = 1.0, strict: bool = False):
        if learn not in (None, "k", "lambda"):
            raise ValueError(f"learn must be None, 'k' or 'lambda', got {learn!r}")
        alphas = as_float_tuple(alphas)
        if learn == "k":
            alphas = (0.0, 0.0)
        elif learn == "lambda":
            alphas = (0.0, 0.0, 0.0)
        if not 1 <= len(alphas) <= 3:
            raise ValueError(f"multistep schemes take 1 to 3 alphas, got {len(alphas)}: {alphas}")
        self.alphas = alphas
        self.beta = float(consistent_beta(alphas)) if beta == "consistent" else float(beta)
        self.h = float(h)
        self.learn = learn
        self.k_init = tuple(float(v) for v in k_init)
        self.lambda_init = float(lambda_init)
        self.strict = bool(strict)
        self.n_history = len(alphas)
        if learn is None:  # zero stability only: PreResNet-α is inconsistent on purpose
            check_coefficients(self.alphas, strict=self.strict)

    def make_step(self, index: int, block: ResidualBlock) -> SchemeStep:
        if index < self.n_history - 1:  # too short a history: an Euler starter step, no coefficients
            return MultistepStep(self.alphas, self.beta, self.h)
        if self.learn == "k":
            return LearnedKStep(self.k_init, self.h)
        if self.learn == "lambda":
            return LearnedLambdaStep(self.lambda_init, self.h)
        return MultistepStep(self.alphas, self.beta, self.h)

    def settings(self) -> dict:
        return {"alphas": list(self.alphas), "beta": self.beta, "h": self.h, "learn": self.learn,
                "k_init": list(self.k_init), "lambda_init": self.lambda_init, "strict": self.strict}
