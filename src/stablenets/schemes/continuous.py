"""Continuous ODE blocks on torchdiffeq: SONet's skew-symmetric block and a plain neural ODE.

SONet (Huang et al. 2021, "Adversarial robustness of stabilized neural ODEs
might be from obfuscated gradients") integrates a coupled state (x, z),

    dz/dt = σ(K·x − γ·z),    dx/dt = σ(−Kᵀ·z − γ·x),    t ∈ [0, T],

K a bias-free convolution (or, in the linear classification block, a linear
map) and Kᵀ its adjoint: the transposed convolution with the *same* kernel
parameter. With σ the identity and γ = 0 the vector field is
[[0, −Kᵀ], [K, 0]]·(x, z), a skew-symmetric matrix, so the flow preserves
‖(x, z)‖. σ is LeakyReLU (strictly increasing); γ ≥ 0 damps (default 0 as in
the paper, exposed here). The block maps x(0) = input to z(T); a stride-2 K
makes the block downsample. The linear classification block starts from a
constant z(0) and returns z(T) as the logits.

The plain neural ODE block (ODENet) integrates dx/dt = f(x) with
f = GroupNorm–ReLU–conv–GroupNorm–ReLU–conv (Chen et al. 2018).

Settings (:class:`ODESettings`): the solver (euler, rk4 — torchdiffeq's rk4 is
the 3/8 rule —, adaptive_heun, bosh3, dopri5), rtol/atol, the integration time
T, the fixed step size of fixed-grid solvers, the adjoint method, and recording
of accepted step times and function evaluations per forward pass. Adaptive
solvers can mask gradients (paper D): evaluate these models with the
gradient-free and transfer attacks too. The adjoint method re-solves the ODE
backwards in time; with LeakyReLU's kink its gradients differ from direct
backpropagation by about 1e-3 relative (with a smooth field they agree to
solver tolerance), so direct backpropagation is the default.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SOLVERS = ("euler", "rk4", "adaptive_heun", "bosh3", "dopri5")
FIXED_GRID = ("euler", "rk4")


@dataclass
class ODESettings:
    solver: str = "dopri5"
    rtol: float = 1e-3
    atol: float = 1e-3
    t1: float = 1.0
    step_size: float = 0.25
    adjoint: bool = False
    record_steps: bool = False

    def __post_init__(self):
        if self.solver not in SOLVERS:
            raise ValueError(f"unknown ODE solver {self.solver!r}; choose one of {list(SOLVERS)}")
        if not self.t1 > 0:
            raise ValueError(f"integration time t1 must be positive, got {self.t1}")


def channel_copy_lift(x: Tensor, channels: int) -> Tensor:
    """Repeat the input channels cyclically up to ``channels`` (SONet's input lift)."""
    reps = -(-channels // x.shape[1])
    return x.repeat(1, reps, *([1] * (x.dim() - 2)))[:, :channels]


class ChannelLift(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels

    def forward(self, x: Tensor) -> Tensor:
        return channel_copy_lift(x, self.channels)


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm without affine parameters, with as many groups (≤ 32) as divide the channels."""
    return nn.GroupNorm(math.gcd(32, channels), channels, affine=False)


class VectorField(nn.Module):
    """The right-hand side handed to torchdiffeq; counts evaluations and records accepted steps."""

    def __init__(self):
        super().__init__()
        self.nfe = 0
        self.record_steps = False
        self.step_times: list[Tensor] = []

    def reset(self, record_steps: bool) -> None:
        self.nfe = 0
        self.record_steps = record_steps
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


class ODEBlock(nn.Module):
    """Integrates ``self.field`` over [0, T] with the block's :class:`ODESettings`."""

    def __init__(self, field: VectorField, settings: ODESettings | None):
        super().__init__()
        self.field = field
        self.settings = settings or ODESettings()

    def integrate(self, state):
        import torchdiffeq

        s = self.settings
        self.field.reset(s.record_steps)
        self.field.fixed_grid = s.solver in FIXED_GRID
        first = state[0] if isinstance(state, tuple) else state
        t = torch.tensor([0.0, s.t1], device=first.device, dtype=first.dtype)
        # Adaptive solvers would step past T and interpolate back; step_t makes them land on T.
        options = {"step_size": s.step_size} if s.solver in FIXED_GRID else {"step_t": t[1:]}
        with warnings.catch_warnings():  # fixed-grid solvers report steps through callback_step instead
            warnings.filterwarnings("ignore", message="Solver .* does not support callbacks")
            out = self._solve(torchdiffeq, state, t, options)
        return tuple(o[-1] for o in out) if isinstance(out, tuple) else out[-1]

    def _solve(self, torchdiffeq, state, t, options):
        s = self.settings
        if s.adjoint:
            return torchdiffeq.odeint_adjoint(self.field, state, t, rtol=s.rtol, atol=s.atol, method=s.solver,
                                              options=options, adjoint_params=tuple(self.field.parameters()))
        return torchdiffeq.odeint(self.field, state, t, rtol=s.rtol, atol=s.atol, method=s.solver, options=options)

    def last_solve(self) -> dict:
        """Function evaluations and accepted step end times of the last forward pass."""
        times = torch.stack(self.field.step_times).cpu().tolist() if self.field.step_times else []
        return {"nfe": self.field.nfe, "step_times": times, **asdict(self.settings)}


def _leaky(v: Tensor, negative_slope: float | None) -> Tensor:
    return v if negative_slope is None else F.leaky_relu(v, negative_slope)


class SkewConvField(VectorField):
    """(dx, dz) = (σ(−Kᵀz − γx), σ(Kx − γz)) with K a bias-free 3×3 convolution."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, gamma: float,
                 negative_slope: float | None, norm: bool):
        super().__init__()
        self.kernel = nn.Parameter(torch.empty(out_channels, in_channels, 3, 3))
        nn.init.kaiming_uniform_(self.kernel, a=5 ** 0.5)
        self.stride = stride
        self.gamma = float(gamma)
        self.negative_slope = negative_slope
        self.norm_z = group_norm(out_channels) if norm else nn.Identity()
        self.norm_x = group_norm(in_channels) if norm else nn.Identity()

    def apply_k(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.kernel, stride=self.stride, padding=1)

    def apply_k_transpose(self, z: Tensor, x_shape: torch.Size) -> Tensor:
        """The adjoint of ``apply_k``: the transposed convolution with the same kernel."""
        pad = tuple(x_shape[d] - ((z.shape[d] - 1) * self.stride + 1) for d in (-2, -1))
        return F.conv_transpose2d(z, self.kernel, stride=self.stride, padding=1, output_padding=pad)

    def evaluate(self, state):
        x, z = state
        dz = _leaky(self.norm_z(self.apply_k(x)) - self.gamma * z, self.negative_slope)
        dx = _leaky(self.norm_x(-self.apply_k_transpose(z, x.shape)) - self.gamma * x, self.negative_slope)
        return dx, dz


class SkewODEBlock(ODEBlock):
    """SONet's skew-symmetric block: x(0) = input (C_in, H, W), z(0) = 0, output z(T) (C_out, H/s, W/s)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, gamma: float = 0.0,
                 negative_slope: float | None = 0.2, norm: bool = True, settings: ODESettings | None = None):
        super().__init__(SkewConvField(in_channels, out_channels, stride, gamma, negative_slope, norm), settings)

    def forward(self, x: Tensor) -> Tensor:
        f = self.field
        h = (x.shape[-2] - 1) // f.stride + 1
        w = (x.shape[-1] - 1) // f.stride + 1
        z0 = x.new_zeros(x.shape[0], f.kernel.shape[0], h, w)
        return self.integrate((x, z0))[1]


class SkewLinearField(VectorField):
    """(dx, dz) = (σ(−Wᵀz − γx), σ(Wx − γz)) with W a bias-free linear map."""

    def __init__(self, in_features: int, num_classes: int, gamma: float, negative_slope: float | None):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_classes, in_features))
        nn.init.kaiming_uniform_(self.weight, a=5 ** 0.5)
        self.gamma = float(gamma)
        self.negative_slope = negative_slope

    def evaluate(self, state):
        x, z = state
        dz = _leaky(x @ self.weight.t() - self.gamma * z, self.negative_slope)
        dx = _leaky(-(z @ self.weight) - self.gamma * x, self.negative_slope)
        return dx, dz


