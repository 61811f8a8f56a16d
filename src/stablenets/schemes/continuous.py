"""The continuous family on torchdiffeq: the plain neural ODE as a scheme, and SONet's skew block.

**The neural ODE scheme** (``"ode"``, Chen et al. 2018) is the continuous limit of explicit Euler
over the same backbones: where Euler takes x_{n+1} = x_n + h·f_n(x_n), block n integrates

    dx/dt = f_n(x),   x(0) = x_n,   x_{n+1} = x(T),

with f_n the block's residual branch, so every backbone also makes a neural ODE network. A block
that changes shape takes the explicit Euler step s_n(x_n) + f_n(x_n) (f_n cannot be integrated
between two shapes). ODENet (paper D, D-table2) is this scheme on its own backbone.

**SONet's skew-symmetric block** (Huang et al. 2021, "Adversarial robustness of stabilized neural
ODEs might be from obfuscated gradients", eq 3) is a block type, not a scheme: it integrates a
coupled state (x, z) whose two parts have different shapes,

    dz/dt = σ(K·x − γ·z),    dx/dt = σ(−Kᵀ·z − γ·x),    t ∈ [0, T],
    x(0) = x_k,  z(0) = z_k,  output z(T),

K a bias-free convolution (or, in the classification block, a linear map) and Kᵀ its adjoint:
the transposed convolution with the *same* kernel parameter. With σ the identity and γ = 0 the
vector field is [[0, −Kᵀ], [K, 0]]·(x, z), a skew-symmetric matrix, so the flow preserves
‖(x, z)‖; with γ > 0 it never increases it (D Theorem 3.1). A stride-2 K makes the block
downsample.

Decisions where paper D is silent, from the authors' public code (yao-lab/SONet,
``models/misc.py``):

- σ is LeakyReLU with slope 0.01 (PyTorch's default, which that code uses).
- Normalisation: GroupNorm with min(8, C) groups on both states before K and Kᵀ, and on both
  outputs after σ (D Fig. 2 draws the GroupNorm ahead of the convolutions). ``norm=False``
  gives the bare field of eq 3, for which Theorem 3.1 holds.
- K is 3×3 (padding 1) at stride 1 and 4×4 (padding 1) at stride 2.
- Feature blocks start from z(0) = x_k (D §4, "We set the initial condition z_k as x_k"),
  channel-copied (repeated cyclically) up or cut down to the output channels and resampled to
  the output size by nearest-neighbour interpolation where the shapes differ, as that code does;
  ``z0="zero"`` starts from 0 instead (the proof of Theorem 3.1 names both).
- The classification block starts from z(0) = 1 (D §4, "We set the initial condition z_k =
  z(0) as 1"); the authors' code uses 0.1; ``class_z0`` is the setting.

:class:`ODESettings` holds the solver (euler, rk4 — torchdiffeq's rk4 is the 3/8 rule —,
adaptive_heun, bosh3, dopri5), rtol/atol, the integration time T, the fixed step size of
fixed-grid solvers, the adjoint method, and recording of accepted step times and function
evaluations per forward pass. Its defaults are paper D's (§5.1: "DOPRI5 solver … with 0.1 error
tolerance", T = 1 in the authors' code). Adaptive solvers can mask gradients, more so at a large
tolerance (D-table2, §6): evaluate these models with the gradient-free and transfer attacks too.
The adjoint method re-solves the ODE backwards in time; with LeakyReLU's kink its gradients
differ from direct backpropagation by about 1e-3 relative (with a smooth field they agree to
solver tolerance), so direct backpropagation is the default.
"""
from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, replace
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stablenets.schemes.base import BRANCH_STATISTICS, ResidualBlock, Scheme, SchemeStep, repeated_branch
from stablenets.settings import SettingError, check, setting, validate

SOLVERS = ("euler", "rk4", "adaptive_heun", "bosh3", "dopri5")
FIXED_GRID = ("euler", "rk4")
SOLVER_ORDER = {"euler": 1, "rk4": 4, "adaptive_heun": 2, "bosh3": 3, "dopri5": 5}
FEATURE_Z0 = ("input", "zero")
LEAKY_SLOPE = 0.01


