"""Every scheme's test cases, in one list that the generic scheme tests loop over.

A new scheme adds its cases here (``tests/test_schemes_numerics.py`` then checks that every registered
scheme has at least one): how it discretises a linear ODE with a step dt, the order it must reach, the
settings under which it is the ResNet, and settings with non-trivial coefficients for a gradcheck.

``make(dt)`` returns (scheme, c): the branch of every block is f(x) = c·A·x, and the chain of N blocks with
dt = T/N must approximate x(T) of x' = M·x with M = ``ode(A)`` (A itself unless the scheme discretises a
different equation, such as paper A's damped x' = (A − cI)x).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from stablenets.schemes import get_scheme
from stablenets.schemes.base import Scheme
from stablenets.stability import zerosnet_coefficients

DAMPING = 0.5  # c of the damped cases: lambda_n = c·dt, x' = (A − cI) x


@dataclass
class SchemeCase:
    id: str
    make: Callable[[float], tuple[Scheme, float]]
    order: int
    ode: Callable[[torch.Tensor], torch.Tensor] = lambda a: a
    resnet: dict | None = None  # settings under which the scheme is the ResNet (None: not for this case)
    gradcheck: dict = field(default_factory=dict)  # settings for the float64 gradcheck of one block step


def _s(name, **settings):
    return get_scheme(name, **settings)


ZEROSNET_OPT = dict(alphas=zerosnet_coefficients(-9 / 5)[0], beta=zerosnet_coefficients(-9 / 5)[1])
ZEROSNET_10 = dict(alphas=zerosnet_coefficients(10.0)[0], beta=zerosnet_coefficients(10.0)[1])
SHIFT = lambda a: a - DAMPING * torch.eye(a.shape[0], dtype=a.dtype)  # noqa: E731

CASES = [
    SchemeCase("euler", lambda dt: (_s("euler", h=dt), 1.0), 1, resnet=dict(h=1.0), gradcheck=dict(h=0.7)),
    SchemeCase("euler-learnable-h", lambda dt: (_s("euler", h=dt, learnable_h=True), 1.0), 1,
               gradcheck=dict(h=0.7, learnable_h=True)),
    SchemeCase("damped", lambda dt: (_s("damped", lambda_init=DAMPING * dt, learnable=False), dt), 1, SHIFT,
               resnet=dict(lambda_init=0.0), gradcheck=dict(lambda_init=0.3)),
    SchemeCase("damped-rho", lambda dt: (_s("damped", lambda_init=DAMPING * dt, rho_from_lambda=True,
                                            learnable=False), dt), 1, SHIFT,
               gradcheck=dict(lambda_init=0.3, rho_from_lambda=True)),
    # a gate whose bias starts at -30 damps by sigmoid(-30) ≈ 1e-13: the Euler step of x' = A x
    SchemeCase("damped-gating-sig", lambda dt: (_s("damped", lambda_init=-30.0, gating=True, activation="sigmoid",
                                                   learnable=False), dt), 1,
               gradcheck=dict(lambda_init=0.3, gating=True, activation="sigmoid")),
    SchemeCase("multistep-zerosnet-opt", lambda dt: (_s("multistep", h=dt, **ZEROSNET_OPT), 1.0), 2,
               resnet=dict(alphas=(1.0,), beta=1.0), gradcheck=dict(ZEROSNET_OPT, h=0.5)),
    SchemeCase("multistep-zerosnet-lambda10", lambda dt: (_s("multistep", h=dt, **ZEROSNET_10), 1.0), 2),
    SchemeCase("multistep-lm-consistent", lambda dt: (_s("multistep", h=dt, alphas=(1.5, -0.5), beta="consistent"),
                                                     1.0), 1),
    SchemeCase("multistep-preresnet-alpha0.5", lambda dt: (_s("multistep", h=dt, alphas=(0.5,)), 1.0), 0),
    SchemeCase("multistep-eq8-k0.5", lambda dt: (_s("multistep", h=dt, alphas=(0.5, 0.5), beta=2.0), 1.0), 0),
    SchemeCase("multistep-learned-k", lambda dt: (_s("multistep", h=dt, learn="k", k_init=(-0.3, -0.3)), 1.0), 0,
               gradcheck=dict(learn="k", k_init=(-0.3, -0.3))),
    SchemeCase("multistep-learned-lambda", lambda dt: (_s("multistep", h=dt, learn="lambda", lambda_init=-1.8),
                                                      1.0), 2, gradcheck=dict(learn="lambda", lambda_init=-1.8)),
    SchemeCase("multistep-learned-inverse", lambda dt: (_s("multistep", h=dt, learn="lambda", lambda_init=-1.8,
                                                          tra_parametrisation="inverse"), 1.0), 2,
               gradcheck=dict(learn="lambda", lambda_init=-1.8, tra_parametrisation="inverse")),
    SchemeCase("implicit", lambda dt: (_s("implicit", iterations=2, gamma=0.1), dt), 1,
               resnet=dict(iterations=0), gradcheck=dict(iterations=2, gamma=0.1)),
    SchemeCase("shared", lambda dt: (_s("shared", repeats=2), dt), 1, ode=lambda a: 2 * a,
               resnet=dict(repeats=1), gradcheck=dict(repeats=3)),
    SchemeCase("ode-rk4", lambda dt: (_s("ode", solver="rk4", t1=dt, step_size=dt), 1.0), 4,
               resnet=dict(solver="euler", t1=1.0, step_size=1.0),
               gradcheck=dict(solver="rk4", t1=0.5, step_size=0.25)),
    SchemeCase("ode-euler", lambda dt: (_s("ode", solver="euler", t1=dt, step_size=dt), 1.0), 1),
]


def case_scheme_name(case: SchemeCase) -> str:
    return case.make(0.1)[0].name
