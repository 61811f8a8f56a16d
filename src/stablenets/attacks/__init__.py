"""Adversarial attacks in pixel space: white-box, gradient-free, transfer, AutoAttack.

Every attack has the signature ``attack(model, x, y, <budget and schedule>, *, ..., seed=0)``
and returns x_adv with x_adv ∈ [0, 1] and, for attacks with a radius, ‖x_adv − x‖ ≤ ε per
sample, the ball centred on the clean x. Attacks run batched on x's device, put the model
in eval mode and give every submodule its own mode back, and never touch parameters.

    from stablenets.attacks import pgd
    x_adv = pgd(model, x, y, eps=8/255, alpha=2/255, steps=20)
"""
from __future__ import annotations

from typing import Callable

from stablenets.attacks.autoattack import autoattack, autoattack_available
from stablenets.attacks.base import Loss, Norm, ThreatModel
from stablenets.attacks.cw_l2 import cw_l2
from stablenets.attacks.cw_linf import cw_linf
from stablenets.attacks.fgsm import fgsm
from stablenets.attacks.ifgsm import ifgsm
from stablenets.attacks.pgd import pgd
from stablenets.attacks.spsa import spsa
from stablenets.attacks.transfer import transfer

ATTACKS: dict[str, Callable] = {
    "fgsm": fgsm,
    "ifgsm": ifgsm,
    "bim": ifgsm,
    "pgd": pgd,
    "cw_l2": cw_l2,
    "cw_linf": cw_linf,
    "spsa": spsa,
    "autoattack": autoattack,
}


def get_attack(name: str) -> Callable:
    """The attack function registered under ``name`` (case-insensitive, '-' or '_')."""
    key = name.lower().replace("-", "_")
    if key not in ATTACKS:
        raise ValueError(f"unknown attack {name!r}; valid: {sorted(ATTACKS)}")
    return ATTACKS[key]


def list_attacks() -> list[str]:
    return sorted(ATTACKS)


__all__ = ["Norm", "ThreatModel", "Loss", "fgsm", "ifgsm", "pgd", "cw_l2", "cw_linf", "spsa", "transfer",
           "autoattack", "autoattack_available", "get_attack", "list_attacks", "ATTACKS"]
