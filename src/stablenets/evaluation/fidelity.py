"""Gradient fidelity: is the gradient an attack follows the gradient of the function the model approximates?

A model with ODE blocks or IE-skip inner loops computes its output with a solver. Attacks
differentiate what the solver did at the model's deployed settings (an adaptive solver at a loose
tolerance, a few fixed steps, K inner steps, perhaps with the inner loop detached). Paper D's finding
is that such gradients can mask the function's own (D §6). This module measures it directly: the
cosine between the input gradient at the deployed settings and the input gradient of the *same
weights* solved tightly —

- ODE blocks (:class:`~stablenets.schemes.continuous.ODEBlock`: SONet's skew blocks, its classifier,
  the neural ODE scheme's steps): DOPRI5 with rtol = atol = ``TIGHT_TOL`` (1e-6), the last step on T,
  direct backpropagation, in float64;
- IE-skip steps (:class:`~stablenets.schemes.implicit.ImplicitStep`): ``TIGHT_ITERATIONS`` inner steps
  (at least ten times K), differentiated through, in float64.

``gradient_fidelity`` reports it for the whole network (∇ₓ of the summed cross-entropy) and per block
(the vector–Jacobian product of the block with one fixed random cotangent, at the input the tight
model gives that block). A cosine near 1: the attacks follow the function; well below 1: they follow
a solver artefact, and gradient-based robustness numbers are suspect.
"""
from __future__ import annotations

import copy
import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["gradient_fidelity", "has_solver_blocks", "TIGHT_TOL", "TIGHT_ITERATIONS", "FIDELITY_WARNING"]

TIGHT_TOL = 1e-6          # rtol = atol of the reference solve
TIGHT_ITERATIONS = 50     # inner IE-skip steps of the reference (at least 10 K)
FIDELITY_WARNING = 0.9    # a whole-network cosine below this is reported as a warning


def _units(model: nn.Module) -> dict[str, nn.Module]:
    """The solver-carrying modules of ``model`` by name: ODE blocks and IE-skip steps."""
    from stablenets.schemes.continuous import ODEBlock
    from stablenets.schemes.implicit import ImplicitStep

    return {name: m for name, m in model.named_modules() if isinstance(m, (ODEBlock, ImplicitStep))}


def has_solver_blocks(model: nn.Module) -> bool:
    """Whether the model has ODE blocks or IE-skip inner loops (the models this check is for)."""
    from stablenets.schemes.implicit import ImplicitStep

    return any(not isinstance(m, ImplicitStep) or m.iterations > 0 for m in _units(model).values())


def tight_copy(model: nn.Module) -> nn.Module:
    """A float64 copy of ``model`` whose ODE blocks integrate tightly and whose IE-skip steps converge."""
    from stablenets.schemes.continuous import ODEBlock

    tight = copy.deepcopy(model).double()
    for m in tight.modules():  # an evaluation's solver budget hooks count the deployed model's solves only
        m._forward_pre_hooks.clear()
        m._forward_hooks.clear()
    for unit in _units(tight).values():
        if isinstance(unit, ODEBlock):
            unit.settings = dataclasses.replace(unit.settings, solver="dopri5", rtol=TIGHT_TOL, atol=TIGHT_TOL,
                                                land_on_t1=True, adjoint=False, record_steps=False)
        else:
            unit.iterations = max(TIGHT_ITERATIONS, 10 * unit.iterations)
            unit.create_graph = True
    return tight


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double().flatten(), b.double().flatten()
    na, nb = float(a.norm()), float(b.norm())
    return float("nan") if na == 0 or nb == 0 else float(a @ b) / (na * nb)


def _input_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    with torch.enable_grad():
        xg = x.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(F.cross_entropy(model(xg), y, reduction="sum"), xg)
    return grad


def _captured_inputs(model: nn.Module, x: torch.Tensor) -> dict[str, tuple]:
    """Each unit's positional arguments on a forward pass of ``x`` (the tensors detached)."""
    seen: dict[str, tuple] = {}
    hooks = []
    for name, unit in _units(model).items():
        def hook(module, args, name=name):
            if name not in seen:
                seen[name] = args
        hooks.append(unit.register_forward_pre_hook(hook))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return seen


def _block_vjp(unit: nn.Module, args: tuple, h: torch.Tensor, u: torch.Tensor | None, seed: int):
    """∂⟨u, unit(h)⟩/∂h, and the cotangent u (drawn once from ``seed``, in h's dtype)."""
    from stablenets.schemes.implicit import ImplicitStep
    from stablenets.schemes.continuous import ODEStep

    with torch.enable_grad():
        hg = h.detach().clone().requires_grad_(True)
        if isinstance(unit, (ImplicitStep, ODEStep)):
            block = args[0]
            out = unit(block, hg, [hg if block.same_shape else block.project(hg, 0)])
        else:
            out = unit(hg)
        out = out[1] if isinstance(out, tuple) else out
        if u is None:
            g = torch.Generator().manual_seed(seed)
            u = torch.randn(out.shape, generator=g, dtype=torch.float64)
        (grad,) = torch.autograd.grad((out * u.to(out.dtype)).sum(), hg)
    return grad, u


def gradient_fidelity(model: nn.Module, x: torch.Tensor, y: torch.Tensor, seed: int = 0) -> dict:
    """{"network": cosine, "blocks": {name: cosine}, "reference": how the tight gradient was made}.

    ``model`` is used as deployed (its dtype, its solver settings, eval mode); the reference is
    :func:`tight_copy` of it. Cosines are NaN where a gradient is exactly zero.
    """
    from stablenets.attacks.base import attack_mode

    tight = tight_copy(model)
    with attack_mode(model), attack_mode(tight):
        dtype = next((p.dtype for p in model.parameters()), x.dtype)
        deployed_grad = _input_gradient(model, x.to(dtype), y)
        tight_grad = _input_gradient(tight, x.double(), y)
        blocks = {}
        deployed_units, tight_units = _units(model), _units(tight)
        tight_args = _captured_inputs(tight, x.double())
        deployed_args = _captured_inputs(model, x.to(dtype))
        for name, unit in tight_units.items():
            if name not in tight_args or name not in deployed_args:
                continue  # a unit the forward pass does not reach
            h = tight_args[name][1] if len(tight_args[name]) > 1 else tight_args[name][0]
            ref, u = _block_vjp(unit, tight_args[name], h, None, seed)
            got, _ = _block_vjp(deployed_units[name], deployed_args[name], h.to(dtype), u, seed)
            blocks[name] = _cosine(got, ref)
    return {"network": _cosine(deployed_grad, tight_grad), "blocks": blocks,
            "reference": f"float64, DOPRI5 rtol = atol = {TIGHT_TOL:g} for ODE blocks; "
                         f"max({TIGHT_ITERATIONS}, 10 K) differentiated inner steps for IE-skip"}
