"""The scheme side of "backbone × scheme": stepping a chain of residual blocks.

A backbone supplies a flat chain of :class:`ResidualBlock` s; block n has a
residual branch f_n and a shortcut s_n (the identity, or a projection where the
shape changes). A scheme decides how the history of states and the branch
output make the next state,

    x_{n+1} = Φ_n(s_n(x_n), s_n(x_{n−1}), …, f_n(x_n)).

:class:`SchemeTrunk` owns the stepping and the history: it keeps the last
``n_history`` states, projects every history term through the block's shortcut
when the shape changes (so multistep schemes carry their whole history across
stage transitions), and calls one :class:`SchemeStep` per block. A scheme
subclass writes only how one block steps (``SchemeStep.forward``) and declares
``order``, ``explicit`` and ``n_history``. Each block owns its step module, so
learnable per-block coefficients (λ_n, h_n, k_n) live beside their block.
"""
from __future__ import annotations

import weakref
from contextlib import contextmanager
from typing import Callable, ClassVar, Iterator, Sequence

import torch
from torch import Tensor, nn


class ResidualBlock(nn.Module):
    """One residual branch f_n with its shortcut s_n.

    ``shortcut`` is None when input and output shapes agree (s_n is the
    identity); otherwise it is the projection applied to every history term.
    """

    def __init__(self, branch: nn.Module, shortcut: nn.Module | None, in_channels: int, out_channels: int):
        super().__init__()
        self.branch = branch
        self.shortcut = shortcut
        self.in_channels = in_channels
        self.out_channels = out_channels

    @property
    def same_shape(self) -> bool:
        return self.shortcut is None

    def project(self, x: Tensor) -> Tensor:
        return x if self.shortcut is None else self.shortcut(x)

    def forward(self, x: Tensor) -> Tensor:  # the ResNet step, for reference and for SwResNet-like reuse
        return self.project(x) + self.branch(x)


class SchemeStep(nn.Module):
    """How one block makes x_{n+1} from the (projected) history and its branch.

    ``forward(block, x, history)``: ``x`` is x_n in the block's input shape,
    ``history`` is ``[s_n(x_n), s_n(x_{n−1}), …]`` (newest first, at most
    ``n_history`` terms, fewer for the first blocks of the chain).
    """

    def forward(self, block: ResidualBlock, x: Tensor, history: Sequence[Tensor]) -> Tensor:
        raise NotImplementedError

    def coefficients(self) -> dict[str, Tensor]:
        """The effective scheme coefficients of this block (after any activation), detached."""
        return {}


