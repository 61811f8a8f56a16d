"""Automatic gradient-masking diagnostics (Athalye, Carlini, Wagner, ICML 2018;
Carlini et al., "On Evaluating Adversarial Robustness", 2019).

Probes, all on the same test points at one L∞ radius ε (accuracy = fraction still correct):

    fgsm          single-step FGSM at ε
    pgd           the usual PGD (``steps``, one restart, cross-entropy)
    pgd_strong    PGD with ``strong_steps`` and ``strong_restarts``, same α and seed: its first
                  restart repeats ``pgd``'s iterates and goes on, so it can only be stronger
    pgd_margin    PGD on the CW margin loss, same steps as ``pgd``
    spsa          gradient-free SPSA at ε
    transfer      PGD crafted on a source model (when one is given)
    large_eps     PGD at growing radii up to ε = 1 (the whole pixel box)

Flags, each naming its evidence and threshold (accuracies as fractions):

    a  stronger PGD helps a lot:     acc(pgd) − acc(pgd_strong)        > STRONGER_PGD_GAP
    b  black-box beats white-box:    acc(pgd) − min(acc(spsa), acc(transfer)) > BLACK_BOX_GAP
    c  no collapse at large ε:       acc(pgd at the largest ε)         > LARGE_EPS_ACCURACY
    d  one step beats many:          acc(pgd) − acc(fgsm)              > SINGLE_STEP_GAP
    e  margin loss beats CE a lot:   acc(pgd) − acc(pgd_margin)        > MARGIN_GAP

Paper D found exactly these signs by hand: PGD-20 left 62 % "robust" accuracy on an ODE
network that CW and SPSA drove to ~0–15 % (adaptive solvers masked the gradient).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from stablenets.attacks import fgsm, pgd, spsa, transfer

__all__ = ["run_probes", "masking_flags", "STRONGER_PGD_GAP", "BLACK_BOX_GAP", "LARGE_EPS_ACCURACY",
           "SINGLE_STEP_GAP", "MARGIN_GAP"]

STRONGER_PGD_GAP = 0.10     # (a) 10 accuracy points (a few are normal for a short PGD)
BLACK_BOX_GAP = 0.03        # (b) 3 points: a black-box attack should never beat white-box PGD
LARGE_EPS_ACCURACY = 0.05   # (c) at ε = 1 any image is reachable: accuracy must be ~0
SINGLE_STEP_GAP = 0.03      # (d) 3 points
MARGIN_GAP = 0.10           # (e) 10 points ("by a lot"; a few points are normal)


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> float:
    correct = torch.zeros((), device=x.device)
    with torch.no_grad():
        for i in range(0, x.shape[0], batch_size):
            correct += (model(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum()
    return float(correct) / max(1, x.shape[0])


def _batched(attack: Callable, model, x, y, batch_size: int, **kw) -> torch.Tensor:
    return torch.cat([attack(model, x[i:i + batch_size], y[i:i + batch_size], **kw)
                      for i in range(0, x.shape[0], batch_size)])


def run_probes(model: nn.Module, x: torch.Tensor, y: torch.Tensor, settings: dict, *,
               source_model: nn.Module | None = None, batch_size: int = 256, seed: int = 0,
               progress: Callable[[str], None] | None = None) -> dict:
    """Accuracy of every probe on (x, y) at radius ``settings["eps"]``; see the module docstring."""
    eps = float(settings["eps"])
    alpha = settings.get("alpha_ratio", 0.25) * eps
    steps = int(settings["steps"])
    note = progress or (lambda name: None)

    def acc_of(name, attack, on=model, **kw):
        note(name)
        return _accuracy(model, _batched(attack, on, x, y, batch_size, **kw), y, batch_size)

    out: dict[str, object] = {"eps": eps, "n": int(x.shape[0]), "clean": _accuracy(model, x, y, batch_size)}
    out["fgsm"] = acc_of("fgsm", fgsm, eps=eps)
    out["pgd"] = acc_of("pgd", pgd, eps=eps, alpha=alpha, steps=steps, seed=seed)
    strong_steps, restarts = int(settings["strong_steps"]), int(settings["strong_restarts"])
    out["pgd_strong"] = acc_of("pgd_strong", pgd, eps=eps, alpha=alpha, steps=strong_steps, restarts=restarts,
                               seed=seed)
    out["pgd_strong_settings"] = {"steps": strong_steps, "restarts": restarts}
    out["pgd_margin"] = acc_of("pgd_margin", pgd, eps=eps, alpha=alpha, steps=steps, loss="margin", seed=seed)
    sp = settings.get("spsa") or {}
    if sp:
        out["spsa"] = acc_of("spsa", spsa, eps=eps, steps=int(sp["steps"]), samples=int(sp["samples"]),
                             lr=float(sp["lr"]), seed=seed)
    if source_model is not None:
        note("transfer")
        x_adv = _batched(lambda m, xb, yb, **kw: transfer(source_model, m, xb, yb, "pgd", **kw), model, x, y,
                         batch_size, eps=eps, alpha=alpha, steps=steps, seed=seed)
        out["transfer"] = _accuracy(model, x_adv, y, batch_size)
    out["large_eps"] = {str(e): acc_of(f"pgd eps={e}", pgd, eps=float(e), alpha=float(e) / 4, steps=steps,
                                       seed=seed) for e in settings.get("large_eps", [])}
    return out


def _flag(code: str, raised: bool, message: str, evidence: dict, threshold: float) -> dict:
    return {"flag": code, "raised": bool(raised), "message": message, "evidence": evidence,
            "threshold": threshold}


def masking_flags(probes: dict) -> list[dict]:
    """The flags (a)–(e) from the probe accuracies; a flag whose evidence is missing is not raised."""
    p = probes["pgd"]
    flags = []
    gap = p - probes["pgd_strong"]
    flags.append(_flag("a", gap > STRONGER_PGD_GAP,
                       f"stronger PGD ({probes['pgd_strong_settings']}) lowers accuracy by {gap:.1%}",
                       {"pgd": p, "pgd_strong": probes["pgd_strong"]}, STRONGER_PGD_GAP))
    black = {k: probes[k] for k in ("spsa", "transfer") if k in probes}
    gap = p - min(black.values()) if black else 0.0
    flags.append(_flag("b", gap > BLACK_BOX_GAP,
                       f"a gradient-free/transfer attack beats white-box PGD by {gap:.1%}" if black
                       else "no gradient-free or transfer probe was run",
                       {"pgd": p, **black}, BLACK_BOX_GAP))
    large = probes.get("large_eps") or {}
    if large:
        top = max(large, key=float)
        flags.append(_flag("c", large[top] > LARGE_EPS_ACCURACY,
                           f"accuracy {large[top]:.1%} at eps={top} (should approach 0)",
                           {"pgd_at_eps": large}, LARGE_EPS_ACCURACY))
    else:
        flags.append(_flag("c", False, "no large-radius probe was run", {}, LARGE_EPS_ACCURACY))
    gap = p - probes["fgsm"]
    flags.append(_flag("d", gap > SINGLE_STEP_GAP, f"single-step FGSM beats iterative PGD by {gap:.1%}",
                       {"pgd": p, "fgsm": probes["fgsm"]}, SINGLE_STEP_GAP))
    gap = p - probes["pgd_margin"]
    flags.append(_flag("e", gap > MARGIN_GAP, f"the margin loss beats cross-entropy by {gap:.1%}",
                       {"pgd": p, "pgd_margin": probes["pgd_margin"]}, MARGIN_GAP))
    return flags
