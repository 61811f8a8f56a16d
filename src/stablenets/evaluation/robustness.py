"""``evaluate_robustness``: clean accuracy, noise, attacks, masking flags, adaptive attacks, worst case.

For every attack of a suite and every radius ε, the per-sample robust flag r_i(attack, ε)
is 1 when the model still classifies x_adv,i correctly. Reported numbers:

    accuracy(attack, ε)  = mean_i r_i(attack, ε)
    worst_case(norm, ε)  = mean_i Π_attacks r_i(attack, ε)      (every attack of that ball,
                                                                 adaptive ones included)

The robust accuracy of a report is the worst case: never a single attack's number.

Order of work: every setting of the suite is checked first (an unknown attack key, a
negative step, an L∞ radius above 1, a missing optional package: one error before any
work). Then the pre-flight checks, clean accuracy, noise, the suite's attacks, the masking
diagnostics and, when a flag is raised, the adaptive attacks that answer it
(``adaptive.py``). With ``cascade`` each attack of a ball runs only on the survivors of the
previous ones (AutoAttack's scheme): the worst case is the same, it costs less, and the
per-attack numbers are then cumulative (marked ``"cumulative": true``). Without it each
attack runs on every point, as the papers report them. An attack registered as
``whole_set`` (AutoAttack) runs once over all its points, not once per batch.

Evaluation-time solver settings (suite key ``solver``: solver, rtol, atol, step_size,
max_nfe) replace those of every ODE block for the evaluation, without editing the
checkpoint, and are restored afterwards.

Everything runs in float32 with autocast disabled, batched on the model's device.
"""
from __future__ import annotations

import contextlib
import dataclasses
import inspect
import time
from typing import Callable

import torch
from torch import nn

from stablenets.attacks import transfer
from stablenets.attacks.base import Norm, per_sample_norm
from stablenets.evaluation.checks import preflight
from stablenets.evaluation.diagnostics import correct, masking_flags, run_probes
from stablenets.evaluation.suites import apply_overrides, get_suite, validate_suite
from stablenets.evaluation.summary import pack_outcomes
from stablenets.progress import Progress
from stablenets.settings import SettingError

__all__ = ["evaluate_robustness", "NoiseSets", "solver_settings", "SolverBudgetError"]

NoiseSets = Callable[[str, int], tuple[torch.Tensor, torch.Tensor, str]]


class SolverBudgetError(RuntimeError):
    """An ODE block needed more function evaluations than the evaluation's ``max_nfe``."""


def _key(eps) -> str:
    return "none" if eps is None else f"{float(eps):.6g}"


def _device_of(model: nn.Module, x: torch.Tensor) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else x.device


@contextlib.contextmanager
def solver_settings(model: nn.Module, solver: dict | None):
    """Replace the ODE blocks' solver settings (keys solver, rtol, atol, step_size; None = keep) and
    cap each block's function evaluations per forward pass at ``max_nfe``; restore afterwards."""
    from stablenets.schemes.continuous import ode_blocks

    solver = {k: v for k, v in (solver or {}).items() if v is not None}
    blocks = ode_blocks(model)
    if not solver or not blocks:
        yield {}
        return
    max_nfe = solver.pop("max_nfe", None)
    saved = [b.settings for b in blocks]
    hooks = []

    def budget(field, args):
        if field.nfe >= max_nfe:
            raise SolverBudgetError(f"an ODE block needed more than solver.max_nfe = {max_nfe} function "
                                    "evaluations in one forward pass; raise it or loosen rtol/atol")
    try:
        for b in blocks:
            b.settings = dataclasses.replace(b.settings, **solver)
            if max_nfe is not None:
                hooks.append(b.field.register_forward_pre_hook(budget))
        yield {**dataclasses.asdict(blocks[0].settings), "max_nfe": max_nfe, "blocks": len(blocks)}
    finally:
        for h in hooks:
            h.remove()
        for b, s in zip(blocks, saved):
            b.settings = s


class _Bar(Progress):
    """The evaluation's progress over its units of work (attack × radius, noise level)."""

    def __init__(self, total: int, enabled: bool):
        super().__init__(total, "robustness", unit="task", enabled=enabled)


def _generated_noise(x: torch.Tensor, y: torch.Tensor, seed: int) -> NoiseSets:
    from stablenets.data.corruptions import corrupt

    def sets(group: str, severity: int):
        return corrupt(x, group, severity, seed=seed), y, "generated"
    return sets


