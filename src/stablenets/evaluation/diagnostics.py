"""Automatic gradient-masking diagnostics (Athalye, Carlini, Wagner, ICML 2018;
Carlini et al., "On Evaluating Adversarial Robustness", 2019), decided by paired tests.

Probes, all on the same test points at one L∞ radius ε; each gives the per-example outcome
r_i = 1 when the model still classifies example i correctly:

    fgsm          single-step FGSM at ε
    pgd           the usual PGD (``steps``, one restart, cross-entropy)
    pgd_strong    PGD with ``strong_steps`` and ``strong_restarts``, same α and seed: its first
                  restart repeats ``pgd``'s iterates and goes on, so it can only be stronger
    pgd_margin    PGD on the CW margin loss, same steps as ``pgd``
    spsa          gradient-free SPSA at ε
    transfer      PGD crafted on a source model (when one is given)
    large_eps     PGD at growing radii up to ε = 1 (the whole pixel box)

Flags compare two attacks on the same examples with McNemar's exact test: with b the number
of examples the reference attack leaves correct and the challenger breaks, and c the reverse,
under "the challenger is no stronger" b ~ Binomial(b + c, 1/2) at most, so the one-sided p-value
is P(X ≥ b). A flag is raised when p < ``p_value`` *and* the accuracy gap exceeds its practical
threshold (a few points are normal between any two attacks); when the gap exceeds the threshold
but the test cannot reject, or when even the most lopsided outcome could not (fewer than
log2(1/p_value) examples in the gap), the flag says "n too small to decide".

    a  stronger PGD helps a lot:     pgd vs pgd_strong                       gap > STRONGER_PGD_GAP
    b  black-box beats white-box:    pgd vs (spsa or transfer breaks it)     gap > BLACK_BOX_GAP
    c  no collapse at large ε:       accuracy at the largest ε vs LARGE_EPS_ACCURACY (binomial test)
    d  one step beats many:          pgd vs fgsm                             gap > SINGLE_STEP_GAP
    e  margin loss beats CE a lot:   pgd vs pgd_margin                       gap > MARGIN_GAP

Paper D found exactly these signs by hand: PGD-20 left 62 % "robust" accuracy on an ODE
network that CW and SPSA drove to ~0–15 % (adaptive solvers masked the gradient).
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from stablenets.attacks import fgsm, pgd, spsa, transfer

__all__ = ["run_probes", "masking_flags", "mcnemar", "correct", "binomial_tail", "STRONGER_PGD_GAP", "BLACK_BOX_GAP",
           "LARGE_EPS_ACCURACY", "SINGLE_STEP_GAP", "MARGIN_GAP", "P_VALUE"]

STRONGER_PGD_GAP = 0.10     # (a) 10 accuracy points (a few are normal for a short PGD)
BLACK_BOX_GAP = 0.03        # (b) 3 points: a black-box attack should never beat white-box PGD
LARGE_EPS_ACCURACY = 0.05   # (c) at ε = 1 any image is reachable: accuracy must be ~0
SINGLE_STEP_GAP = 0.03      # (d) 3 points
MARGIN_GAP = 0.10           # (e) 10 points ("by a lot"; a few points are normal)
P_VALUE = 0.05              # level of the paired tests


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p), exactly."""
    if k <= 0:
        return 1.0
    if k > n or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    # In logs: the terms of thousands of trials overflow a float (C(2000, 1000) ≈ 10^600).
    logs = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * math.log(p)
            + (n - i) * math.log1p(-p) for i in range(k, n + 1)]
    top = max(logs)
    return float(min(1.0, math.exp(top) * sum(math.exp(v - top) for v in logs)))


def mcnemar(reference: list[bool], challenger: list[bool]) -> dict:
    """One-sided exact McNemar test that ``challenger`` breaks more examples than ``reference``.

    Returns {"b": reference correct & challenger wrong, "c": the reverse, "p_value"}.
    """
    b = sum(1 for r, s in zip(reference, challenger) if r and not s)
    c = sum(1 for r, s in zip(reference, challenger) if s and not r)
    return {"b": b, "c": c, "p_value": binomial_tail(b, b + c, 0.5)}


