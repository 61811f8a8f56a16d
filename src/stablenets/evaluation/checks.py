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
- gradient consistency: the directional derivatives u·∇ₓL that autograd gives, against central
  finite differences of L along the same random directions u; a large relative error means
  the gradient attacks follow is not the function's (a detached path, a quantiser, an
  adaptive solver's step-size control);
- batch composition: the logits of the first samples alone against the same samples inside
  the batch. Adaptive ODE solvers choose one step size for the whole batch, so a sample's
  logits (and possibly its label) depend on which other samples share its batch; robust
  accuracy then depends on the batch size, and an attack sees a function coupled across
  the batch;
- finite: outputs containing NaN or Inf are an error (non-finite weights), not a report;
- gradient fidelity (models with ODE blocks or IE-skip loops, ``fidelity_samples`` > 0): the
  cosine between the input gradient at the deployed solver settings and that of the same weights
  solved tightly in float64, for the network and per block (:mod:`stablenets.evaluation.fidelity`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from stablenets.attacks.base import attack_mode

__all__ = ["preflight", "gradient_consistency", "batch_composition", "ZERO_GRADIENT_FRACTION",
           "PROBABILITY_TOLERANCE", "GRADIENT_MISMATCH", "BATCH_TOLERANCE"]

ZERO_GRADIENT_FRACTION = 0.05   # warn when more than 5 % of samples have an all-zero input gradient
PROBABILITY_TOLERANCE = 1e-4    # |row sum − 1| below this, with no negative entry, reads as probabilities
DETERMINISM_TOLERANCE = 1e-5    # max |difference| of two forward passes of the same batch
GRADIENT_MISMATCH = 0.3         # relative error of autograd vs finite-difference directional derivatives
BATCH_TOLERANCE = 1e-5          # max |logit difference| of a sample alone vs inside its batch
FD_STEP = 1e-4                  # finite-difference step (pixel units) of the consistency check
FD_DIRECTIONS = 8


def _loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(model(x), y, reduction="sum")


def gradient_consistency(model: nn.Module, x: torch.Tensor, y: torch.Tensor, seed: int = 0) -> float:
    """‖d_autograd − d_fd‖ / ‖d_fd‖ over ``FD_DIRECTIONS`` random unit directions u (per batch).

    d_autograd_k = u_k·∇ₓL(x), d_fd_k = (L(x + h u_k) − L(x − h u_k)) / 2h, computed in float64
    where the model allows. Returns 0 when the loss does not change along any direction.
    """
    import copy

    try:
        model, x = copy.deepcopy(model).double(), x.double()
    except (RuntimeError, TypeError, copy.Error):   # a model that cannot run in float64 is checked as it is
        pass
    g = torch.Generator(device=x.device).manual_seed(seed)
    with torch.enable_grad():
        xg = x.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(_loss(model, xg, y), xg)
    auto, fd = [], []
    with torch.no_grad():
        for _ in range(FD_DIRECTIONS):
            u = torch.randn(x.shape, generator=g, device=x.device, dtype=x.dtype)
            u = u / u.norm()
            auto.append(float((grad * u).sum()))
            fd.append(float(_loss(model, x + FD_STEP * u, y) - _loss(model, x - FD_STEP * u, y)) / (2 * FD_STEP))
    a, f = torch.tensor(auto, dtype=torch.float64), torch.tensor(fd, dtype=torch.float64)
    scale = float(f.norm())
    return 0.0 if scale == 0 else float((a - f).norm()) / scale


def batch_composition(model: nn.Module, x: torch.Tensor, k: int = 4) -> float:
    """max |logits(x_i alone) − logits(x_i in the batch)| over the first k samples."""
    with torch.no_grad():
        together = model(x)
        return max(float((model(x[i:i + 1]) - together[i:i + 1]).abs().max()) for i in range(min(k, x.shape[0])))


def preflight(model: nn.Module, x: torch.Tensor, y: torch.Tensor, fidelity_samples: int = 0) -> dict:
    """Run the checks on a batch; returns {"values": {...}, "warnings": [...]}; ``fidelity_samples`` test
    points go to the gradient-fidelity check (0: not run).

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
            bad = [name for name, t in model.state_dict().items() if t.is_floating_point() and not torch.isfinite(t).all()]
            raise ValueError("model outputs contain NaN or Inf on clean test points"
                             + (f" (non-finite weights: {', '.join(bad[:5])})" if bad else "")
                             + "; no robustness report is meaningful for it")
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
                            "cannot move them (masked gradients); trust only gradient-free, transfer and "
                            "BPDA attacks")
        mismatch = gradient_consistency(model, x, y)
        values["gradient_mismatch"] = mismatch
        if mismatch > GRADIENT_MISMATCH:
            warnings.append(f"autograd's directional derivatives differ from finite differences by {mismatch:.0%}: "
                            "the gradient the attacks follow is not the function's (a detached or "
                            "non-differentiable part, or an adaptive solver); trust only attacks that do not "
                            "need it (gradient-free, transfer, adaptive)")
        values["batch_composition"] = batch_composition(model, x) if x.shape[0] > 1 else 0.0
        if values["batch_composition"] > BATCH_TOLERANCE:
            warnings.append(f"a sample's logits change by up to {values['batch_composition']:.3g} with the other samples "
                            "in its batch (an adaptive ODE solver shares one step size across the batch): "
                            "accuracies depend on the batch size, and attacks see a batch-coupled function")
    if fidelity_samples > 0:
        from stablenets.evaluation.fidelity import FIDELITY_WARNING, gradient_fidelity, has_solver_blocks

        if has_solver_blocks(model):
            k = min(fidelity_samples, x.shape[0])
            fidelity = gradient_fidelity(model, x[:k], y[:k])
            values["gradient_fidelity"] = fidelity["network"]
            values["gradient_fidelity_blocks"] = fidelity["blocks"]
            values["gradient_fidelity_reference"] = fidelity["reference"]
            if not fidelity["network"] >= FIDELITY_WARNING:
                warnings.append(f"the input gradient at the deployed solver settings has cosine "
                                f"{fidelity['network']:.2f} with the gradient of the same weights solved tightly "
                                f"({fidelity['reference']}): gradient attacks follow a solver artefact, not the "
                                "function; trust the gradient-free, transfer and adaptive attacks")
    return {"values": values, "warnings": warnings}
