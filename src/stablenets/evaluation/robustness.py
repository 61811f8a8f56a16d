"""``evaluate_robustness``: clean accuracy, noise, attacks, worst case, and masking flags.

For every attack of a suite and every radius ε, the per-sample robust flag r_i(attack, ε)
is 1 when the model still classifies x_adv,i correctly. Reported numbers:

    accuracy(attack, ε)  = mean_i r_i(attack, ε)
    worst_case(norm, ε)  = mean_i Π_attacks r_i(attack, ε)      (every attack of that ball)

With ``cascade`` each attack of a ball runs only on the survivors of the previous ones
(AutoAttack's scheme): the worst case is the same, it costs less, and the per-attack
numbers are then cumulative (marked ``"cumulative": true``). Without it each attack runs
on every point, as the papers report them.

Everything runs in float32 with autocast disabled, batched on the model's device.
"""
from __future__ import annotations

import time
from typing import Callable

import torch
from torch import nn

from stablenets.attacks import get_attack, transfer
from stablenets.attacks.base import Norm, per_sample_norm
from stablenets.evaluation.checks import preflight
from stablenets.evaluation.diagnostics import masking_flags, run_probes
from stablenets.evaluation.suites import apply_overrides, get_suite

__all__ = ["evaluate_robustness", "NoiseSets"]

NoiseSets = Callable[[str, int], tuple[torch.Tensor, torch.Tensor, str]]
_NOT_KWARGS = {"attack", "eps", "alpha_ratio"}


def _key(eps) -> str:
    return "none" if eps is None else f"{float(eps):.6g}"


def _device_of(model: nn.Module, x: torch.Tensor) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else x.device


def _predict_correct(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]
                          for i in range(0, x.shape[0], batch_size)])


def _attack_kwargs(entry: dict, eps) -> dict:
    kw = {k: v for k, v in entry.items() if k not in _NOT_KWARGS}
    if kw.get("alpha") is None and ("alpha" in entry or "alpha_ratio" in entry):
        kw["alpha"] = float(entry.get("alpha_ratio", 0.25)) * float(eps)
    if eps is not None or entry["attack"] == "cw_l2":
        kw["eps"] = eps
    return kw


def _norm_of(entry: dict) -> str:
    return "l2" if entry["attack"] == "cw_l2" else Norm.parse(entry.get("norm", "linf")).value