def correct(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Per-example flags: the model's prediction is the label (batched, no gradients)."""
    with torch.no_grad():
        return torch.cat([model(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]
                          for i in range(0, x.shape[0], batch_size)])


def _batched(attack: Callable, model, x, y, batch_size: int, **kw) -> torch.Tensor:
    return torch.cat([attack(model, x[i:i + batch_size], y[i:i + batch_size], **kw)
                      for i in range(0, x.shape[0], batch_size)])


def run_probes(model: nn.Module, x: torch.Tensor, y: torch.Tensor, settings: dict, *,
               source_model: nn.Module | None = None, batch_size: int = 256, seed: int = 0,
               progress: Callable[[str], None] | None = None) -> dict:
    """Accuracy and per-example outcomes of every probe on (x, y) at radius ``settings["eps"]``."""
    eps = float(settings["eps"])
    alpha = settings.get("alpha_ratio", 0.25) * eps
    steps = int(settings["steps"])
    note = progress or (lambda name: None)
    robust: dict[str, list[bool]] = {}

    def outcome(name, attack, on=model, **kw):
        note(name)
        r = correct(model, _batched(attack, on, x, y, batch_size, **kw), y, batch_size)
        robust[name] = [bool(v) for v in r.tolist()]
        return float(r.float().mean())

    out: dict[str, object] = {"eps": eps, "n": int(x.shape[0])}
    clean = correct(model, x, y, batch_size)
    out["clean"] = float(clean.float().mean())
    robust["clean"] = [bool(v) for v in clean.tolist()]
    out["fgsm"] = outcome("fgsm", fgsm, eps=eps)
    out["pgd"] = outcome("pgd", pgd, eps=eps, alpha=alpha, steps=steps, seed=seed)
    strong_steps, restarts = int(settings["strong_steps"]), int(settings["strong_restarts"])
    out["pgd_strong"] = outcome("pgd_strong", pgd, eps=eps, alpha=alpha, steps=strong_steps, restarts=restarts,
                                seed=seed)
    out["pgd_strong_settings"] = {"steps": strong_steps, "restarts": restarts}
    out["pgd_margin"] = outcome("pgd_margin", pgd, eps=eps, alpha=alpha, steps=steps, loss="margin", seed=seed)
    sp = settings.get("spsa") or {}
    if sp:
        out["spsa"] = outcome("spsa", spsa, eps=eps, steps=int(sp["steps"]), samples=int(sp["samples"]),
                              lr=float(sp["lr"]), seed=seed)
    if source_model is not None:
        out["transfer"] = outcome("transfer", lambda m, xb, yb, **kw: transfer(source_model, m, xb, yb, "pgd", **kw),
                                  eps=eps, alpha=alpha, steps=steps, seed=seed)
    large = {}
    for e in settings.get("large_eps", []):
        large[str(e)] = outcome(f"pgd eps={e}", pgd, eps=float(e), alpha=float(e) / 4, steps=steps, seed=seed)
    out["large_eps"] = large
    out["robust"] = robust
    return out


def _paired(code: str, what: str, reference: str, challengers: list[str], probes: dict, threshold: float,
            level: float) -> dict:
    robust = probes.get("robust") or {}
    present = [c for c in challengers if c in probes]
    if not present:
        return {"flag": code, "raised": False, "decision": "not run", "message": f"no {'/'.join(challengers)} probe",
                "evidence": {}, "threshold": threshold, "p_value": None}
    ref_acc = probes[reference]
    if all(c in robust for c in present) and reference in robust:
        broken_by_any = [all(robust[c][i] for c in present) for i in range(len(robust[reference]))]
        test = mcnemar(robust[reference], broken_by_any)
        chal_acc = sum(broken_by_any) / max(1, len(broken_by_any))
    else:  # accuracies only (no per-example outcomes): no test possible
        test = {"b": None, "c": None, "p_value": None}
        chal_acc = min(probes[c] for c in present)
    gap = ref_acc - chal_acc
    p = test["p_value"]
    n = int(probes.get("n", len(robust.get(reference, [])) or 0))
    least = math.ceil(math.log2(1 / level))    # examples a gap needs before any test can reject
    if gap <= threshold:
        decision = "not raised"
    elif p is None:
        decision = "raised"
    elif p < level:
        decision = "raised"
    else:
        decision = "n too small"
    if p is not None and gap > threshold and (test["b"] + test["c"]) < least:
        decision = "n too small"
    message = f"{what}: accuracy {ref_acc:.1%} → {chal_acc:.1%} (gap {gap:.1%}, threshold {threshold:.0%})"
    if p is not None:
        message += f", McNemar b={test['b']} c={test['c']} p={p:.3g}"
    if decision == "n too small":
        message += (f"; n = {n} is too small to decide at p < {level:g} (a decision needs ≥ {least} examples "
                    f"in the gap; one example is {1 / max(1, n):.1%})")
    evidence = {reference: ref_acc, **{c: probes[c] for c in present}}
    return {"flag": code, "raised": decision == "raised", "decision": decision, "message": message,
            "evidence": evidence, "threshold": threshold, "p_value": p, "mcnemar": test}


def masking_flags(probes: dict, level: float = P_VALUE) -> list[dict]:
    """The flags (a)–(e) from the probes; a flag whose evidence is missing is not raised."""
    flags = [_paired("a", "stronger PGD " + str(probes.get("pgd_strong_settings", "")), "pgd", ["pgd_strong"],
                     probes, STRONGER_PGD_GAP, level),
             _paired("b", "a gradient-free/transfer attack against white-box PGD", "pgd", ["spsa", "transfer"],
                     probes, BLACK_BOX_GAP, level)]
    large = probes.get("large_eps") or {}
    if large:
        top = max(large, key=float)
        acc = large[top]
        n = int(probes.get("n", 0))
        k = round(acc * n)
        p = binomial_tail(k, n, LARGE_EPS_ACCURACY) if n else None
        raised = acc > LARGE_EPS_ACCURACY and (p is None or p < level)
        decision = "raised" if raised else ("n too small" if acc > LARGE_EPS_ACCURACY else "not raised")
        message = (f"accuracy {acc:.1%} at eps={top} (should approach 0; binomial test against "
                   f"{LARGE_EPS_ACCURACY:.0%}: p={p:.3g})" if p is not None else f"accuracy {acc:.1%} at eps={top}")
        flags.append({"flag": "c", "raised": raised, "decision": decision, "message": message,
                      "evidence": {"pgd_at_eps": large}, "threshold": LARGE_EPS_ACCURACY, "p_value": p})
    else:
        flags.append({"flag": "c", "raised": False, "decision": "not run", "message": "no large-radius probe was run",
                      "evidence": {}, "threshold": LARGE_EPS_ACCURACY, "p_value": None})
    flags.append(_paired("d", "single-step FGSM against iterative PGD", "pgd", ["fgsm"], probes,
                         SINGLE_STEP_GAP, level))
    flags.append(_paired("e", "the margin loss against cross-entropy", "pgd", ["pgd_margin"], probes,
                         MARGIN_GAP, level))
    return flags
