"""Linear multistep residual networks: PreResNet-α, LM-ResNet, ZeroSNet.

    x_{n+1} = α0·x_n + α1·x_{n−1} + α2·x_{n−2} + β·h·f_n(x_n)

with 1, 2 or 3 steps (Chen, Jin, Shang, AAAI 2022 "Zero-stable deep neural
networks"; Lu et al., ICML 2018 "Beyond finite layer neural networks").

- PreResNet-α: one step, x_{n+1} = α·x_n + h·f_n(x_n).
- LM-ResNet: x_{n+1} = (1 − k_n)·x_n + k_n·x_{n−1} + β·f_n(x_n), β = 1 and k_n
  learnable per block, k_n ~ U[−0.1, 0] (Lu et al.); or the consistent form
  with one shared fixed k, β = (1 + k)·h (see below).
- ZeroSNet(λ): α0 = 3(1+λ)/(4λ), α1 = −1/λ, α2 = (1+λ)/(4λ), β = (3λ−1)/(2λ)
  (paper E eq 10, :func:`stablenets.stability.zerosnet_coefficients`): consistent of
  order 2 for every λ ≠ 0. ZeroSNet-Opt fixes (1/3, 5/9, 1/9, 16/9), λ = −9/5.
- ZeroSNet-Tra learns λ_n per block (from the third block on), starting at 1 (paper E
  §5.6). Eq 10 divides by λ_n, and a learned λ_n can cross 0. The guard, by default
  (``tra_parametrisation="lambda"``, the paper's parameter): the coefficients use
  sign(λ_n)·max(|λ_n|, ``lambda_floor``), so they stay finite; inside the floor λ_n
  gets no gradient and stays there. The alternative ``tra_parametrisation="inverse"``
  learns μ_n = 1/λ_n, in which the coefficients are affine and defined for every
  finite μ_n (λ_n = 0 is μ_n = ±∞, never reached); its forward pass at the start
  (λ_n = 1) is the paper's, its gradient steps move μ_n instead of λ_n.
- Any tuple (α0, …, α_{k−1}, β) from the configuration.

Consistency (order ≥ 1): Σ α_j = 1 and β = 1 + Σ_j j·α_j; for the two-step
form above that is β = 1 + k. ``order`` is the order of consistency of the fixed
coefficients (:func:`stablenets.stability.consistency_order`): 2 for ZeroSNet, 1
for the ResNet and the consistent LM-ResNet, 0 for PreResNet-α with α ≠ 1 and for
paper E's eq 8 with β = (2k + 1)h (consistent only at k = 0). Learned k_n
(β = 1) is inconsistent unless k_n = 0: order 0; learned λ_n keeps order 2. Zero stability (the root condition): every root
of ρ^k − α0·ρ^{k−1} − … − α_{k−1} lies in the closed unit disc, and those on
the circle are simple. Fixed coefficients are checked when the scheme is made:
a warning when they are not zero-stable, or an error with ``strict=True``.

The first k−1 blocks of the chain have too short a history; they take explicit
Euler steps x_{n+1} = x_n + h·f_n(x_n). At a stage transition every history term
is projected by its own projection of the block (see ``SchemeTrunk``): paper E
Fig. 3 down-samples each of y_n, y_{n−1}, y_{n−2}, and "the additional parameters
of ZeroSNet are only for downsampling" (E-table8).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor, nn

from stablenets.schemes.base import ResidualBlock, Scheme, SchemeStep, as_float_tuple, axpy, scalar_parameter
from stablenets.settings import SettingError, check, setting
from stablenets.stability.roots import check_coefficients, consistency_order, consistent_beta
from stablenets.stability.zerosnet import zerosnet_coefficients, zerosnet_coefficients_of_inverse


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

    def coefficients_to_buffers(self) -> None:
        """Hold the fixed (α, β·h) in a non-persistent buffer that the forward pass reads.

        Models that differ only in these numbers then share one structure, and a stack of them
        trains as one (training/packed.py: E-table1's five α in one pack). The arithmetic is the
        same; the state dict is unchanged (the buffer is not saved).
        """
        if type(self) is MultistepStep:
            self.register_buffer("packed_coefficients", torch.tensor([*self.alphas, self.beta * self.h]),
                                 persistent=False)

    def forward(self, block: ResidualBlock, x: Tensor, history: Sequence[Tensor]) -> Tensor:
        alphas, beta = self.alphas_beta()
        f = block.branch(x)
        if len(history) < len(alphas):
            return axpy(history[0], self.h, f)
        packed = getattr(self, "packed_coefficients", None)
        if packed is not None:
            out = f * packed[-1].to(f.dtype)
            for j, term in enumerate(history[:len(alphas)]):
                out = axpy(out, packed[j], term)
            return out
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
    """ZeroSNet-Tra: the ZeroSNet coefficients of a learnable λ_n (see the module docstring for the guard)."""

    def __init__(self, lam_init: float, h: float, parametrisation: str, floor: float):
        super().__init__((0.0, 0.0, 0.0), 0.0, h)
        self.parametrisation = parametrisation
        self.floor = floor
        if parametrisation == "inverse":
            self.mu = scalar_parameter(1.0 / lam_init)
        else:
            self.lam = scalar_parameter(lam_init)

    def effective_lambda(self) -> Tensor:
        if self.parametrisation == "inverse":
            return 1 / self.mu
        sign = torch.where(self.lam < 0, -1.0, 1.0).to(self.lam.dtype)
        return sign * self.lam.abs().clamp(min=self.floor)

    def alphas_beta(self):
        if self.parametrisation == "inverse":
            return zerosnet_coefficients_of_inverse(self.mu)
        return zerosnet_coefficients(self.effective_lambda())

    def coefficients(self) -> dict[str, Tensor]:
        return {"lambda": self.effective_lambda().detach(), **super().coefficients()}


LEARN = (None, "k", "lambda")


@dataclass(repr=False)
class Multistep(Scheme):
    """A linear multistep scheme; see the module docstring.

    Settings: ``alphas`` (α0, …, α_{k−1}), k = 1, 2 or 3 (fixed coefficients); ``beta`` (a number,
    or "consistent" to derive it from the alphas); ``h`` (the step factor multiplying f);
    ``learn`` (None fixed, "k" LM-ResNet's learnable k_n, "lambda" ZeroSNet-Tra's learnable λ_n);
    ``k_init`` (U[a, b] for k_n); ``lambda_init`` (start of λ_n); ``tra_parametrisation`` and
    ``lambda_floor`` (the guard of λ_n); ``strict`` (refuse, instead of warning on, coefficients
    that are not zero-stable).
    """

    name = "multistep"
    explicit = True

    alphas: tuple[float, ...] = setting((1.0,), "history weights (alpha_0, ..., alpha_{k-1}), k = 1, 2 or 3",
                                        nonempty=True, each=dict(lt=math.inf))
    beta: float | str = setting(1.0, "weight of h f(x_n), or 'consistent' for beta = 1 + sum_j j alpha_j")
    h: float = setting(1.0, "step factor h multiplying beta f(x_n)", gt=0)
    learn: str | None = setting(None, "learned coefficients: None, 'k' (LM-ResNet) or 'lambda' (ZeroSNet-Tra)",
                                choices=LEARN)
    k_init: tuple[float, float] = setting((-0.1, 0.0), "k_n ~ U[a, b] when learn = 'k' (Lu et al. 2018)",
                                          nonempty=True, each=dict(lt=math.inf))
    lambda_init: float = setting(1.0, "start of every learned lambda_n (paper E section 5.6: 1), not 0",
                                 lt=math.inf)
    tra_parametrisation: str = setting("lambda", "learn lambda_n itself ('lambda', the paper's, clamped at "
                                       "lambda_floor) or mu_n = 1/lambda_n ('inverse')",
                                       choices=("inverse", "lambda"))
    lambda_floor: float = setting(0.01, "smallest |lambda_n| when tra_parametrisation = 'lambda'", gt=0)
    strict: bool = setting(False, "refuse coefficients that are not zero-stable instead of warning",
                           choices=(False, True))

    def __post_init__(self):
        if self.learn is not None:
            learned = (0.0, 0.0) if self.learn == "k" else (0.0, 0.0, 0.0)
            given = as_float_tuple(self.alphas) if isinstance(self.alphas, (tuple, list)) else self.alphas
            if given not in ((1.0,), learned) or self.beta not in (1.0, 0.0):
                raise SettingError(f"scheme multistep: alphas = {self.alphas}, beta = {self.beta} cannot be used with "
                                   f"learn = {self.learn!r}, whose coefficients are learned; for fixed coefficients "
                                   "use learn=None (e.g. create_model('resnet-20', scheme='multistep', alphas=...))")
            self.alphas = learned
        self.alphas = as_float_tuple(self.alphas) if not isinstance(self.alphas, str) else self.alphas
        self.k_init = as_float_tuple(self.k_init) if not isinstance(self.k_init, str) else self.k_init
        super().__post_init__()
        if not 1 <= len(self.alphas) <= 3:
            raise SettingError(f"scheme multistep.alphas = {self.alphas}: multistep schemes take 1 to 3 alphas")
        if len(self.k_init) != 2 or self.k_init[1] < self.k_init[0]:
            raise SettingError(f"scheme multistep.k_init = {self.k_init}: must be (a, b) with a ≤ b")
        if self.lambda_init == 0:
            raise SettingError("scheme multistep.lambda_init = 0: ZeroSNet's coefficients divide by lambda")
        if self.beta == "consistent":
            self.beta = float(consistent_beta(self.alphas))
        else:
            self.beta = float(check("scheme multistep.beta", self.beta, lt=math.inf))
        self.h = float(self.h)
        self.lambda_init = float(self.lambda_init)
        if self.learn is None:  # zero stability only: PreResNet-α is inconsistent on purpose
            check_coefficients(self.alphas, strict=self.strict)

    @property
    def n_history(self) -> int:
        return len(self.alphas)

    @property
    def order(self) -> int:
        """Order of consistency (module docstring): of the fixed coefficients, 0 for learned k_n, 2 for learned λ_n."""
        if self.learn == "k":
            return 0
        if self.learn == "lambda":
            return 2
        return consistency_order(self.alphas, self.beta)

    def make_step(self, index: int, block: ResidualBlock) -> SchemeStep:
        if index < self.n_history - 1:  # too short a history: an Euler starter step, no coefficients
            return MultistepStep(self.alphas, self.beta, self.h)
        if self.learn == "k":
            return LearnedKStep(self.k_init, self.h)
        if self.learn == "lambda":
            return LearnedLambdaStep(self.lambda_init, self.h, self.tra_parametrisation, self.lambda_floor)
        return MultistepStep(self.alphas, self.beta, self.h)