@dataclass(frozen=True)
class ODESettings:
    """How an ODE block integrates; checked on construction (a :class:`~stablenets.settings.SettingError`)."""

    solver: str = setting("dopri5", "torchdiffeq method", choices=SOLVERS)
    rtol: float = setting(0.1, "relative tolerance of adaptive solvers (paper D: 0.1)", gt=0)
    atol: float = setting(0.1, "absolute tolerance of adaptive solvers (paper D: 0.1)", gt=0)
    t1: float = setting(1.0, "integration time T", gt=0)
    step_size: float = setting(1.0, "step of the fixed-grid solvers (euler, rk4; paper D §6.1.1: h = 1)", gt=0)
    adjoint: bool = setting(False, "gradients by the adjoint method instead of backpropagation",
                            choices=(False, True))
    record_steps: bool = setting(False, "record accepted step times on every forward pass", choices=(False, True))
    land_on_t1: bool = setting(True, "adaptive solvers: force a step to end exactly at T (torchdiffeq's step_t); "
                               "false: plain odeint, which steps past T and interpolates back (paper D's code)",
                               choices=(False, True))

    def __post_init__(self):
        validate(self, "ode")


def ode_settings(settings: ODESettings | dict | None) -> ODESettings:
    """An :class:`ODESettings` from itself, a dict of its fields, or None (paper D's defaults)."""
    if isinstance(settings, ODESettings):
        return settings
    return ODESettings(**(settings or {}))


class VectorField(nn.Module):
    """The right-hand side handed to torchdiffeq; counts evaluations and records accepted steps."""

    def __init__(self):
        super().__init__()
        self.nfe = 0
        self.record_steps = False
        self.fixed_grid = False
        self.step_times: list[Tensor] = []

    def reset(self, record_steps: bool, fixed_grid: bool) -> None:
        self.nfe = 0
        self.record_steps = record_steps
        self.fixed_grid = fixed_grid
        self.step_times = []

    def forward(self, t: Tensor, state):
        self.nfe += 1
        return self.evaluate(state)

    def evaluate(self, state):
        raise NotImplementedError

    def callback_step(self, t0, y0, dt):  # fixed-grid solvers: every step is accepted
        if self.record_steps and self.fixed_grid:
            self.step_times.append((t0 + dt).detach())

    def callback_accept_step(self, t0, y0, dt):
        if self.record_steps and not self.fixed_grid:
            self.step_times.append((t0 + dt).detach())


def integrate(field: VectorField, state, s: ODESettings):
    """The state at T of dstate/dt = field(state), state(0) = ``state`` (a tensor or a tuple)."""
    import torchdiffeq

    field.reset(s.record_steps, s.solver in FIXED_GRID)
    first = state[0] if isinstance(state, tuple) else state
    t = torch.tensor([0.0, s.t1], device=first.device, dtype=first.dtype)
    # Adaptive solvers would step past T and interpolate back; step_t makes them land on T.
    if s.solver in FIXED_GRID:
        options = {"step_size": s.step_size}
    else:
        options = {"step_t": t[1:]} if s.land_on_t1 else {}
    solve = torchdiffeq.odeint_adjoint if s.adjoint else torchdiffeq.odeint
    extra = {"adjoint_params": tuple(field.parameters())} if s.adjoint else {}
    with warnings.catch_warnings():  # fixed-grid solvers report steps through callback_step instead
        warnings.filterwarnings("ignore", message="Solver .* does not support callbacks")
        out = solve(field, state, t, rtol=s.rtol, atol=s.atol, method=s.solver, options=options, **extra)
    return tuple(o[-1] for o in out) if isinstance(out, tuple) else out[-1]


class ODEBlock(nn.Module):
    """A module that integrates ``self.field`` over [0, T] with its :class:`ODESettings`."""

    def __init__(self, field: VectorField, settings: ODESettings | dict | None):
        super().__init__()
        self.field = field
        self.settings = ode_settings(settings)

    def integrate(self, state):
        return integrate(self.field, state, self.settings)

    def last_solve(self) -> dict:
        """Function evaluations and accepted step end times of the last forward pass."""
        times = torch.stack(self.field.step_times).cpu().tolist() if self.field.step_times else []
        return {"nfe": self.field.nfe, "step_times": times, **asdict(self.settings)}


# ----------------------------------------------------------------------------- the neural ODE scheme

class BranchField(VectorField):
    """dx/dt = f_n(x) for a residual branch f_n; the branch is lent for one solve (it belongs to its block)."""

    def __init__(self):
        super().__init__()
        self.call = None

    def evaluate(self, x):
        return self.call(x)


class ODEStep(SchemeStep, ODEBlock):
    def __init__(self, settings: ODESettings, statistics: str):
        ODEBlock.__init__(self, BranchField(), settings)
        self.statistics = statistics

    def forward(self, block: ResidualBlock, x: Tensor, history: Sequence[Tensor]) -> Tensor:
        with repeated_branch(block.branch, self.statistics) as f:
            if not block.same_shape:
                return history[0] + f(x)
            self.field.call = f
            try:
                return self.integrate(x)
            finally:
                self.field.call = None