def _noise(model, x, y, cfg, noise_sets, batch_size, seed, bar) -> dict:
    from stablenets.data.corruptions import constant_noise, gaussian_noise, uniform_noise

    out: dict = {}
    c10 = cfg.get("cifar10c")
    if c10:
        sets = noise_sets or _generated_noise(x, y, seed)
        table, sources = {}, set()
        for group in c10["groups"]:
            table[group] = {}
            for sev in c10["severities"]:
                xn, yn, source = sets(group, int(sev))
                sources.add(source)
                table[group][str(sev)] = float(correct(model, xn.to(x.device).float(), yn.to(x.device),
                                                                batch_size).float().mean())
                bar.step(f"{group} s{sev}")
        out["cifar10c"] = {"accuracy": table, "source": "+".join(sorted(sources))}
    zs = cfg.get("zerosnet")
    if zs:
        kinds = {"uniform": lambda lv: uniform_noise(x, float(lv[0]), float(lv[1]), seed=seed),
                 "gaussian": lambda lv: gaussian_noise(x, float(lv), seed=seed),
                 "constant": lambda lv: constant_noise(x, float(lv))}
        table = {}
        for kind, levels in zs.items():
            table[kind] = {}
            for level in levels:
                acc = correct(model, kinds[kind](level), y, batch_size).float().mean()
                table[kind][str(level)] = float(acc)
                bar.step(f"{kind} {level}")
        out["zerosnet"] = {"accuracy": table, "source": f"generated, seed {seed}"}
    return out


def _check_data(x, y) -> None:
    if not torch.is_tensor(x) or not x.is_floating_point():
        raise SettingError("x must be float images in [0, 1]; convert uint8 with x.float() / 255")
    if x.shape[0] == 0:
        raise SettingError("x holds no test points")
    if not torch.is_tensor(y) or y.dim() != 1 or y.shape[0] != x.shape[0] or y.is_floating_point():
        raise SettingError(f"y must be N = {x.shape[0]} integer class labels; got shape "
                           f"{tuple(getattr(y, 'shape', ()))}, dtype {getattr(y, 'dtype', type(y))}")
    if x.min() < 0 or x.max() > 1:
        raise SettingError("x must hold pixels in [0, 1] (models normalise inside); rescale the input")


