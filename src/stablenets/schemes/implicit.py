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

The inner evaluations f_n(x^k) use BatchNorm's running statistics, in training
as in evaluation. The implicit equation needs one fixed f_n; with batch
statistics f_n would change with every iterate, and the iterates (distributed
like x_{n+1}, not x_n) would pollute the running statistics, so that a model
trained at 88% scored 9% in eval mode. Only the first call, f_n(x_n), trains
the statistics.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor, nn

from stablenets.schemes.base import ResidualBlock, Scheme, SchemeStep
from stablenets.settings import setting


@contextmanager
def running_statistics(norms: Sequence[nn.Module]):
    """Put the given normalisation layers in eval mode for the duration, then restore their modes."""
    modes = [m.training for m in norms]
    for m in norms:
        m.training = False
    try:
        yield
    finally:
        for m, mode in zip(norms, modes):
            m.training = mode


class ImplicitStep(SchemeStep):
    def __init__(self, iterations: int, gamma: float, create_graph: bool):
        super().__init__()
        self.iterations = iterations
        self.gamma = gamma
        self.create_graph = create_graph
        self._norms: list[nn.Module] | None = None  # this step's block's BatchNorms, found once

    def batch_norms(self, block: ResidualBlock) -> list[nn.Module]:
        if self._norms is None:
            self._norms = [m for m in block.branch.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        return self._norms

    def forward(self, block: ResidualBlock, x: Tensor, history: Sequence[Tensor]) -> Tensor:
        explicit = history[0] + block.branch(x)
        if self.iterations == 0 or not block.same_shape:
            return explicit
        differentiate = self.create_graph and torch.is_grad_enabled()
        anchor = x if differentiate else x.detach()
        state = explicit if differentiate else explicit.detach()
        with torch.enable_grad(), running_statistics(self.batch_norms(block)):
            for _ in range(self.iterations):
                if not state.requires_grad:
                    state = state.detach().requires_grad_(True)
                residual = state - anchor - block.branch(state)
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

    def make_step(self, index: int, block: ResidualBlock) -> SchemeStep:
        return ImplicitStep(self.iterations, self.gamma, self.create_graph)