@dataclass(repr=False, init=False)
class NeuralODE(Scheme):
    """x_{n+1} = x(T) of dx/dt = f_n(x), x(0) = x_n; shape-changing blocks take the Euler step.

    Settings: the fields of :class:`ODESettings` (by their own names), and ``statistics``: how a
    branch's BatchNorm layers treat the many evaluations of one solve (see
    :func:`~stablenets.schemes.base.repeated_branch`; default ``"first"``, the batch statistics of
    the first evaluation in training).
    """

    name = "ode"
    explicit = True
    n_history = 1

    ode: ODESettings = setting(default_factory=ODESettings, help="how every block integrates")
    statistics: str = setting("first", "BatchNorm statistics of the later branch calls of one solve",
                              choices=BRANCH_STATISTICS)

    def __init__(self, ode: ODESettings | None = None, statistics: str = "first", **ode_fields):
        """``NeuralODE(solver="rk4", step_size=0.1)``: the ODESettings fields may be given by their own names."""
        self.ode = replace(ode or ODESettings(), **ode_fields)
        self.statistics = statistics
        self.__post_init__()

    def __post_init__(self):
        super().__post_init__()
        if self.ode.adjoint:  # the adjoint's backward solve would run after the branch's BatchNorm rule ended
            raise SettingError("ode.adjoint = True: the ode scheme backpropagates through the solver directly "
                               "(accepted: False)")

    @property
    def order(self) -> int:
        """The order of the solver (adaptive solvers: the order of the solution they propagate)."""
        return SOLVER_ORDER[self.ode.solver]

    def make_step(self, index: int, block: ResidualBlock) -> SchemeStep:
        return ODEStep(self.ode, self.statistics)


# ----------------------------------------------------------------------------- SONet's skew blocks