def evaluate_robustness(model: nn.Module, x: torch.Tensor, y: torch.Tensor, suite: str | dict = "quick",
                        overrides: dict | None = None, *, batch_size: int = 256, progress: bool = True,
                        source_model: nn.Module | None = None, noise_sets: NoiseSets | None = None,
                        bpda: dict | None = None) -> dict:
    """Evaluate ``model`` on (x, y) with a named suite (or a suite dict); returns a JSON-able dict.

    Args:
        x, y: float images in [0, 1] (N, C, H, W) and int64 labels; moved to the model's device.
        suite: "A".."E" (and the per-table suites), "quick", "full" (see ``suites.py``) or a suite dict.
        overrides: dotted-key settings, e.g. {"attacks.pgd20.steps": 50, "eps.linf": [0.3]}.
        source_model: source of the transfer attacks (skipped without one).
        noise_sets: (group, severity) -> (x_noisy, y, source); default generates the
            CIFAR-10-C noise from x with the published formulas (source "generated").
        bpda: {submodule name: differentiable approximation (callable) or None for the identity}:
            the non-differentiable parts the adaptive BPDA attack replaces on the backward pass
            (found automatically when they have a zero gradient).
    """
    from stablenets.evaluation.adaptive import run_adaptive

    cfg = get_suite(suite, overrides) if isinstance(suite, str) else apply_overrides(suite, overrides)
    plan = validate_suite(cfg)
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise SettingError(f"batch_size = {batch_size!r}: must be an integer ≥ 1")
    _check_data(x, y)
    skipped: dict[str, str] = {}
    for p in plan:
        why = p["spec"].unavailable() if p["radii"] else None
        if why is None:
            continue
        if (cfg.get("autoattack") or {}).get("required", False):
            raise SettingError(f"attacks.{p['name']}: {why}  (or run without it: --set autoattack.required=false)")
        skipped[p["name"]] = why
    plan = [p for p in plan if p["name"] not in skipped]
    device = _device_of(model, x)
    x, y = x.to(device, torch.float32), y.to(device).long()
    seed = int(cfg.get("seed", 0))
    diag = cfg.get("diagnostics") or {}
    c10 = (cfg["noise"].get("cifar10c") or {})
    n_tasks = sum(len(p["radii"]) for p in plan if not p.get("transfer") or source_model is not None)
    n_tasks += len(c10.get("groups", [])) * len(c10.get("severities", []))
    n_tasks += sum(len(v) for v in (cfg["noise"].get("zerosnet") or {}).values())
    bar = _Bar(n_tasks, progress)
    started = time.perf_counter()
    result: dict = {"suite": cfg, "n": int(x.shape[0]), "device": str(device), "dtype": "float32",
                    "skipped_attacks": skipped}
    try:
        with torch.autocast(device_type=device.type, enabled=False), solver_settings(model, cfg.get("solver")) as solver:
            result["solver"] = solver
            result["preflight"] = preflight(model, x[:batch_size], y[:batch_size],
                                            fidelity_samples=int((cfg.get("fidelity") or {}).get("samples", 0)))
            was_training = [m.training for m in model.modules()]
            model.eval()
            try:
                clean = correct(model, x, y, batch_size)
                result["clean"] = float(clean.float().mean())
                result["clean_outcomes"] = pack_outcomes(clean.tolist())
                result["noise"] = _noise(model, x, y, cfg["noise"], noise_sets, batch_size,
                                         int(cfg.get("noise_seed", 0)), bar)
                state = _attacks(model, x, y, clean, cfg, plan, source_model, batch_size, seed, bar)
                if diag.get("enabled", False):
                    n = min(int(diag.get("n", 200)), x.shape[0])
                    settings = {**diag, "eps": _diagnostic_eps(cfg, diag)}
                    probes = run_probes(model, x[:n], y[:n], settings, source_model=source_model,
                                        batch_size=batch_size, seed=seed, progress=lambda s: bar.note(f"probe {s}"))
                    result["diagnostics"] = {"probes": probes,
                                             "flags": masking_flags(probes, float(diag.get("p_value", 0.05)))}
                if (cfg.get("adaptive") or {}).get("enabled", False):
                    runs = run_adaptive(model, x, y, clean, cfg, result, source_model=source_model, bpda=bpda,
                                        batch_size=batch_size, seed=seed, note=bar.note,
                                        eps=_adaptive_radii(cfg, diag))
                    for run in runs:
                        res = {"attack": run["kind"], "source": "adaptive: " + run["why"],
                               "threat": {"norm": "linf", "radius": "ball"}, "accuracy": {}, "cumulative": False,
                               "answers": run["answers"]}
                        for eps, mine in run["outcomes"]:
                            _record(state, run["name"], res, "linf", eps, mine, clean)
                    result["adaptive"] = {"evidence": runs[0]["evidence"] if runs else {},
                                          "runs": [{k: v for k, v in r.items() if k not in ("outcomes", "evidence")}
                                                   for r in runs]}
                result.update(_summarise(state))
            finally:
                for module, mode in zip(model.modules(), was_training):
                    module.training = mode
    finally:
        bar.close()
    flags = result.get("diagnostics", {}).get("flags", [])
    result["flags_raised"] = [f["flag"] for f in flags if f["raised"]]
    result["seconds"] = time.perf_counter() - started
    return result


def _diagnostic_eps(cfg: dict, diag: dict) -> float:
    if diag.get("eps") is not None:
        return float(diag["eps"])
    radii = [e for e in (cfg.get("eps") or {}).get("linf", []) or [] if e is not None]
    radii = radii if isinstance(radii, list) else [radii]
    return float(max(radii)) if radii else 8 / 255


def _adaptive_radii(cfg: dict, diag: dict) -> list[float]:
    radii = (cfg.get("eps") or {}).get("linf")
    radii = [radii] if isinstance(radii, (int, float)) else list(radii or [])
    return [float(e) for e in radii if e is not None] or [_diagnostic_eps(cfg, diag)]


def _transfer_from(source_model: nn.Module, attack: Callable) -> Callable:
    def transfer_attack(model, x, y, **kw):
        return transfer(source_model, model, x, y, attack, **kw)
    transfer_attack.__name__ = f"transfer_{attack.__name__}"
    return transfer_attack


