"""Numerical schemes: how a chain of residual blocks steps from one state to the next.

``get_scheme(name, **settings)`` builds one; unknown names raise ValueError
listing the valid ones.

The continuous family fits the same split. The plain neural ODE is a scheme, ``"ode"``: the
continuous limit of explicit Euler, where block n integrates dx/dt = f_n(x) from x_n over
[0, T] instead of stepping x_n + h·f_n(x_n), so it runs over every existing backbone (ODENet is
that scheme on its own backbone). SONet's skew-symmetric ODE block is a block type instead: its
state (x, z) has two shapes and its output is z(T), not a step along the residual chain, so
SONet is a stack of such blocks and SOBlock a backbone whose stem is one. Both integrate with one
:class:`~stablenets.schemes.continuous.ODESettings`. See :mod:`stablenets.schemes.continuous`.
"""
from __future__ import annotations

from stablenets.schemes.base import ResidualBlock, Scheme, SchemeStep, SchemeTrunk
from stablenets.schemes.continuous import NeuralODE
from stablenets.schemes.damped import Damped
from stablenets.schemes.euler import Euler
from stablenets.schemes.implicit import ImplicitEuler
from stablenets.schemes.multistep import Multistep
from stablenets.schemes.shared import SharedWeights

SCHEMES: dict[str, type[Scheme]] = {cls.name: cls for cls in (Euler, Damped, ImplicitEuler, Multistep, SharedWeights,
                                                        NeuralODE)}


def list_schemes() -> list[str]:
    return sorted(SCHEMES)


def get_scheme(name: str | Scheme, **settings) -> Scheme:
    """A scheme by name (``euler``, ``damped``, ``implicit``, ``multistep``, ``shared``, ``ode``) with its settings."""
    if isinstance(name, Scheme):
        if settings:
            raise ValueError("settings can only be given with a scheme name, not with a Scheme instance")
        return name
    if name not in SCHEMES:
        raise ValueError(f"unknown scheme {name!r}; valid schemes: {', '.join(list_schemes())}")
    try:
        return SCHEMES[name](**settings)
    except TypeError as err:
        raise ValueError(f"bad settings for scheme {name!r}: {err}") from None


__all__ = ["Scheme", "SchemeStep", "SchemeTrunk", "ResidualBlock", "get_scheme", "list_schemes", "SCHEMES"]
