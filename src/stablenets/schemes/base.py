"""The scheme side of "backbone × scheme": stepping a chain of residual blocks.

A backbone supplies a flat chain of :class:`ResidualBlock` s; block n has a
residual branch f_n and a shortcut s_n (the identity, or a projection where the
shape changes). A scheme decides how the history of states and the branch
output make the next state,

    x_{n+1} = Φ_n(s_n⁰(x_n), s_n¹(x_{n−1}), …, f_n(x_n)).

:class:`SchemeTrunk` owns the stepping and the history, in one place
(:meth:`SchemeTrunk.run`): it keeps the last ``n_history`` states, projects
every history term j through the block's own projection s_n^j when the shape
changes (so multistep schemes carry their whole history across stage
transitions, each term with its own down-sampling as paper E Fig. 3 draws it),
and calls one :class:`SchemeStep` per block. The forward pass, the recorded
block states of the analyses and the block-range maps of the Jacobian analysis
all call ``run``.

The scheme contract. A scheme is a dataclass whose settings are
:func:`stablenets.settings.setting` fields (each with its valid range, checked
when the scheme is made, so a bad value is one :class:`SettingError` before any
work); the registry routes ``create_model`` overrides to a scheme by these
fields, and ``settings()`` is read off them. A scheme subclass writes how one
block steps (``SchemeStep.forward``, built by ``make_step``) and declares

- ``order``: the order of consistency p of the step as a discretisation of
  dx/dt = g(x) with step h (local error O(h^{p+1}); 0 means inconsistent: the
  iterates do not converge to the ODE's solution as h → 0);
- ``explicit``: whether x_{n+1} is given by evaluations at known states only;
- ``n_history``: how many past states the step reads.

Evaluating a branch several times within one step (IE-skip's inner iterates, weight sharing's
repeats, an ODE solver's stages) goes through :func:`repeated_branch`, which decides what the
branch's BatchNorm layers do on the later calls.

Both facts are checked by ``tests/test_schemes_numerics.py`` (a float64
gradcheck of a block step and an empirical convergence order on a linear ODE
with an exact solution, for every scheme). Each block owns its step module, so
learnable per-block coefficients (λ_n, h_n, k_n) live beside their block.
"""
from __future__ import annotations

import copy
import dataclasses
import weakref
from contextlib import contextmanager
from typing import Callable, ClassVar, Iterator, Sequence

import torch
from torch import Tensor, nn

from stablenets.settings import validate


class ResidualBlock(nn.Module):
    """One residual branch f_n with its shortcut s_n.

    ``shortcut`` is None when input and output shapes agree (s_n is the
    identity); otherwise it projects the newest history term. A scheme that
    reads ``k`` history terms gets ``k − 1`` more projections of the same kind,
    one per older term, freshly initialised (:meth:`add_history_projections`).
    ``after`` (None: nothing) is applied to the scheme's step, x_{n+1} = after(Φ_n(…)): the ReLU
    after the addition of the original post-activation ResNet (He et al. 2016a).
    """

    def __init__(self, branch: nn.Module, shortcut: nn.Module | None, in_channels: int, out_channels: int,
                 after: nn.Module | None = None):
        super().__init__()
        self.branch = branch
        self.shortcut = shortcut
        self.after = after
        self.history_shortcuts = nn.ModuleList()
        self.in_channels = in_channels
        self.out_channels = out_channels

    @property
    def same_shape(self) -> bool:
        return self.shortcut is None

    def add_history_projections(self, n_history: int) -> None:
        """Give every history term beyond the newest its own projection (only where the shape changes)."""
        if self.shortcut is None:
            return
        while 1 + len(self.history_shortcuts) < n_history:
            extra = copy.deepcopy(self.shortcut)
            for module in extra.modules():
                if hasattr(module, "reset_parameters"):
                    module.reset_parameters()
            self.history_shortcuts.append(extra)

    def project(self, x: Tensor, term: int = 0) -> Tensor:
        """s_n^term(x): history term ``term`` (0 = x_n) in the block's output shape."""
        if self.shortcut is None:
            return x
        return self.shortcut(x) if term == 0 else self.history_shortcuts[term - 1](x)


