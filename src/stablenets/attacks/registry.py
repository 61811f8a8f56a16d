"""The attack registry: each attack declares its threat model and what its arguments mean.

An :class:`AttackSpec` holds the function, a settings dataclass (every argument the function
takes, each a :func:`stablenets.settings.setting` with its range and meaning) and the threat
model: which norm bounds the perturbation (fixed, or chosen by the ``norm`` setting) and what
``eps`` means (the radius of the ball, or an optional bound that discards larger successes).
Evaluation reads these fields; it never switches on an attack's name.

    spec = get_attack_spec("pgd")
    settings = spec.make({"eps": 8 / 255, "alpha": 2 / 255, "steps": 20}, where="attacks.pgd")
    x_adv = spec.run(model, x, y, settings, seed=0)

``make`` refuses, before any work, an unknown argument (naming the valid ones), a value out of
range (negative or NaN step, steps < 0, ...) and an L∞ radius above 1 (the whole pixel box).
A new attack is its module (function + settings dataclass) and one :func:`register` call in
``attacks/__init__.py``.
"""
from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from stablenets.attacks.base import Norm
from stablenets.settings import SettingError, check, validate

__all__ = ["AttackSpec", "register", "get_attack_spec", "get_attack", "list_attacks", "ATTACKS",
           "check_radius"]

RADIUS = ("ball", "bound")   # eps is the ball's radius (required) / an optional cap on successes


@dataclass(frozen=True)
class AttackSpec:
    """One registered attack.

    Attributes:
        name: registry key.
        fn: ``fn(model, x, y, **settings, seed=...) -> x_adv``.
        settings: dataclass type whose fields are exactly ``fn``'s keyword arguments.
        norm: the perturbation norm when fixed (``Norm.LINF``/``Norm.L2``); ``None`` when the
            ``norm`` setting chooses it.
        radius: ``"ball"``: ``eps`` is the radius of the threat ball (required);
            ``"bound"``: ``eps`` is optional and only discards successes beyond it (CW-L2).
        gradient: ``"white-box"`` (input gradients), ``"gradient-free"`` (queries only).
        whole_set: run once over the whole evaluation set, not per batch (AutoAttack).
        summary: one line for reports and ``--help``.
        missing: returns why the attack cannot run here (e.g. an optional package), or None.
    """

    name: str
    fn: Callable[..., torch.Tensor]
    settings: type
    norm: Norm | None
    radius: str = "ball"
    gradient: str = "white-box"
    whole_set: bool = False
    summary: str = ""
    missing: Callable[[], str | None] | None = None

    def unavailable(self) -> str | None:
        """Why the attack cannot run here (an optional package missing, with the install hint), or None."""
        return self.missing() if self.missing is not None else None

    def norm_of(self, settings: Any) -> Norm:
        return self.norm if self.norm is not None else Norm.parse(settings.norm)

    def make(self, values: dict, where: str | None = None) -> Any:
        """The validated settings object for ``values`` (a SettingError names ``where.key``)."""
        where = where or self.name
        names = [f.name for f in dataclasses.fields(self.settings)]
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise SettingError(f"{where}.{unknown[0]}: not a setting of attack {self.name!r}; valid: {names}")
        settings = validate(self.settings(**values), where)
        if "eps" in names:
            check_radius(f"{where}.eps", settings.eps, self.norm_of(settings), required=self.radius == "ball")
        return settings

    def run(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, settings: Any, seed: int = 0,
            **extra: Any) -> torch.Tensor:
        return self.fn(model, x, y, **dataclasses.asdict(settings), seed=seed, **extra)


def check_radius(name: str, eps: Any, norm: Norm, required: bool = True) -> Any:
    """A radius in pixel units: a finite number ≥ 0, and ≤ 1 for L∞ (ε = 1 already spans the box)."""
    if eps is None and not required:
        return eps
    if isinstance(eps, (list, tuple)):
        raise SettingError(f"{name} = {eps!r}: one radius per attack call (a suite lists several as eps=[...])")
    return check(name, eps, ge=0, le=1 if norm is Norm.LINF else None)


ATTACKS: dict[str, AttackSpec] = {}


def register(spec: AttackSpec) -> AttackSpec:
    """Add ``spec`` to the registry (its settings must mirror the function's keyword defaults)."""
    if spec.radius not in RADIUS:
        raise ValueError(f"radius must be one of {RADIUS}; got {spec.radius!r}")
    params = inspect.signature(spec.fn).parameters
    for f in dataclasses.fields(spec.settings):
        if f.name not in params:
            raise TypeError(f"attack {spec.name!r}: setting {f.name!r} is not an argument of {spec.fn.__name__}")
    ATTACKS[spec.name] = spec
    return spec


def _key(name: str) -> str:
    return str(name).lower().replace("-", "_")


def get_attack_spec(name: str) -> AttackSpec:
    """The :class:`AttackSpec` registered under ``name`` (case-insensitive, '-' or '_')."""
    key = _key(name)
    if key not in ATTACKS:
        raise SettingError(f"unknown attack {name!r}; valid: {sorted(ATTACKS)}")
    return ATTACKS[key]


def get_attack(name: str) -> Callable[..., torch.Tensor]:
    """The attack function registered under ``name``."""
    return get_attack_spec(name).fn


def list_attacks() -> list[str]:
    return sorted(ATTACKS)
