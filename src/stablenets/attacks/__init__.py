"""Adversarial attacks in pixel space: white-box, gradient-free, transfer, AutoAttack, adaptive.

Every attack has the signature ``attack(model, x, y, <budget and schedule>, *, ..., seed=0)``
and returns x_adv with x_adv ∈ [0, 1] and, for attacks with a radius, ‖x_adv − x‖ ≤ ε per
sample, the ball centred on the clean x. Attacks run batched on x's device, put the model
in eval mode and give every submodule its own mode back, and never touch parameters.
Each attack is registered with its threat model and a settings dataclass that says what
every argument means and which values it accepts (``registry.py``); an argument out of range
is refused before any work.

    from stablenets.attacks import pgd
    x_adv = pgd(model, x, y, eps=8/255, alpha=2/255, steps=20)
"""
from __future__ import annotations

from stablenets.attacks.autoattack import (INSTALL_HINT, AutoAttackSettings, autoattack, autoattack_available,
                                           autoattack_run)
from stablenets.attacks.base import Loss, Norm, pgd_step
from stablenets.attacks.cw_l2 import CWL2Settings, cw_l2
from stablenets.attacks.cw_linf import CWLinfSettings, cw_linf
from stablenets.attacks.fgsm import FGSMSettings, fgsm
from stablenets.attacks.ifgsm import IFGSMSettings, ifgsm
from stablenets.attacks.pgd import PGDSettings, pgd
from stablenets.attacks.registry import (ATTACKS, AttackSpec, get_attack, get_attack_spec, list_attacks,
                                         register)
from stablenets.attacks.spsa import SPSASettings, spsa
from stablenets.attacks.transfer import transfer

register(AttackSpec("fgsm", fgsm, FGSMSettings, None, summary="one signed-gradient step of size ε"))
register(AttackSpec("ifgsm", ifgsm, IFGSMSettings, None, summary="iterated FGSM from x, last iterate"))
register(AttackSpec("bim", ifgsm, IFGSMSettings, None, summary="= ifgsm (basic iterative method)"))
register(AttackSpec("pgd", pgd, PGDSettings, None, summary="projected gradient ascent, restarts, best iterate"))
register(AttackSpec("cw_l2", cw_l2, CWL2Settings, Norm.L2, radius="bound",
                    summary="Carlini–Wagner L2 (Adam on tanh variables), minimal perturbation"))
register(AttackSpec("cw_linf", cw_linf, CWLinfSettings, Norm.LINF,
                    summary="Carlini–Wagner L∞ (τ-penalty, Adam) inside the ε-ball"))
register(AttackSpec("spsa", spsa, SPSASettings, Norm.LINF, gradient="gradient-free",
                    summary="SPSA gradient estimate + Adam on the margin (no model gradient)"))
register(AttackSpec("autoattack", autoattack_run, AutoAttackSettings, None, whole_set=True,
                    summary="AutoAttack standard: APGD-CE, APGD-T, FAB-T, Square",
                    missing=lambda: None if autoattack_available() else INSTALL_HINT))

__all__ = ["Norm", "Loss", "pgd_step", "fgsm", "ifgsm", "pgd", "cw_l2", "cw_linf", "spsa", "transfer",
           "autoattack", "autoattack_run", "autoattack_available", "AttackSpec", "register", "get_attack",
           "get_attack_spec", "list_attacks", "ATTACKS"]