class _Bar:
    """A tqdm bar over named units of work, or nothing."""

    def __init__(self, total: int, enabled: bool):
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm
            # disable=None: quiet when stderr is not a terminal (logs, CI, pipes)
            self.bar = tqdm(total=total, desc="robustness", unit="task", disable=None)

    def step(self, name: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(name)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


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
                table[group][str(sev)] = float(_predict_correct(model, xn.to(x.device).float(), yn.to(x.device),
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
            if kind not in kinds:
                raise ValueError(f"unknown ZeroSNet noise {kind!r}; valid: {sorted(kinds)}")
            table[kind] = {}
            for level in levels:
                acc = _predict_correct(model, kinds[kind](level), y, batch_size).float().mean()
                table[kind][str(level)] = float(acc)
                bar.step(f"{kind} {level}")
        out["zerosnet"] = {"accuracy": table, "source": "generated"}
    return out


def _run_attack(fn, model, x, y, idx, kw, batch_size, norm: Norm) -> tuple[torch.Tensor, float]:
    """Robust flags of the points ``idx`` under ``fn``, and the largest perturbation norm."""
    flags, largest = [], 0.0
    for i in range(0, idx.numel(), batch_size):
        j = idx[i:i + batch_size]
        xb, yb = x[j], y[j]
        x_adv = fn(model, xb, yb, **kw)
        flags.append(_predict_correct(model, x_adv, yb, batch_size))
        largest = max(largest, float(per_sample_norm(x_adv - xb, norm).max()))
    return (torch.cat(flags) if flags else torch.zeros(0, dtype=torch.bool, device=x.device)), largest


def evaluate_robustness(model: nn.Module, x: torch.Tensor, y: torch.Tensor, suite: str | dict = "quick",
                        overrides: dict | None = None, *, batch_size: int = 256, progress: bool = True,
                        source_model: nn.Module | None = None, noise_sets: NoiseSets | None = None) -> dict:
    """Evaluate ``model`` on (x, y) with a named suite (or a suite dict); returns a JSON-able dict.

    Args:
        x, y: float images in [0, 1] (N, C, H, W) and int64 labels; moved to the model's device.
        suite: "A".."E", "quick", "full" (see ``suites.py``) or a suite dict.
        overrides: dotted-key settings, e.g. {"attacks.pgd.steps": 50}.
        source_model: source of the transfer attacks (skipped without one).
        noise_sets: (group, severity) -> (x_noisy, y, source); default generates the
            CIFAR-10-C noise from x with the published formulas (source "generated").
    """
    cfg = get_suite(suite, overrides) if isinstance(suite, str) else apply_overrides(suite, overrides)
    if not torch.is_tensor(x) or not x.is_floating_point():
        raise ValueError("x must be float images in [0, 1]; convert uint8 with x.float() / 255")
    device = _device_of(model, x)
    x, y = x.to(device, torch.float32), y.to(device)
    seed = int(cfg.get("seed", 0))
    diag = cfg.get("diagnostics") or {}
    transfer_cfg = cfg.get("transfer") or None
    n_tasks = sum(len(e["eps"]) for e in cfg["attacks"].values()) + (len(transfer_cfg["eps"]) if transfer_cfg
                                                                      and source_model is not None else 0)
    c10 = (cfg["noise"].get("cifar10c") or {})
    n_tasks += len(c10.get("groups", [])) * len(c10.get("severities", []))
    n_tasks += sum(len(v) for v in (cfg["noise"].get("zerosnet") or {}).values())
    bar = _Bar(n_tasks, progress)
    started = time.perf_counter()
    result: dict = {"suite": cfg, "n": int(x.shape[0]), "device": str(device), "dtype": "float32"}
    try:
        with torch.autocast(device_type=device.type, enabled=False):
            result["preflight"] = preflight(model, x[:batch_size], y[:batch_size])
            was_training = [m.training for m in model.modules()]
            model.eval()
            try:
                clean = _predict_correct(model, x, y, batch_size)
                result["clean"] = float(clean.float().mean())
                result["noise"] = _noise(model, x, y, cfg["noise"], noise_sets, batch_size, seed, bar)
                result.update(_attacks(model, x, y, clean, cfg, source_model, batch_size, seed, bar))
                if diag.get("enabled", False):
                    n = min(int(diag.get("n", 200)), x.shape[0])
                    probes = run_probes(model, x[:n], y[:n], diag, source_model=source_model,
                                        batch_size=batch_size, seed=seed)
                    result["diagnostics"] = {"probes": probes, "flags": masking_flags(probes)}
            finally:
                for module, mode in zip(model.modules(), was_training):
                    module.training = mode
    finally:
        bar.close()
    flags = result.get("diagnostics", {}).get("flags", [])
    result["flags_raised"] = [f["flag"] for f in flags if f["raised"]]
    result["seconds"] = time.perf_counter() - started
    return result


def _transfer_from(source_model: nn.Module, attack: Callable) -> Callable:
    def transfer_attack(model, x, y, **kw):
        return transfer(source_model, model, x, y, attack, **kw)
    transfer_attack.__name__ = f"transfer_{attack.__name__}"
    return transfer_attack


def _attacks(model, x, y, clean, cfg, source_model, batch_size, seed, bar) -> dict:
    cascade = bool(cfg.get("cascade", False))
    per_attack: dict = {}
    alive: dict[tuple[str, str], torch.Tensor] = {}   # (norm, eps) -> per-sample robust flags
    members: dict[tuple[str, str], list[str]] = {}
    entries = [(name, entry, False) for name, entry in cfg["attacks"].items()]
    tcfg = cfg.get("transfer")
    transfer_result: dict = {"skipped": "no transfer in this suite"} if not tcfg else \
        {"skipped": "no source model given (pass source_model / --source)"}
    if tcfg and source_model is not None:
        entries.append(("transfer", {"norm": "linf", **tcfg, "attack": tcfg.get("attack", "pgd")}, True))
    for name, entry, is_transfer in entries:
        fn = get_attack(entry["attack"])
        if is_transfer:
            fn = _transfer_from(source_model, fn)
        res = {"attack": entry["attack"], "settings": {k: v for k, v in entry.items()}, "accuracy": {},
               "max_perturbation": {}, "seconds": {}, "cumulative": cascade}
        for eps in entry["eps"]:
            key, norm = _key(eps), _norm_of(entry)
            if entry["attack"] == "autoattack":
                kw = {k: v for k, v in entry.items() if k in ("norm", "version")} | {"eps": eps, "seed": seed}
            else:
                kw = _attack_kwargs(entry, eps) | {"seed": seed}
            group = (norm, key)
            flags = alive.get(group, clean.clone())
            idx = flags.nonzero().squeeze(1) if cascade else torch.arange(x.shape[0], device=x.device)
            t0 = time.perf_counter()
            robust, largest = _run_attack(fn, model, x, y, idx, kw, batch_size, Norm.parse(norm))
            mine = torch.zeros_like(clean)
            mine[idx] = robust
            mine &= clean
            alive[group] = flags & mine
            members.setdefault(group, []).append(name)
            res["accuracy"][key] = float((alive[group] if cascade else mine).float().mean())
            res["max_perturbation"][key] = largest
            res["seconds"][key] = time.perf_counter() - t0
            bar.step(f"{name} eps={key}")
        if is_transfer:
            transfer_result = res
        else:
            per_attack[name] = res
    worst: dict = {}
    for (norm, key), flags in alive.items():
        worst.setdefault(norm, {})[key] = {"accuracy": float(flags.float().mean()), "attacks": members[(norm, key)]}
    return {"attacks": per_attack, "transfer": transfer_result, "worst_case": worst}
