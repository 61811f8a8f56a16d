"""Implicit-Euler skip, IE-skip (Li, He, Lin, ICML 2020, "Implicit Euler Skip Connections").

The implicit Euler step x_{n+1} = x_n + f_n(x_{n+1}) is solved approximately:
start from the explicit step and take K gradient steps on the residual,

    x⁰ = x_n + f_n(x_n),
    x^{k+1} = x^k − γ·∇_x ‖x^k − x_n − f_n(x^k)‖²,   k = 0 … K−1,
    x_{n+1} = x^K.

Implicit Euler is A-stable (|1/(1 − hμ)| ≤ 1 for Re μ ≤ 0), which the paper links
to robustness. Paper settings: γ = 0.05 or 0.1, K = 1 or 3. K = 0 is the ResNet.

``create_graph`` (default on) lets gradients flow through the inner loop, so
training and attacks see the implicit step's Jacobian. The reference code turns
it off silently; then every inner gradient is a constant to the outer backward
pass and the input gradient equals explicit Euler's. The inner loop enables
grad locally, so it also runs under ``torch.no_grad()`` evaluation (then the
inner gradients are detached, since nothing differentiates through them).
Blocks that change shape (s_n a projection) take the explicit step: f_n cannot
be evaluated at a state of the output shape.

``flip_last_stage`` (default off) is what the authors' public code runs (homles11/IE-ResNet,
models/sirResNet.py, the ``forward`` of SIR_ResNet18/34/50): in every block of the last stage
(the blocks after the network's last change of shape) the inner loop minimises
‖x − x_n + f_n(x)‖², the residual of x = x_n − f_n(x), while the explicit start stays
x_n + f_n(x_n); every other block minimises Algorithm 1's ‖x − x_n − f_n(x)‖². Off, every block
is Algorithm 1's.

The implicit equation needs one fixed f_n. How its BatchNorm layers make it one is the setting
``statistics`` (see :func:`~stablenets.schemes.base.repeated_branch`): by default (``"first"``)
every inner evaluation f_n(x^k) normalises with the batch statistics of the explicit start's call
f_n(x_n) in training, and with the running statistics in evaluation, so the inner steps minimise
the residual of the same f_n that starts them, in training as in evaluation; only f_n(x_n) trains
the running statistics. ``"running"`` (the inner calls use the running statistics in training
too) was this library's earlier rule: in training the start and the inner steps then see two
different functions. ``"each"`` (every call its own batch statistics) lets the iterates, distributed
like x_{n+1}, pollute the running statistics, and eval-mode accuracy collapses.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from stablenets.schemes.base import BRANCH_STATISTICS, ResidualBlock, Scheme, SchemeStep, repeated_branch
from stablenets.settings import setting


class ImplicitStep(SchemeStep):
    def __init__(self, iterations: int, gamma: float, create_graph: bool, statistics: str, sign: float = 1.0):
        super().__init__()
        self.iterations = iterations
        self.gamma = gamma
        self.create_graph = create_graph
        self.statistics = statistics
        self.sign = sign  # +1: the residual x − x_n − f_n(x) (Algorithm 1); −1: x − x_n + f_n(x)

    def forward(self, block: ResidualBlock, x: Tensor, history: Sequence[Tensor]) -> Tensor:
        if self.iterations == 0 or not block.same_shape:
            return history[0] + block.branch(x)
        with repeated_branch(block.branch, self.statistics) as f:
            return self.solve(f, x, history[0] + f(x))

    def solve(self, f, x: Tensor, explicit: Tensor) -> Tensor:
        differentiate = self.create_graph and torch.is_grad_enabled()
        anchor = x if differentiate else x.detach()
        state = explicit if differentiate else explicit.detach()
        with torch.enable_grad():
            for _ in range(self.iterations):
                if not state.requires_grad:
                    state = state.detach().requires_grad_(True)
                residual = state - anchor - f(state) if self.sign > 0 else state - anchor + f(state)
                (grad,) = torch.autograd.grad(residual.pow(2).sum(), state, create_graph=differentiate)
                state = state - self.gamma * grad
                if not differentiate:
                    state = state.detach()
        if differentiate:
            return state
        # The inner corrections are constants to the outer graph: its Jacobian is explicit Euler's.
        return explicit + (state - explicit.detach())


@dataclass(repr=False)
class ImplicitEuler(Scheme):
    """IE-skip: K gradient steps of size γ on ‖x − x_n − f_n(x)‖² after the explicit start."""

    name = "implicit"
    order = 1
    explicit = False
    n_history = 1

    iterations: int = setting(1, "inner gradient steps K (0 = the ResNet)", ge=0, integer=True)
    gamma: float = setting(0.1, "inner step size gamma", ge=0)
    create_graph: bool = setting(True, "differentiate through the inner loop", choices=(False, True))
    statistics: str = setting("first", "BatchNorm statistics of the inner evaluations f_n(x^k)",
                              choices=BRANCH_STATISTICS)
    flip_last_stage: bool = setting(False, "the last stage's inner loops minimise |x - x_n + f_n(x)|^2 "
                                    "(the authors' code) instead of |x - x_n - f_n(x)|^2", choices=(False, True))

    def make_step(self, index: int, block: ResidualBlock) -> SchemeStep:
        return ImplicitStep(self.iterations, self.gamma, self.create_graph, self.statistics)

    def make_steps(self, blocks: Sequence[ResidualBlock]) -> list[SchemeStep]:
        steps = super().make_steps(blocks)
        if self.flip_last_stage:  # the last stage: every block after the last change of shape
            last_change = max((i for i, b in enumerate(blocks) if not b.same_shape), default=-1)
            for step in steps[last_change + 1:]:
                step.sign = -1.0
        return steps
