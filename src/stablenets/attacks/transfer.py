"""Transfer attack: craft on a source (surrogate) model, evaluate on the target.

    x_adv = attack(source, x, y, **kw);   accuracy is then measured on target(x_adv).

Paper C (Li, He, Lin, ICML 2020, Table 4) crafts PGD examples on one network and tests
them on another. A transfer attack needs no gradient of the target, so it is one of the
standard checks for gradient masking (Athalye, Carlini, Wagner, ICML 2018).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

__all__ = ["transfer"]


def transfer(source_model: nn.Module, target_model: nn.Module, x: torch.Tensor, y: torch.Tensor,
             attack: Callable[..., torch.Tensor] | str = "pgd", **kw) -> torch.Tensor:
    """x_adv crafted on ``source_model`` by ``attack`` (a function or a registered name).

    ``target_model`` is not queried here (the attack must not see it); it is checked to be a
    different module on the same device as x, so that a transfer column is really a transfer.
    """
    from stablenets.attacks import get_attack

    fn = get_attack(attack) if isinstance(attack, str) else attack
    if source_model is target_model:
        raise ValueError("transfer needs a source model different from the target model")
    param = next(target_model.parameters(), None)
    if param is not None and param.device != x.device:
        raise ValueError(f"target model is on {param.device} but x is on {x.device}; move them together")
    return fn(source_model, x, y, **kw)