class SchemeStep(nn.Module):
    """How one block makes x_{n+1} from the (projected) history and its branch.

    ``forward(block, x, history)``: ``x`` is x_n in the block's input shape,
    ``history`` is ``[s_n⁰(x_n), s_n¹(x_{n−1}), …]`` (newest first, at most
    ``n_history`` terms, fewer for the first blocks of the chain).
    """

    def forward(self, block: ResidualBlock, x: Tensor, history: Sequence[Tensor]) -> Tensor:
        raise NotImplementedError

    def coefficients(self) -> dict[str, Tensor]:
        """The effective scheme coefficients of this block (after any activation), detached."""
        return {}


def _plain(value):
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


@dataclasses.dataclass
class Scheme:
    """A numerical method: a factory of per-block :class:`SchemeStep` s plus its facts.

    Subclasses are dataclasses whose fields are the settings (see the module docstring).
    """

    name: ClassVar[str] = ""
    order: ClassVar[int] = 1
    explicit: ClassVar[bool] = True
    n_history: ClassVar[int] = 1

    def __post_init__(self):
        validate(self, f"scheme {self.name}" if self.name else "scheme")

    @staticmethod
    def _group(f: dataclasses.Field):
        """The default of a field that is itself a settings dataclass (a group such as ODESettings), else None."""
        if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
            if dataclasses.is_dataclass(default):
                return default
        return None

    @classmethod
    def setting_names(cls) -> list[str]:
        """The scheme's settings: its dataclass fields, with a group's fields in place of the group."""
        names = []
        for f in dataclasses.fields(cls):
            group = cls._group(f)
            names.extend([g.name for g in dataclasses.fields(group)] if group is not None else [f.name])
        return names

    @classmethod
    def from_settings(cls, **settings) -> "Scheme":
        """The scheme from flat settings (a group's fields given by their own names)."""
        kwargs = {}
        for f in dataclasses.fields(cls):
            group = cls._group(f)
            if group is None:
                if f.name in settings:
                    kwargs[f.name] = settings[f.name]
                continue
            sub = {g.name: settings[g.name] for g in dataclasses.fields(group) if g.name in settings}
            kwargs[f.name] = dataclasses.replace(group, **sub) if sub else group
        return cls(**kwargs)

    def make_step(self, index: int, block: ResidualBlock) -> SchemeStep:
        raise NotImplementedError

    def make_steps(self, blocks: Sequence[ResidualBlock]) -> list[SchemeStep]:
        """One step per block of the whole chain; a scheme whose steps depend on where a block sits in the
        network (IE-skip's ``flip_last_stage``) overrides this."""
        return [self.make_step(i, b) for i, b in enumerate(blocks)]

    def settings(self) -> dict:
        """The scheme's settings (flat, a group's fields by their own names), JSON-friendly, for checkpoints."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if dataclasses.is_dataclass(value):
                out.update({k: _plain(v) for k, v in dataclasses.asdict(value).items()})
            else:
                out[f.name] = _plain(value)
        return out

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.settings().items())
        return f"{type(self).__name__}({args})"


class SchemeTrunk(nn.Module):
    """Runs a chain of residual blocks under one scheme, keeping the state history."""

    def __init__(self, blocks: Sequence[ResidualBlock], scheme: Scheme):
        super().__init__()
        self.scheme = scheme
        self.n_history = scheme.n_history
        for index, block in enumerate(blocks):  # block n reads at most n + 1 terms
            block.add_history_projections(min(index + 1, self.n_history))
        self.blocks = nn.ModuleList(blocks)
        self.steps = nn.ModuleList(scheme.make_steps(blocks))

    def run(self, history: Sequence[Tensor], start: int = 0, stop: int | None = None,
            record: list | None = None) -> list[Tensor]:
        """Step blocks ``start … stop−1`` from ``history`` (the unprojected states [x_start, x_{start−1}, …],
        newest first); return the history after the last block. With ``record`` (a list), the
        history entering every block is appended to it."""
        history = list(history)
        stop = len(self.blocks) if stop is None else stop
        for block, step in zip(self.blocks[start:stop], self.steps[start:stop]):
            if record is not None:
                record.append(list(history))
            projected = history if block.same_shape else [block.project(h, j) for j, h in enumerate(history)]
            out = step(block, history[0], projected)
            if block.after is not None:
                out = block.after(out)
            history = [out, *projected[: self.n_history - 1]]
        return history

    def forward(self, x: Tensor) -> Tensor:
        return self.run([x])[0]


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