class SkewLinearODEClassifier(ODEBlock):
    """SONet's linear classification block: z(0) = a constant vector, logits = z(T)."""

    def __init__(self, in_features: int, num_classes: int, gamma: float = 0.0, z0: float = 0.0,
                 negative_slope: float | None = 0.2, settings: ODESettings | None = None):
        super().__init__(SkewLinearField(in_features, num_classes, gamma, negative_slope), settings)
        self.z0 = float(z0)

    def forward(self, x: Tensor) -> Tensor:
        x = x.flatten(1)
        z0 = x.new_full((x.shape[0], self.field.weight.shape[0]), self.z0)
        return self.integrate((x, z0))[1]


class ConvField(VectorField):
    """f(x) = conv(ReLU(GN(conv(ReLU(GN(x)))))), the plain neural ODE's field."""

    def __init__(self, channels: int):
        super().__init__()
        self.net = nn.Sequential(
            group_norm(channels), nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1),
            group_norm(channels), nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1),
        )

    def evaluate(self, x):
        return self.net(x)


class PlainODEBlock(ODEBlock):
    """A neural ODE block dx/dt = f(x); the output is x(T)."""

    def __init__(self, channels: int, settings: ODESettings | None = None):
        super().__init__(ConvField(channels), settings)

    def forward(self, x: Tensor) -> Tensor:
        return self.integrate(x)


def ode_blocks(model: nn.Module) -> list[ODEBlock]:
    """Every continuous block of a model, in order."""
    return [m for m in model.modules() if isinstance(m, ODEBlock)]
