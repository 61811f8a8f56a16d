"""AutoAttack (Croce & Hein, ICML 2020) through the optional PyPI package ``pyautoattack``.

The standard version runs APGD-CE, APGD-T, FAB-T and Square, each on the survivors of
the previous ones, for L∞ or L2. Install it with ``pip install stablenets[autoattack]``
(or ``pip install pyautoattack``); its import name is ``pyautoattack``.
"""
from __future__ import annotations

import importlib

import torch
from torch import nn

from stablenets.attacks.base import Norm, attack_mode, check_attack_inputs

__all__ = ["autoattack", "autoattack_available", "INSTALL_HINT"]

INSTALL_HINT = ("AutoAttack needs the optional package 'pyautoattack': "
                "pip install 'stablenets[autoattack]'  (or: pip install pyautoattack)")


def autoattack_available() -> bool:
    return importlib.util.find_spec("pyautoattack") is not None


def autoattack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, *,
               norm: Norm | str = Norm.LINF, version: str = "standard", batch_size: int = 500,
               seed: int = 0) -> torch.Tensor:
    """x_adv from AutoAttack's ``run_standard_evaluation`` (ball around x, pixels in [0, 1])."""
    norm = Norm.parse(norm)
    check_attack_inputs(x, y, eps)
    try:
        from pyautoattack import AutoAttack
    except ImportError as err:
        raise ImportError(INSTALL_HINT) from err
    with attack_mode(model):
        aa = AutoAttack(model, norm={"linf": "Linf", "l2": "L2"}[norm.value], eps=float(eps),
                        version=version, device=x.device, seed=seed)
        aa.verbose = False
        out = aa.run_standard_evaluation(x.detach(), y, batch_size=batch_size)
    x_adv = out[0] if isinstance(out, tuple) else out
    return x_adv.detach()
