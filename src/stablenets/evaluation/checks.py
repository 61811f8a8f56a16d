"""Pre-flight checks before an evaluation (in the spirit of AutoAttack's ``checks.py``).

Each check returns a number and, when the number looks wrong, a warning that says why
the robustness numbers could be meaningless:

- mode: the model was in training mode (BatchNorm statistics, dropout): the evaluation
  uses eval mode and says so;
- logits: rows that are non-negative and sum to 1 are probabilities, not logits (softmax
  inside the model flattens gradients and breaks margin losses);
- determinism: two forward passes of the same batch differ (a randomised defence needs
  EOT attacks; single-sample gradients then under-estimate the attack);
- gradients: the fraction of samples whose input gradient is exactly zero (masked or
  shattered gradients, Athalye et al. 2018);
- finite: outputs contain NaN or Inf.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from stablenets.attacks.base import attack_mode

__all__ = ["preflight", "ZERO_GRADIENT_FRACTION", "PROBABILITY_TOLERANCE"]

ZERO_GRADIENT_FRACTION = 0.05   # warn when more than 5 % of samples have an all-zero input gradient
PROBABILITY_TOLERANCE = 1e-4    # |row sum − 1| below this, with no negative entry, reads as probabilities
DETERMINISM_TOLERANCE = 1e-5    # max |difference| of two forward passes of the same batch


def preflight(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict:
    """Run the checks on a batch; returns {"values": {...}, "warnings": [...]}.

    Raises ValueError for outputs that cannot be class scores for these labels.
    """
    values: dict[str, float | bool | int] = {"was_training": bool(model.training)}
    warnings: list[str] = []
    if model.training:
        warnings.append("model was in training mode; the evaluation runs it in eval mode")
    with attack_mode(model):
        with torch.no_grad():
            out1, out2 = model(x), model(x)
        if out1.dim() != 2 or out1.shape[0] != x.shape[0]:
            raise ValueError(f"model output must be logits of shape (N, classes); got {tuple(out1.shape)}")
        classes = out1.shape[1]
        if classes < 2 or int(y.max()) >= classes or int(y.min()) < 0:
            raise ValueError(f"labels must lie in 0..{classes - 1} for a model with {classes} outputs")
        values["classes"] = classes
        values["finite"] = bool(torch.isfinite(out1).all())
        if not values["finite"]:
            warnings.append("model outputs contain NaN or Inf")
        rows = out1.sum(1)
        probs = bool((out1 >= 0).all() and ((rows - 1).abs() < PROBABILITY_TOLERANCE).all())
        values["outputs_look_like_probabilities"] = probs
        if probs:
            warnings.append("outputs are non-negative and sum to 1: they look like probabilities, not logits; "
                            "remove the softmax from the model (attacks need logits)")
        diff = float((out1 - out2).abs().max())
        values["max_forward_difference"] = diff
        if diff > DETERMINISM_TOLERANCE:
            warnings.append(f"two forward passes differ by up to {diff:.3g}: the model is randomised; "
                            "attack it with EOT or the numbers over-state robustness")
        with torch.enable_grad():
            xg = x.detach().clone().requires_grad_(True)
            (grad,) = torch.autograd.grad(F.cross_entropy(model(xg), y, reduction="sum"), xg)
        zero = float((grad.flatten(1).abs().amax(1) == 0).float().mean())
        values["zero_gradient_fraction"] = zero
        if zero > ZERO_GRADIENT_FRACTION:
            warnings.append(f"{zero:.0%} of samples have an all-zero input gradient: gradient-based attacks "
                            "cannot move them (masked gradients); trust only gradient-free and transfer attacks")
    return {"values": values, "warnings": warnings}
