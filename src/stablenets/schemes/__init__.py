"""Numerical schemes: how a chain of residual blocks steps from one state to the next.

``get_scheme(name, **settings)`` builds one; an unknown name or setting is one
:class:`~stablenets.settings.SettingError` (a ValueError) listing the valid ones.
A scheme is a dataclass of :func:`~stablenets.settings.setting` fields that
declares ``order``, ``explicit`` and ``n_history`` and makes one step module per
block (the contract: :mod:`stablenets.schemes.base`); ``SCHEMES`` registers it
by name, and a new scheme needs only its module, a line here, its presets
(``models/presets.py``) and its cases in ``tests/scheme_cases.py``. The continuous family is a block type, not a scheme:
see :mod:`stablenets.schemes.continuous`.
"""
from __future__ import annotations

from stablenets.schemes.base import ResidualBlock, Scheme, SchemeStep, SchemeTrunk
from stablenets.schemes.continuous import NeuralODE
from stablenets.schemes.damped import Damped
from stablenets.schemes.euler import Euler
from stablenets.schemes.implicit import ImplicitEuler
from stablenets.schemes.multistep import Multistep
from stablenets.schemes.shared import SharedWeights
from stablenets.settings import SettingError

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
        raise SettingError(f"unknown scheme {name!r}; valid schemes: {', '.join(list_schemes())}")
    cls = SCHEMES[name]
    unknown = sorted(set(settings) - set(cls.setting_names()))
    if unknown:
        raise SettingError(f"scheme {name!r} has no setting {', '.join(map(repr, unknown))}; "
                           f"valid settings: {', '.join(cls.setting_names())}")
    return cls.from_settings(**settings)


__all__ = ["Scheme", "SchemeStep", "SchemeTrunk", "ResidualBlock", "get_scheme", "list_schemes", "SCHEMES"]