class Scheme:
    """A numerical method: a factory of per-block :class:`SchemeStep` s plus its facts."""

    name: ClassVar[str] = ""
    order: ClassVar[int] = 1
    explicit: ClassVar[bool] = True
    n_history: int = 1

    def make_step(self, index: int, block: ResidualBlock) -> SchemeStep:
        raise NotImplementedError

    def settings(self) -> dict:
        """The scheme's settings, JSON-friendly, for checkpoints and reports."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.settings().items())
        return f"{type(self).__name__}({args})"


class SchemeTrunk(nn.Module):
    """Runs a chain of residual blocks under one scheme, keeping the state history."""

    def __init__(self, blocks: Sequence[ResidualBlock], scheme: Scheme):
        super().__init__()
        self.scheme = scheme
        self.blocks = nn.ModuleList(blocks)
        self.steps = nn.ModuleList(scheme.make_step(i, b) for i, b in enumerate(blocks))
        self.n_history = scheme.n_history

    def forward(self, x: Tensor) -> Tensor:
        history: list[Tensor] = [x]
        for block, step in zip(self.blocks, self.steps):
            x_n = history[0]
            projected = history if block.same_shape else [block.shortcut(h) for h in history]
            x_next = step(block, x_n, projected)
            history = [x_next, *projected[: self.n_history - 1]]
        return history[0]


def axpy(y: Tensor, a: float | Tensor, x: Tensor) -> Tensor:
    """y + a·x as one fused kernel (``add`` with ``alpha``, or ``addcmul`` for a tensor ``a``).

    ``a`` is a Python number or a tensor that broadcasts against x (a 0-dim learnable
    coefficient, a per-sample gate). Schemes combine states with this so that a scheme adds
    no extra elementwise passes over the plain ResNet's ``x + f`` (see benchmarks/). A tensor
    ``a`` is cast to x's dtype: autocast runs ``addcmul`` in the widest input type, so a float32
    coefficient would turn a bf16 state into float32 (twice the activation memory).
    """
    if isinstance(a, Tensor):
        return torch.addcmul(y, x, a.to(x.dtype))
    if a == 1:
        return y + x
    return torch.add(y, x, alpha=a)


def as_float_tuple(values: Sequence[float] | Tensor) -> tuple[float, ...]:
    if isinstance(values, Tensor):
        values = values.tolist()
    return tuple(float(v) for v in values)


def scalar_parameter(value: float) -> nn.Parameter:
    return nn.Parameter(torch.tensor(float(value)))


# ----------------------------------------------------------------------------- a branch evaluated several times

BRANCH_STATISTICS = ("first", "running", "each")
_NORMS: "weakref.WeakKeyDictionary[nn.Module, list[nn.Module]]" = weakref.WeakKeyDictionary()


def _batch_norms(branch: nn.Module) -> list[nn.Module]:
    """The branch's BatchNorm layers, found once per branch (this is on the hot path)."""
    if branch not in _NORMS:
        _NORMS[branch] = [m for m in branch.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    return _NORMS[branch]


def _normalise_with(norm: nn.Module, mean: Tensor, var: Tensor) -> Callable[[Tensor], Tensor]:
    def forward(x: Tensor) -> Tensor:
        shape = (1, -1) + (1,) * (x.dim() - 2)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + norm.eps)
        return y * norm.weight.view(shape) + norm.bias.view(shape) if norm.affine else y
    return forward


@contextmanager
def repeated_branch(branch: nn.Module, statistics: str = "first") -> Iterator[Callable[[Tensor], Tensor]]:
    """Evaluate a residual branch several times within one forward pass; yields the callable f_n.

    A scheme that calls f_n more than once per block (IE-skip's inner iterates, weight sharing's
    repeats, a neural ODE's solver stages) decides here what the branch's BatchNorm layers do on
    the later calls. In evaluation mode every call uses the running statistics, so f_n is one
    function. In training mode, ``statistics`` is

    - ``"first"``: every call normalises with the batch statistics of the first call, which alone
      updates the running statistics; f_n is one fixed function within the forward pass, in
      training as in evaluation, and gradients flow through those statistics.
    - ``"running"``: the later calls use the running statistics (as the first call left them);
      f_n then differs between the first and the later calls.
    - ``"each"``: every call uses its own batch statistics and updates the running statistics, as
      when a module is simply called again; the later inputs (distributed like x_{n+1}, not x_n)
      then shift the running statistics away from what the first call sees.
    """
    if statistics not in BRANCH_STATISTICS:
        raise ValueError(f"statistics must be one of {BRANCH_STATISTICS}, got {statistics!r}")
    norms = [m for m in _batch_norms(branch) if m.training]
    if not norms or statistics == "each":
        yield branch
        return
    calls = 0
    recorded: dict[nn.Module, tuple[Tensor, Tensor]] = {}

    def record(norm, inputs):
        x = inputs[0]
        dims = [0, *range(2, x.dim())]
        recorded[norm] = (x.mean(dims), x.var(dims, unbiased=False))

    def fixed(x: Tensor) -> Tensor:
        nonlocal calls
        calls += 1
        if calls > 1:
            return branch(x)
        hooks = [m.register_forward_pre_hook(record) for m in norms] if statistics == "first" else []
        try:
            out = branch(x)
        finally:
            for hook in hooks:
                hook.remove()
        for m in norms:  # the later calls: one fixed f_n
            if statistics == "first":
                m.forward = _normalise_with(m, *recorded[m])
            else:
                m.training = False
        return out

    try:
        yield fixed
    finally:
        for m in norms:  # every one was in training mode on entry
            m.__dict__.pop("forward", None)
            m.training = True
