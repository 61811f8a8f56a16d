"""Weight sharing, SwResNet: the IE-skip paper's compute-matched baseline (Li, He, Lin, ICML 2020).

    x_{n+1} = g_n^{(r)}(x_n),   g_n(x) = x + f_n(x)

Each same-shape block is applied r times with the same weights (r = K + 1
matches the number of branch evaluations of IE-skip with K inner steps, so the
comparison isolates the implicit step from the extra compute). Blocks that
change shape are applied once. r = 1 is the ResNet.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from torch import Tensor

from stablenets.schemes.base import ResidualBlock, Scheme, SchemeStep
from stablenets.settings import setting


class RepeatStep(SchemeStep):
    def __init__(self, repeats: int):
        super().__init__()
        self.repeats = repeats

    def forward(self, block: ResidualBlock, x: Tensor, history: Sequence[Tensor]) -> Tensor:
        state = history[0] + block.branch(x)
        if block.same_shape:
            for _ in range(self.repeats - 1):
                state = state + block.branch(state)
        return state


@dataclass(repr=False)
class SharedWeights(Scheme):
    """Apply each same-shape residual block ``repeats`` times with shared weights."""

    name = "shared"
    order = 1
    explicit = True
    n_history = 1

    repeats: int = setting(2, "applications of each same-shape block (1 = the ResNet)", ge=1, integer=True)

    def make_step(self, index: int, block: ResidualBlock) -> SchemeStep:
        return RepeatStep(self.repeats)