def channel_copy(x: Tensor, channels: int) -> Tensor:
    """Repeat the channels cyclically up to ``channels``, or keep the first ``channels`` (D §4's channel copy)."""
    reps = -(-channels // x.shape[1])
    return x.repeat(1, reps, *([1] * (x.dim() - 2)))[:, :channels]


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with min(8, C) groups, as the authors' SONet code normalises."""
    return nn.GroupNorm(min(8, channels), channels)


def _sigma(v: Tensor, negative_slope: float | None) -> Tensor:
    return v if negative_slope is None else F.leaky_relu(v, negative_slope)


class SkewConvField(VectorField):
    """(dx, dz) = (σ(−Kᵀz − γx), σ(Kx − γz)) with K a bias-free convolution (3×3, or 4×4 at stride 2).

    ``skew=False`` drops the constraint W⁽²⁾ = −W⁽¹⁾ᵀ of D eq 4: dx/dt = σ(W⁽²⁾z − γx) with W⁽²⁾ a
    transposed convolution of its own kernel (``kernel_back``), the unconstrained block of D eq 3
    (D §6.1.1's "ODENet … without using the skew-symmetric stabilization").
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, gamma: float,
                 negative_slope: float | None, norm: bool, skew: bool = True):
        super().__init__()
        check("stride", stride, choices=(1, 2))
        self.skew = bool(check("skew", skew, choices=(True, False)))
        size = 4 if stride == 2 else 3
        self.kernel = nn.Parameter(torch.empty(out_channels, in_channels, size, size))
        nn.init.kaiming_uniform_(self.kernel, a=5 ** 0.5)
        if not skew:
            self.kernel_back = nn.Parameter(torch.empty(out_channels, in_channels, size, size))
            nn.init.kaiming_uniform_(self.kernel_back, a=5 ** 0.5)
        self.stride = stride
        self.gamma = float(check("gamma", gamma, ge=0))
        self.negative_slope = negative_slope
        norms = [group_norm(c) if norm else nn.Identity() for c in (in_channels, out_channels) * 2]
        self.norm_x, self.norm_z, self.norm_dx, self.norm_dz = norms

    def apply_k(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.kernel, stride=self.stride, padding=1)

    def apply_k_transpose(self, z: Tensor, x_shape: torch.Size, kernel: Tensor | None = None) -> Tensor:
        """The adjoint of ``apply_k``: the transposed convolution with the same kernel (or ``kernel``)."""
        size = self.kernel.shape[-1]
        pad = tuple(x_shape[d] - ((z.shape[d] - 1) * self.stride - 2 + size) for d in (-2, -1))
        return F.conv_transpose2d(z, self.kernel if kernel is None else kernel, stride=self.stride, padding=1,
                                  output_padding=pad)

    def apply_w2(self, z: Tensor, x_shape: torch.Size) -> Tensor:
        """W⁽²⁾z of D eq 3: −Kᵀz (skew, D eq 4), or the transposed convolution with ``kernel_back``."""
        if self.skew:
            return -self.apply_k_transpose(z, x_shape)
        return self.apply_k_transpose(z, x_shape, self.kernel_back)

    def output_size(self, x: Tensor) -> tuple[int, int]:
        size = self.kernel.shape[-1]
        return tuple((x.shape[d] + 2 - size) // self.stride + 1 for d in (-2, -1))

    def evaluate(self, state):
        x, z = state
        x_in, z_in = self.norm_x(x), self.norm_z(z)
        dz = _sigma(self.apply_k(x_in) - self.gamma * z_in, self.negative_slope)
        dx = _sigma(self.apply_w2(z_in, x.shape) - self.gamma * x_in, self.negative_slope)
        return self.norm_dx(dx), self.norm_dz(dz)


class SkewODEBlock(ODEBlock):
    """SONet's feature block f_ODENet-k: x(0) = input (C_in, H, W), z(0) per ``z0``, output z(T) (C_out, H/s, W/s)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, gamma: float = 0.0,
                 negative_slope: float | None = LEAKY_SLOPE, norm: bool = True, z0: str = "input",
                 settings: ODESettings | dict | None = None, skew: bool = True):
        super().__init__(SkewConvField(in_channels, out_channels, stride, gamma, negative_slope, norm, skew),
                         settings)
        self.z0 = check("z0", z0, choices=FEATURE_Z0)
        self.in_channels, self.out_channels = in_channels, out_channels

    def initial_z(self, x: Tensor) -> Tensor:
        size = self.field.output_size(x)
        if self.z0 == "zero":
            return x.new_zeros(x.shape[0], self.out_channels, *size)
        z = F.interpolate(x, size=size, mode="nearest") if tuple(x.shape[-2:]) != size else x
        return channel_copy(z, self.out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.integrate((x, self.initial_z(x)))[1]


class SkewLinearField(VectorField):
    """(dx, dz) = (σ(−Wᵀz − γx + b_x), σ(Wx − γz + b_z)) with W a linear map."""

    def __init__(self, in_features: int, num_classes: int, gamma: float, negative_slope: float | None,
                 bias: bool, sigma_first: bool = False):
        super().__init__()
        self.sigma_first = bool(check("class_sigma_first", sigma_first, choices=(False, True)))
        self.weight = nn.Parameter(torch.empty(num_classes, in_features))
        nn.init.kaiming_uniform_(self.weight, a=5 ** 0.5)
        if bias:
            bound = in_features ** -0.5
            self.bias_x = nn.Parameter(torch.empty(in_features).uniform_(-bound, bound))
            self.bias_z = nn.Parameter(torch.empty(num_classes).uniform_(-bound, bound))
        else:
            self.bias_x = self.bias_z = None
        self.gamma = float(check("gamma", gamma, ge=0))
        self.negative_slope = negative_slope

    def evaluate(self, state):
        x, z = state
        if self.sigma_first:  # the authors' code: σ on the states, then the linear maps (no σ outside)
            dz = F.linear(_sigma(x, self.negative_slope), self.weight, self.bias_z) - self.gamma * z
            dx = F.linear(_sigma(z, self.negative_slope), -self.weight.t(), self.bias_x) - self.gamma * x
            return dx, dz
        dz = F.linear(x, self.weight, self.bias_z) - self.gamma * z
        dx = F.linear(z, -self.weight.t(), self.bias_x) - self.gamma * x
        return _sigma(dx, self.negative_slope), _sigma(dz, self.negative_slope)


class SkewLinearODEClassifier(ODEBlock):
    """SONet's classification block f_ODENet-class: x(0) = pooled features, z(0) = ``z0``·1, logits = z(T).

    The biases are the authors' code's (D's footnote 1: the analysis holds with biases too).
    """

    def __init__(self, in_features: int, num_classes: int, gamma: float = 0.0, z0: float = 1.0,
                 negative_slope: float | None = LEAKY_SLOPE, bias: bool = True,
                 settings: ODESettings | dict | None = None, sigma_first: bool = False):
        super().__init__(SkewLinearField(in_features, num_classes, gamma, negative_slope, bias, sigma_first),
                         settings)
        self.z0 = float(check("class_z0", z0))
        self.num_classes = num_classes

    def initial_z(self, x: Tensor) -> Tensor:
        return x.new_full((x.shape[0], self.num_classes), self.z0)

    def forward(self, x: Tensor) -> Tensor:
        x = x.flatten(1)
        return self.integrate((x, self.initial_z(x)))[1]


def ode_blocks(model: nn.Module) -> list[ODEBlock]:
    """Every continuous block of a model, in order (skew blocks and the neural ODE scheme's steps)."""
    return [m for m in model.modules() if isinstance(m, ODEBlock)]

