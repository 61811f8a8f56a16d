"""Weight sharing, SwResNet: the IE-skip paper's compute-matched baseline (Li, He, Lin, ICML 2020).

    x_{n+1} = g_n^{(r)}(x_n),   g_n(x) = x + f_n(x)

Each same-shape block is applied r times with the same weights (r = K + 1 matches the number of
branch evaluations of IE-skip with K inner steps, so the comparison isolates the implicit step from
the extra compute). Blocks that change shape are applied once. r = 1 is the ResNet.

Paper C's SwResNet-58 (C-table6, §6.2) shares "weights of two adjacent residual blocks with the
same dimension" of ResNet-34: r = 2 on every block except the first of each stage, 12 of the 16
basic blocks, so 34 + 2·12 = 58 layers run. ``repeat_first=False`` gives that rule: the chain's
first block, which opens the first stage even when it keeps the shape, is applied once like the
other stage openers (the shape-changing blocks). With ``repeat_first=True`` (the default) every
same-shape block is repeated.

g_n is one fixed function within a forward pass: the branch's BatchNorm layers follow
``statistics`` (see :func:`~stablenets.schemes.base.repeated_branch`; default ``"first"``, the
batch statistics of the first application in training). ``"each"`` is a module simply called r
times (each call its own batch statistics, each updating the running statistics).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from torch import Tensor

from stablenets.schemes.base import BRANCH_STATISTICS, ResidualBlock, Scheme, SchemeStep, repeated_branch
from stablenets.settings import setting


class RepeatStep(SchemeStep):
    def __init__(self, repeats: int, statistics: str):
        super().__init__()
        self.repeats = repeats
        self.statistics = statistics

    def forward(self, block: ResidualBlock, x: Tensor, history: Sequence[Tensor]) -> Tensor:
        if self.repeats == 1:
            return history[0] + block.branch(x)
        with repeated_branch(block.branch, self.statistics) as f:
            state = history[0] + f(x)
            for _ in range(self.repeats - 1):
                state = state + f(state)
        return state


@dataclass(repr=False)
class SharedWeights(Scheme):
    """Apply each same-shape residual block ``repeats`` times with shared weights."""

    name = "shared"
    order = 1
    explicit = True
    n_history = 1

    repeats: int = setting(2, "applications of each same-shape block (1 = the ResNet)", ge=1, integer=True)
    repeat_first: bool = setting(True, "repeat the chain's first block too (False: SwResNet-58's rule)",
                                 choices=(False, True))
    statistics: str = setting("first", "BatchNorm statistics of the later applications", choices=BRANCH_STATISTICS)

    def make_step(self, index: int, block: ResidualBlock) -> SchemeStep:
        once = not block.same_shape or (index == 0 and not self.repeat_first)
        return RepeatStep(1 if once else self.repeats, self.statistics)
