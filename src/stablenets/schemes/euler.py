"""Explicit Euler with a step factor h (Zhang et al., IJCAI 2019, "Towards Robust ResNet").

    x_{n+1} = s_n(x_n) + h·f_n(x_n)

h = 1 is the ResNet. h is a constant, or a learnable scalar per block.
Absolute stability of the linearised step: |1 + h·μ| ≤ 1 for every eigenvalue μ
of ∂f_n/∂x, so a small h keeps a deep network's forward map stable where h = 1
may not be (paper B, Fig. 1). Order 1, explicit, one history term.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from torch import Tensor

from stablenets.schemes.base import ResidualBlock, Scheme, SchemeStep, axpy, scalar_parameter
from stablenets.settings import setting


class EulerStep(SchemeStep):
    def __init__(self, h: float, learnable: bool):
        super().__init__()
        if learnable:
            self.h = scalar_parameter(h)
        else:
            self.h = float(h)

    def forward(self, block: ResidualBlock, x: Tensor, history: Sequence[Tensor]) -> Tensor:
        return axpy(history[0], self.h, block.branch(x))

    def coefficients(self) -> dict[str, Tensor]:
        return {"h": self.h.detach()} if isinstance(self.h, Tensor) else {}


@dataclass(repr=False)
class Euler(Scheme):
    """x_{n+1} = s_n(x_n) + h·f_n(x_n); ``learnable_h`` makes h a per-block parameter."""

    name = "euler"
    order = 1
    explicit = True
    n_history = 1

    h: float = setting(1.0, "step factor h multiplying the branch (1 = the ResNet)", gt=0)
    learnable_h: bool = setting(False, "make h a learnable scalar per block, starting at h", choices=(False, True))

    def make_step(self, index: int, block: ResidualBlock) -> SchemeStep:
        return EulerStep(self.h, self.learnable_h)