def _run_attack(fn, model, x, y, idx, kw, batch_size, norm: Norm, whole_set: bool, bar, label: str):
    """Robust flags of the points ``idx`` under ``fn``, the largest perturbation norm, extra info."""
    flags, largest, info = [], 0.0, {}
    step = idx.numel() if whole_set else batch_size
    chunks = max(1, -(-idx.numel() // max(1, step)))
    for c, i in enumerate(range(0, idx.numel(), step)):
        bar.note(f"{label} batch {c + 1}/{chunks}")
        j = idx[i:i + step]
        xb, yb = x[j], y[j]
        out = fn(model, xb, yb, **kw)
        if isinstance(out, tuple):
            out, info = out
        flags.append(correct(model, out, yb, batch_size))
        largest = max(largest, float(per_sample_norm(out - xb, norm).max()))
    return (torch.cat(flags) if flags else torch.zeros(0, dtype=torch.bool, device=x.device)), largest, info


def _record(state: dict, name: str, res: dict, norm: str, eps, mine: torch.Tensor, clean: torch.Tensor) -> None:
    key = _key(eps)
    group = (norm, key)
    flags = state["alive"].get(group, clean.clone())
    state["alive"][group] = flags & mine
    state["members"].setdefault(group, []).append(name)
    scored = state["alive"][group] if state["cascade"] else mine
    res["accuracy"][key] = float(scored.float().mean())
    res.setdefault("correct", {})[key] = int(mine.sum())
    res.setdefault("outcomes", {})[key] = pack_outcomes(scored.tolist())  # for paired tests between models
    state["per_attack"].setdefault(name, res)


def _attacks(model, x, y, clean, cfg, plan, source_model, batch_size, seed, bar) -> dict:
    cascade = bool(cfg.get("cascade", False))
    state = {"cascade": cascade, "alive": {}, "members": {}, "per_attack": {}, "transfer": None}
    tcfg = cfg.get("transfer")
    state["transfer"] = {"skipped": "no transfer in this suite"} if not tcfg else \
        {"skipped": "no source model given (pass source_model / --source)"}
    for p in plan:
        is_transfer = p.get("transfer", False)
        if is_transfer and source_model is None:
            continue
        spec = p["spec"]
        fn = _transfer_from(source_model, spec.fn) if is_transfer else spec.fn
        res = {"attack": spec.name, "source": p["source"], "threat": {"norm": p["norm"], "radius": spec.radius},
               "settings": [dataclasses.asdict(s) for s in p["settings"]], "accuracy": {}, "max_perturbation": {},
               "seconds": {}, "cumulative": cascade}
        for eps, settings in zip(p["radii"], p["settings"]):
            key = _key(eps)
            group = (p["norm"], key)
            flags = state["alive"].get(group, clean.clone())
            idx = flags.nonzero().squeeze(1) if cascade else torch.arange(x.shape[0], device=x.device)
            kw = dataclasses.asdict(settings) | {"seed": seed}
            if "log" in inspect.signature(spec.fn).parameters:  # iterations and stages, on the bar
                kw["log"] = lambda line, name=p["name"]: bar.note(f"{name}: {line}")
            t0 = time.perf_counter()
            robust, largest, info = _run_attack(fn, model, x, y, idx, kw, batch_size, Norm.parse(p["norm"]),
                                                spec.whole_set, bar, f"{p['name']} eps={key}")
            mine = torch.zeros_like(clean)
            mine[idx] = robust
            mine &= clean
            _record(state, p["name"], res, p["norm"], eps, mine, clean)
            res["max_perturbation"][key] = largest
            res["seconds"][key] = time.perf_counter() - t0
            if info:
                res.setdefault("info", {})[key] = {k: v for k, v in info.items() if k != "log"}
            bar.step(f"{p['name']} eps={key}")
        if is_transfer:
            state["transfer"] = res
            state["per_attack"].pop(p["name"], None)
    return state


def _summarise(state: dict) -> dict:
    worst: dict = {}
    for (norm, key), flags in state["alive"].items():
        worst.setdefault(norm, {})[key] = {"accuracy": float(flags.float().mean()),
                                           "attacks": state["members"][(norm, key)]}
    per_attack = {k: v for k, v in state["per_attack"].items() if v is not state.get("transfer")}
    return {"attacks": per_attack, "transfer": state["transfer"], "worst_case": worst}
