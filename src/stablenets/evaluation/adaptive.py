"""Adaptive attacks: when a masking flag is raised, attack the model in the way that answers it.

A gradient attack is only as good as the gradient it follows. ODE and implicit models can
hand it a wrong one (paper D: adaptive solvers mask gradients; IE-skip's inner loop without
``create_graph`` shows only the explicit Euler Jacobian), and so can a quantising or
detaching layer. The answers, each crafted on a surrogate and *evaluated on the model as
deployed*:

- **solver swap** (ODE blocks): the same weights integrated with a fixed-grid solver
  (``adaptive.solver``, ``adaptive.step_size``; an adaptive one at ``adaptive.tol``), a
  BPDA-style surrogate whose gradient does not go through step-size control;
- **implicit surrogates** (IE-skip): the same weights with ``adaptive.implicit_iterations``
  inner iterations (more, and 0 = no inner loop), gradients through the loop;
- **BPDA** (Athalye et al. 2018): each non-differentiable part (found automatically: a
  submodule whose output changes with its input while its gradient is zero, or given as
  ``bpda={name: approximation}``) keeps its forward and takes the approximation's gradient
  (identity by default) on the backward pass;
- **EOT** for a randomised model: the gradient of the logits averaged over
  ``adaptive.eot_samples`` forward passes;
- **gradient-free** (SPSA) when a gradient-free or transfer attack beat PGD, or autograd
  disagrees with finite differences; the stronger PGD (flag a) and the margin loss (flag e).

Each runs PGD (α = ε/4, ``adaptive.steps`` steps, ``adaptive.restarts`` restarts, random
start, best iterate) at each L∞ radius of the suite on the whole evaluation set; its
outcomes join the worst case, which is the reported robust accuracy.
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Callable

import torch
from torch import nn

from stablenets.attacks import pgd, spsa
from stablenets.evaluation.checks import BATCH_TOLERANCE, GRADIENT_MISMATCH, ZERO_GRADIENT_FRACTION
from stablenets.evaluation.diagnostics import correct

__all__ = ["BPDA", "EOT", "with_bpda", "nondifferentiable_parts", "surrogates", "run_adaptive"]


class BPDA(nn.Module):
    """Forward: ``module(x)``; backward: the gradient of ``approx(x)`` (identity by default)."""

    def __init__(self, module: nn.Module | Callable, approx: Callable | None = None):
        super().__init__()
        self.module = module
        self.approx = approx

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            out = self.module(x)
        a = x if self.approx is None else self.approx(x)
        return a + (out - a).detach()


class EOT(nn.Module):
    """Expectation over transformation: the logits averaged over ``samples`` forward passes."""

    def __init__(self, model: nn.Module, samples: int):
        super().__init__()
        self.model = model
        self.samples = int(samples)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([self.model(x) for _ in range(self.samples)]).mean(0)


def with_bpda(model: nn.Module, parts: dict[str, Callable | None]) -> nn.Module:
    """A copy of ``model`` whose submodules ``parts`` (dotted names) are wrapped in :class:`BPDA`."""
    out = copy.deepcopy(model)
    for name, approx in parts.items():
        parent_name, _, child = name.rpartition(".")
        parent = out.get_submodule(parent_name) if parent_name else out
        setattr(parent, child, BPDA(getattr(parent, child), approx))
    return out


def nondifferentiable_parts(model: nn.Module, x: torch.Tensor, probe: float = 0.05) -> list[str]:
    """Leaf submodules whose output changes with their input while their input gradient is zero."""
    inputs: dict[str, torch.Tensor] = {}
    hooks = []

    def keep(name: str):
        def hook(module, args, out):
            if args and torch.is_tensor(args[0]) and args[0].is_floating_point():
                inputs.setdefault(name, args[0].detach())
        return hook

    for name, m in model.named_modules():
        if name and not list(m.children()):
            hooks.append(m.register_forward_hook(keep(name)))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    found = []
    g = torch.Generator(device=x.device).manual_seed(0)
    for name, inp in inputs.items():
        m = model.get_submodule(name)
        with torch.enable_grad():
            xi = inp.clone().requires_grad_(True)
            out = m(xi)
            if not torch.is_tensor(out) or not out.requires_grad:
                continue
            (grad,) = torch.autograd.grad((out * torch.randn_like(out)).sum(), xi, allow_unused=True)
        with torch.no_grad():
            moved = m(inp + probe * torch.randn(inp.shape, generator=g, device=inp.device, dtype=inp.dtype))
        if (grad is None or not grad.any()) and not torch.equal(moved, out.detach()):
            found.append(name)
    return found


def _implicit_steps(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if hasattr(m, "iterations") and hasattr(m, "create_graph")
            and isinstance(m, nn.Module)]


def surrogates(model: nn.Module, x: torch.Tensor, settings: dict, bpda: dict | None = None) -> list[dict]:
    """The gradient surrogates that apply to ``model``: [{"kind", "model", "why"}]."""
    from stablenets.schemes.continuous import FIXED_GRID, ode_blocks

    out = []
    blocks = ode_blocks(model)
    if blocks:
        solver = settings.get("solver", "rk4")
        change = {"solver": solver, "step_size": float(settings.get("step_size", 0.05))}
        if solver not in FIXED_GRID:
            change.update(rtol=float(settings.get("tol", 1e-5)), atol=float(settings.get("tol", 1e-5)))
        twin = copy.deepcopy(model)
        for b in ode_blocks(twin):
            b.settings = dataclasses.replace(b.settings, **change, record_steps=False)
        out.append({"kind": "solver_swap", "model": twin,
                    "why": f"same weights, {blocks[0].settings.solver} → {solver} "
                           f"({'step ' + str(change['step_size']) if solver in FIXED_GRID else 'tol ' + str(change['rtol'])})"})
    steps = _implicit_steps(model)
    if steps:
        for k in settings.get("implicit_iterations", []):
            twin = copy.deepcopy(model)
            for s in _implicit_steps(twin):
                s.iterations, s.create_graph = int(k), True
            out.append({"kind": f"implicit_K{k}", "model": twin,
                        "why": f"same weights, {k} inner iterations (deployed: {steps[0].iterations}), "
                               "gradients through the loop"})
    parts = dict(bpda or {})
    for name in nondifferentiable_parts(model, x):
        parts.setdefault(name, None)
    if parts:
        out.append({"kind": "bpda", "model": with_bpda(model, parts),
                    "why": "BPDA on " + ", ".join(f"{n} ({'identity' if a is None else 'given'})" for n, a in parts.items())})
    return out


def _evidence(result: dict) -> dict[str, str]:
    flags = {f["flag"]: f for f in (result.get("diagnostics") or {}).get("flags", []) if f["raised"]}
    values = (result.get("preflight") or {}).get("values", {})
    ev = {f"flag {c}": f["message"] for c, f in flags.items()}
    if values.get("zero_gradient_fraction", 0) > ZERO_GRADIENT_FRACTION:
        ev["zero gradients"] = f"{values['zero_gradient_fraction']:.0%} of samples"
    if values.get("gradient_mismatch", 0) > GRADIENT_MISMATCH:
        ev["gradient mismatch"] = f"{values['gradient_mismatch']:.0%} vs finite differences"
    if values.get("max_forward_difference", 0) > 1e-5:
        ev["randomised"] = f"forward passes differ by {values['max_forward_difference']:.3g}"
    if values.get("batch_composition", 0) > BATCH_TOLERANCE:
        ev["batch composition"] = f"logits move by {values['batch_composition']:.3g} with the batch"
    return ev


def run_adaptive(model: nn.Module, x: torch.Tensor, y: torch.Tensor, clean: torch.Tensor, cfg: dict, result: dict, *,
                 source_model: nn.Module | None, bpda: dict | None, batch_size: int, seed: int,
                 note: Callable[[str], None], eps: list[float]) -> list[dict]:
    """Run the attacks that answer the raised evidence; [{"name", "kind", "why", "answers", "outcomes"}]."""
    settings = cfg.get("adaptive") or {}
    evidence = _evidence(result)
    if not evidence and not bpda:
        return []
    diag = cfg.get("diagnostics") or {}
    steps, restarts = int(settings.get("steps", 50)), int(settings.get("restarts", 2))
    runs = []
    crafted = surrogates(model, x[:batch_size], settings, bpda)
    if "randomised" in evidence:
        crafted.append({"kind": "eot", "model": EOT(model, settings.get("eot_samples", 8)),
                        "why": f"gradients averaged over {settings.get('eot_samples', 8)} forward passes"})
    attacks: list[dict] = [{**c, "attack": "pgd"} for c in crafted]
    if {"flag b", "gradient mismatch", "zero gradients"} & set(evidence) and diag.get("spsa"):
        attacks.append({"kind": "spsa", "model": model, "attack": "spsa", "why": "gradient-free (no model gradient)"})
    if "flag a" in evidence:
        attacks.append({"kind": "pgd_strong", "model": model, "attack": "pgd",
                        "why": f"PGD with {diag.get('strong_steps')} steps, {diag.get('strong_restarts')} restarts",
                        "steps": int(diag.get("strong_steps", steps)), "restarts": int(diag.get("strong_restarts", 1))})
    if "flag e" in evidence:
        attacks.append({"kind": "pgd_margin", "model": model, "attack": "pgd", "loss": "margin",
                        "why": "PGD on the margin loss"})
    for a in attacks:
        outcomes = []
        for e in eps:
            note(f"adaptive {a['kind']} eps={e:.4g}")
            chunks = []
            for i in range(0, x.shape[0], batch_size):
                xb, yb = x[i:i + batch_size], y[i:i + batch_size]
                if a["attack"] == "spsa":
                    sp = diag["spsa"]
                    x_adv = spsa(a["model"], xb, yb, e, steps=int(sp["steps"]), samples=int(sp["samples"]),
                                 lr=float(sp["lr"]), seed=seed)
                else:
                    x_adv = pgd(a["model"], xb, yb, e, alpha=e / 4, steps=a.get("steps", steps),
                                restarts=a.get("restarts", restarts), loss=a.get("loss", "ce"), seed=seed)
                chunks.append(x_adv)
            mine = correct(model, torch.cat(chunks), y, batch_size) & clean
            outcomes.append((e, mine))
        answers = sorted(evidence)
        runs.append({"name": f"adaptive_{a['kind']}", "kind": a["kind"], "why": a["why"], "answers": answers,
                     "evidence": evidence, "outcomes": outcomes})
    return runs
