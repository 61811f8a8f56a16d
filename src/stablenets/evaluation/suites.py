"""Named evaluation suites: each paper's protocol exactly as published, plus "quick" and "full".

A suite is a plain JSON-able dict:

    eps               {"linf": [radii], "l2": [radii]}: set once; every attack without its own
                      ``eps`` inherits the radii of its norm
    noise.cifar10c    {"groups": [...], "severities": [1..5]}       CIFAR-10-C noise groups
    noise.zerosnet    {"uniform": [[a, b], ...], "gaussian": [δ, ...], "constant": [μ, ...]}
    noise_seed        seed of the generated noise
    attacks.<name>    {"attack": registered attack, "source": where the protocol comes from,
                       <the attack's settings>, optional "eps" (radii of its own) and
                       "alpha_ratio" (α = ratio · ε when ``alpha`` is not given)}
    transfer          {"attack": ..., ...}  crafted on a source model (skipped without one)
    cascade           run each attack of a radius only on the survivors of the previous ones
    diagnostics       settings of the gradient-masking probes (see ``diagnostics.py``)
    adaptive          the attacks that answer a raised masking flag (see ``adaptive.py``)
    solver            evaluation-time ODE solver settings (``solver``, ``rtol``, ``atol``,
                      ``step_size``, ``max_nfe``); None keeps the checkpoint's
    autoattack        {"required": false}: without the package, true refuses the suite before any
                      work; false runs it without AutoAttack and the report says so
    fidelity          {"samples": 4}: the pre-flight gradient-fidelity check of models with ODE blocks
                      or IE-skip loops on that many test points (0: off; see ``fidelity.py``)

Every number below is the paper's, cited by section or table in its ``source``; a value the
paper leaves open is a named decision (the README's "Evaluation protocols" gives the reasons).
Each paper suite also runs our stronger attacks (``source`` "stablenets"): random start,
best iterate, restarts and the margin loss. The report shows the paper-protocol number next
to them and the worst case over all, so a protocol that overstates robustness is visible.

Every setting can be overridden with dotted keys, e.g. ``attacks.pgd20.steps=50``,
``eps.linf=[0.3]`` or ``noise.cifar10c.severities=[5]`` (values are parsed as JSON, else kept
as strings); :func:`validate_suite` refuses a wrong one before any work.
"""
from __future__ import annotations

import copy
from typing import Any

from stablenets.overrides import parse_pairs
from stablenets.settings import SettingError, check

__all__ = ["SUITES", "get_suite", "list_suites", "apply_overrides", "parse_overrides", "attack_plan",
           "validate_suite", "radii", "STABLENETS"]

STABLENETS = "stablenets (stronger default)"
FIDELITY_SAMPLES = 4  # test points of the gradient-fidelity pre-flight check (a tight float64 solve each)
NOISE_GROUPS = ["gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise"]
SEVERITIES = [1, 2, 3, 4, 5]
META_KEYS = ("attack", "eps", "alpha_ratio", "source")

# Diagnostics probe settings shared by every suite (Athalye et al. 2018; Carlini et al. 2019).
DIAGNOSTICS = {
    "enabled": True,
    "n": 200,                  # test points used by the probes (the first n)
    "eps": None,               # L∞ radius of the probes; None: the suite's largest L∞ radius
    "alpha_ratio": 0.25,
    "steps": 20,               # the "usual" PGD
    "strong_steps": 100,       # (a) a much stronger PGD: 5× the steps ...
    "strong_restarts": 5,      #     ... and restarts
    "large_eps": [0.1, 0.3, 1.0],  # (c) accuracy must approach 0 as ε grows (ε = 1 spans the box)
    "spsa": {"steps": 20, "samples": 32, "lr": 0.01},
    "p_value": 0.05,           # a flag is raised when its paired test rejects at this level ...
}

ADAPTIVE = {
    "enabled": True,           # run the attack that answers a raised masking flag
    "steps": 50,               # PGD steps of the adaptive attacks (α = ε/4, random start, best iterate)
    "restarts": 2,
    "eot_samples": 8,          # forward passes averaged per gradient for a randomised model
    "solver": "rk4",           # the fixed-grid surrogate solver of ODE blocks ...
    "step_size": 0.05,         # ... and its step
    "implicit_iterations": [5, 0],  # IE-skip surrogates: more inner iterations, and no inner loop
}

SOLVER = {"solver": None, "rtol": None, "atol": None, "step_size": None, "max_nfe": None}


def _ours(steps: int = 20, restarts: int = 2) -> dict:
    """Our stronger PGD next to a paper's: random start, best iterate, restarts, CE and margin loss."""
    base = {"attack": "pgd", "source": STABLENETS, "steps": steps, "alpha_ratio": 0.25, "restarts": restarts,
            "random_start": True, "keep_best": True}
    return {"pgd_ours": {**base, "loss": "ce"}, "pgd_margin_ours": {**base, "loss": "margin"}}


def _pgd_as_published(steps: int, alpha: float, source: str, random_start: bool = False) -> dict:
    """PGD as the papers write it: one start, the last iterate, cross-entropy."""
    return {"attack": "pgd", "source": source, "steps": steps, "alpha": alpha, "restarts": 1,
            "random_start": random_start, "keep_best": False, "loss": "ce"}


def _paper_a(radii_: list[float], table: str) -> dict:
    return {
        "paper": "Yang et al., ICML 2020 (In-ResNet), §4.2, " + table,
        "notes": "noise: the four CIFAR-10-C stochastic-noise groups (A §4.2), all five severities (one "
                 "CIFAR-10-C file per group); attacks: FGSM, IFGSM and PGD, α = 2/255, M = 20 (A §4.2)",
        "eps": {"linf": radii_},
        "noise": {"cifar10c": {"groups": NOISE_GROUPS, "severities": SEVERITIES}},
        "attacks": {
            "fgsm": {"attack": "fgsm", "source": "A §4.2 eq. (19)"},
            # x(0) = x, x(m+1) = Clip(x(m) + α sign ∇), m = 1..M, x(M) returned
            "ifgsm": {"attack": "ifgsm", "source": "A §4.2 eq. (20)", "alpha": 2 / 255, "steps": 20},
            # "the same with IFGSM, except that x(0) = x + δ, δ ~ U[−ε, ε]"
            "pgd": _pgd_as_published(20, 2 / 255, "A §4.2", random_start=True),
            **_ours(),
        },
    }


SUITES: dict[str, dict[str, Any]] = {
    # Paper A: Yang, Liu, Bao, Shi, "Interpolation between Residual and Non-Residual Networks",
    # ICML 2020. A-table3: radii 1/255, 2/255, 4/255; A-table4 to A-table6: 2/255.
    "A": _paper_a([1 / 255, 2 / 255, 4 / 255], "A-table3"),
    "A-table4": _paper_a([2 / 255], "A-table4, A-table5, A-table6"),
    # Paper B: Zhang et al., "Towards Robust ResNet", IJCAI 2019. No attack evaluation: models are
    # trained on noisy inputs (Gaussian noise on normalised pixels; character replacement for
    # AG-NEWS; B §4.2 "Real-world data", B-fig8, appendix F) and tested on clean data. The noise
    # belongs to training (``mode.kind = "noisy"``); this suite measures the clean test accuracy.
    "B": {
        "paper": "Zhang et al., IJCAI 2019 (Towards Robust ResNet), §4.2, B-fig8, appendix F",
        "notes": "trained on noisy inputs, tested on clean data (B §4.2): clean accuracy only, no attacks",
        "eps": {},
        "noise": {},
        "attacks": {},
        "diagnostics": {"enabled": False},
        "adaptive": {"enabled": False},
    },
    # Paper C: Li, He, Lin, "Implicit Euler Skip Connections", ICML 2020. §5.1: PGD δ = 8/255,
    # α = 1/255 for evaluation, x(0) = x, x' = x(M); C&W with Adam, 50 iterations, lr 6e-4, c = 10.
    # C-table2: FGSM δ = 1/255 on CIFAR-10; C-table4: FGSM ε = 16/255 crafted on the oracle model.
    "C": {
        "paper": "Li, He, Lin, ICML 2020 (IE-skip), §5.1, C-table2, C-table3, C-table4, C-fig4",
        "notes": "PGD-20 α 1/255 from x, last iterate (§5.1, C-table3); FGSM 1/255 (C-table2); "
                 "C&W Adam 50 it lr 6e-4 c 10 (§5.1, C-fig4); transfer FGSM 16/255 (C-table4)",
        "eps": {"linf": [8 / 255]},
        "noise": {},
        "attacks": {
            "pgd20": _pgd_as_published(20, 1 / 255, "C §5.1, C-table3"),
            "fgsm": {"attack": "fgsm", "source": "C §5.2, C-table2", "eps": [1 / 255]},
            # the paper writes the targeted form (random wrong target, C&W 2017's average case) and reports
            # no radius: minimal perturbation, no search
            "cw_l2": {"attack": "cw_l2", "source": "C §5.1, C-fig4", "eps": [None], "c": 10.0, "steps": 50,
                      "lr": 6e-4, "kappa": 0.0, "binary_search_steps": 1, "target": "random"},
            **_ours(),
        },
        "transfer": {"attack": "fgsm", "source": "C-table4", "eps": [16 / 255]},
    },
    "C-table1": {
        "paper": "Li, He, Lin, ICML 2020 (IE-skip), §5.2, C-table1 (MNIST)",
        "notes": "FGSM δ = 0.15 on MNIST (§5.1, §5.2, C-table1)",
        "eps": {"linf": [0.15]},
        "noise": {},
        "attacks": {"fgsm": {"attack": "fgsm", "source": "C §5.1, C-table1"}, **_ours()},
    },
    "C-table5": {
        "paper": "Li, He, Lin, ICML 2020 (IE-skip), C-table5 (WRN-34-10)",
        "notes": "PGD-20 and PGD-100, α 1/255 from x, last iterate; C&W as in §5.1",
        "eps": {"linf": [8 / 255]},
        "noise": {},
        "attacks": {
            "pgd20": _pgd_as_published(20, 1 / 255, "C §5.1, C-table5"),
            "pgd100": _pgd_as_published(100, 1 / 255, "C-table5"),
            "cw_l2": {"attack": "cw_l2", "source": "C §5.1, C-table5", "eps": [None], "c": 10.0, "steps": 50,
                      "lr": 6e-4, "kappa": 0.0, "binary_search_steps": 1, "target": "random"},
            **_ours(100),
        },
    },
    "C-fig5": {
        "paper": "Li, He, Lin, ICML 2020 (IE-skip), §5.3, C-fig5 (CIFAR-100)",
        "notes": "PGD with 10, 20, 30, 50, 80 and 100 steps, α 1/255 from x (C-fig5, §5.1)",
        "eps": {"linf": [8 / 255]},
        "noise": {},
        "attacks": {**{f"pgd{k}": _pgd_as_published(k, 1 / 255, "C §5.3, C-fig5") for k in (10, 20, 30, 50, 80, 100)},
                    **_ours(100)},
    },
    # Paper D: Huang et al., "Adversarial Robustness of Stabilized Neural ODEs Might be from
    # Obfuscated Gradients" (SONet), §5.1 "Adversarial attacks".
    "D": {
        "paper": "Huang et al., 2021 (SONet), §5.1, D-table1, D-table2, D-table4",
        "notes": "PGD-L∞ ε .031 step .003, 20 and 1000 steps from x; PGD-L2 ε .5 step .1; CW-L∞ ε .031 "
                 "100 it; SPSA ε .031 20 it 32 samples (§5.1); AutoAttack standard (ours)",
        "eps": {"linf": [0.031], "l2": [0.5]},
        "noise": {},
        "attacks": {
            # x' initialised as the original input (§5.1); the report is on the last iterate
            "pgd20": _pgd_as_published(20, 0.003, "D §5.1, D-table1, D-table2"),
            "pgd1000": _pgd_as_published(1000, 0.003, "D §5.1, D-table1, D-table2"),
            "pgd20_l2": {**_pgd_as_published(20, 0.1, "D §5.1, D-table1"), "norm": "l2"},
            "cw_linf": {"attack": "cw_linf", "source": "D §5.1, D-table4", "steps": 100},
            # samples = Rademacher directions, two queries each (the cleverhans convention of [UOOK18])
            "spsa": {"attack": "spsa", "source": "D §5.1, D-table4", "steps": 20, "samples": 32, "lr": 0.01},
            **_ours(),
            "pgd_l2_ours": {**_ours()["pgd_ours"], "norm": "l2"},
            "autoattack": {"attack": "autoattack", "source": "Croce & Hein 2020 (ours, not in D)",
                           "version": "standard"},
        },
    },
    # Paper E: Chen, Jin, Shang, "Zero Stability Well Predicts Performance of CNNs", AAAI 2022.
    # E-table6 and E §5.3: uniform noise on [−0.08, 0] and [0, 0.08], zero-mean Gaussian σ = 0.01,
    # 0.02, 0.04, constant (grey image) μ = 0.3, added to [0, 1] images and clipped to [0, 1];
    # appendix "Robustness": PyTorch seed 1 for the uniform and Gaussian noise.
    "E": {
        "paper": "Chen, Jin, Shang, AAAI 2022 (ZeroSNet), §5.3, E-table6",
        "notes": "noise levels of E-table6; seed 1, pixels in [0, 1], clipped after the noise (appendix)",
        "eps": {},
        "noise": {"zerosnet": {"uniform": [[-0.08, 0.0], [0.0, 0.08]], "gaussian": [0.01, 0.02, 0.04],
                               "constant": [0.3]}},
        "noise_seed": 1,
        "attacks": {},
        "diagnostics": {"enabled": False},
        "adaptive": {"enabled": False},
    },
    "quick": {
        "paper": "stablenets quick check",
        "notes": "a few minutes on a GPU for n=1000",
        "eps": {"linf": [8 / 255]},
        "noise": {"cifar10c": {"groups": NOISE_GROUPS, "severities": [3]}},
        "attacks": {
            "fgsm": {"attack": "fgsm", "source": STABLENETS},
            "pgd": {"attack": "pgd", "source": STABLENETS, "steps": 10, "alpha_ratio": 0.25},
        },
        "cascade": True,
        "diagnostics": {"n": 100, "strong_steps": 50, "strong_restarts": 2,
                        "spsa": {"steps": 10, "samples": 32, "lr": 0.01}},
    },
    "full": {
        "paper": "stablenets full evaluation (union of the papers' protocols)",
        "notes": "",
        "eps": {"linf": [2 / 255, 4 / 255, 8 / 255], "l2": [0.25, 0.5]},
        "noise": {"cifar10c": {"groups": NOISE_GROUPS, "severities": SEVERITIES},
                  "zerosnet": {"uniform": [[-0.08, 0.0], [0.0, 0.08]], "gaussian": [0.01, 0.02, 0.04],
                               "constant": [0.3]}},
        "attacks": {
            "fgsm": {"attack": "fgsm", "source": STABLENETS},
            "pgd": {"attack": "pgd", "source": STABLENETS, "steps": 20, "alpha_ratio": 0.25},
            "pgd_margin": {"attack": "pgd", "source": STABLENETS, "steps": 20, "alpha_ratio": 0.25,
                           "loss": "margin"},
            "pgd_l2": {"attack": "pgd", "source": STABLENETS, "steps": 20, "alpha_ratio": 0.25, "norm": "l2"},
            "cw_linf": {"attack": "cw_linf", "source": STABLENETS, "eps": [8 / 255]},
            "spsa": {"attack": "spsa", "source": STABLENETS, "eps": [8 / 255], "steps": 20, "samples": 32},
            "cw_l2": {"attack": "cw_l2", "source": STABLENETS, "eps": [0.5], "c": 1.0, "steps": 100, "lr": 0.01,
                      "kappa": 0.0, "binary_search_steps": 5},
            "autoattack": {"attack": "autoattack", "source": STABLENETS, "eps": [8 / 255], "version": "standard"},
        },
        "transfer": {"attack": "pgd", "source": STABLENETS, "eps": [8 / 255], "steps": 20, "alpha_ratio": 0.25},
        "cascade": True,
    },
}


def list_suites() -> list[str]:
    return list(SUITES)


def _merge(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) \
            else copy.deepcopy(value)
    return out


def parse_overrides(pairs: list[str] | None) -> dict[str, Any]:
    """["a.b=1", "c=[1, 2]"] -> {"a.b": 1, "c": [1, 2]}, in the one override grammar (stablenets.overrides)."""
    return dict(parse_pairs(pairs, example="attacks.pgd.steps=50"))


_OPEN_GROUPS = ("attacks", "noise", "transfer", "eps")   # groups that may gain new entries


def apply_overrides(suite: dict, overrides: dict[str, Any] | None) -> dict:
    """A copy of ``suite`` with dotted-key overrides applied; unknown keys raise SettingError.

    A new entry may be added under ``attacks`` / ``noise`` / ``eps`` (e.g. ``attacks.spsa={...}``);
    elsewhere the key must exist, so a typo never silently does nothing. An attack's settings
    are checked against the attack's own settings by :func:`validate_suite`.
    """
    suite = copy.deepcopy(suite)
    for key, value in (overrides or {}).items():
        parts = key.split(".")
        node = suite
        for i, part in enumerate(parts[:-1]):
            if node.get(part) is None:
                if parts[0] in _OPEN_GROUPS and (i >= 1 or part == "transfer"):
                    node[part] = {}
                else:
                    raise SettingError(f"unknown setting {key!r}: no {'.'.join(parts[:i + 1])!r} in the suite")
            node = node[part]
            if not isinstance(node, dict):
                raise SettingError(f"setting {key!r}: {part!r} is not a group of settings")
        leaf = parts[-1]
        if leaf not in node and not (parts[0] in _OPEN_GROUPS and len(parts) >= 2):
            raise SettingError(f"unknown setting {key!r}; known here: {sorted(node)}")
        node[leaf] = value
    return suite


def radii(name: str, value: Any) -> list:
    """A list of radii; a scalar is one radius (never read as a sequence)."""
    if value is None or isinstance(value, (int, float)) and not isinstance(value, bool):
        return [value]
    if isinstance(value, (list, tuple)):
        return list(value)
    raise SettingError(f"{name} = {value!r}: a radius or a list of radii (pixel units)")


def attack_plan(cfg: dict, entries: dict | None = None, prefix: str = "attacks") -> list[dict]:
    """Every (attack entry, radius) of the suite as validated settings, before any work.

    Returns [{"name", "spec", "settings": [per-radius settings objects], "radii", "source",
    "norm"}]. Raises SettingError naming the setting for an unknown attack or key, a value out
    of range, or a radius that cannot be one (ε < 0, NaN, L∞ ε > 1).
    """
    from stablenets.attacks import get_attack_spec

    suite_eps = cfg.get("eps") or {}
    plans = []
    for name, entry in (cfg["attacks"] if entries is None else entries).items():
        where = f"{prefix}.{name}" if prefix != "transfer" else "transfer"
        if not isinstance(entry, dict) or "attack" not in entry:
            raise SettingError(f"{where}: an attack entry needs 'attack' (one of the registered attacks)")
        spec = get_attack_spec(entry["attack"])
        settings_values = {k: v for k, v in entry.items() if k not in META_KEYS}
        norm = spec.norm.value if spec.norm is not None else str(settings_values.get("norm", "linf"))
        if "eps" in entry:
            values = radii(f"{where}.eps", entry["eps"])
        elif spec.radius == "bound":
            values = [None]
        else:
            if norm not in suite_eps:
                raise SettingError(f"{where}: no radius: give {where}.eps or eps.{norm} for the suite")
            values = radii(f"eps.{norm}", suite_eps[norm])
        ratio = entry.get("alpha_ratio")
        if ratio is not None:
            check(f"{where}.alpha_ratio", ratio, gt=0)
        per_radius = []
        for eps in values:
            kw = dict(settings_values)
            if "eps" in {f for f in spec.settings.__dataclass_fields__}:
                kw["eps"] = eps
            if ratio is not None and kw.get("alpha") is None and "alpha" in spec.settings.__dataclass_fields__:
                if eps is None:
                    raise SettingError(f"{where}.alpha_ratio needs a radius")
                kw["alpha"] = float(ratio) * float(eps)
            per_radius.append(spec.make(kw, where))
        plans.append({"name": name, "spec": spec, "settings": per_radius, "radii": values,
                      "source": entry.get("source", ""), "norm": norm})
    return plans


def validate_suite(cfg: dict) -> list[dict]:
    """Check every setting of a suite before any work; returns the attack plan (see :func:`attack_plan`)."""
    for key in ("noise", "attacks"):
        if not isinstance(cfg.get(key), dict):
            raise SettingError(f"{key}: must be a group of settings, got {cfg.get(key)!r}")
    for norm, values in (cfg.get("eps") or {}).items():
        check("eps", norm, choices=("linf", "l2"))
        for i, eps in enumerate(radii(f"eps.{norm}", values)):
            check(f"eps.{norm}[{i}]", eps, ge=0, le=1 if norm == "linf" else None)
    check("noise_seed", cfg.get("noise_seed", 0), integer=True, ge=0)
    check("fidelity.samples", (cfg.get("fidelity") or {}).get("samples", 0), integer=True, ge=0)
    check("seed", cfg.get("seed", 0), integer=True, ge=0)
    diag = cfg.get("diagnostics") or {}
    if diag.get("enabled"):
        check("diagnostics.n", diag.get("n"), integer=True, ge=1)
        check("diagnostics.eps", diag.get("eps"), ge=0, le=1, optional=True)
        for key in ("steps", "strong_steps", "strong_restarts"):
            check(f"diagnostics.{key}", diag.get(key), integer=True, ge=1)
        check("diagnostics.alpha_ratio", diag.get("alpha_ratio"), gt=0)
        check("diagnostics.p_value", diag.get("p_value"), gt=0, lt=1)
        check("diagnostics.large_eps", diag.get("large_eps", []), each={"ge": 0, "le": 1})
    adaptive = cfg.get("adaptive") or {}
    if adaptive.get("enabled"):
        check("adaptive.steps", adaptive.get("steps"), integer=True, ge=1)
        check("adaptive.restarts", adaptive.get("restarts"), integer=True, ge=1)
        check("adaptive.eot_samples", adaptive.get("eot_samples"), integer=True, ge=1)
        check("adaptive.step_size", adaptive.get("step_size"), gt=0)
        check("adaptive.implicit_iterations", adaptive.get("implicit_iterations"), each={"integer": True, "ge": 0})
    solver = cfg.get("solver") or {}
    unknown = sorted(set(solver) - set(SOLVER))
    if unknown:
        raise SettingError(f"solver.{unknown[0]}: unknown; valid: {sorted(SOLVER)}")
    from stablenets.schemes.continuous import SOLVERS
    check("solver.solver", solver.get("solver"), choices=(None, *SOLVERS))
    for key in ("rtol", "atol", "step_size"):
        check(f"solver.{key}", solver.get(key), gt=0, optional=True)
    check("solver.max_nfe", solver.get("max_nfe"), integer=True, ge=1, optional=True)
    c10 = cfg["noise"].get("cifar10c")
    if c10:
        check("noise.cifar10c.groups", c10.get("groups"), nonempty=True, each={"choices": NOISE_GROUPS})
        check("noise.cifar10c.severities", c10.get("severities"), each={"choices": SEVERITIES})
    zs = cfg["noise"].get("zerosnet") or {}
    for kind in zs:
        check("noise.zerosnet", kind, choices=("uniform", "gaussian", "constant"))
    for i, level in enumerate(zs.get("uniform", [])):
        if not (isinstance(level, (list, tuple)) and len(level) == 2):
            raise SettingError(f"noise.zerosnet.uniform[{i}] = {level!r}: an interval [a, b]")
        check(f"noise.zerosnet.uniform[{i}][1]", level[1], ge=check(f"noise.zerosnet.uniform[{i}][0]", level[0]))
    check("noise.zerosnet.gaussian", zs.get("gaussian", []), each={"ge": 0})
    check("noise.zerosnet.constant", zs.get("constant", []), each={})
    plan = attack_plan(cfg)
    tcfg = cfg.get("transfer")
    if tcfg:
        plan_t = attack_plan(cfg, {"transfer": tcfg}, prefix="transfer")
        for p in plan_t:
            p["transfer"] = True
        plan += plan_t
    return plan


def get_suite(name: str, overrides: dict[str, Any] | None = None) -> dict:
    """The suite ``name`` with defaults filled in and ``overrides`` applied, every setting checked
    (:func:`validate_suite`: a SettingError names the first wrong one)."""
    if name not in SUITES:
        raise SettingError(f"unknown suite {name!r}; valid: {list_suites()}")
    suite = _merge({"name": name, "eps": {}, "noise": {}, "noise_seed": 0, "attacks": {}, "transfer": None,
                    "cascade": False, "diagnostics": DIAGNOSTICS, "adaptive": ADAPTIVE, "solver": SOLVER,
                    "autoattack": {"required": False}, "fidelity": {"samples": FIDELITY_SAMPLES}, "seed": 0},
                   SUITES[name])
    suite = apply_overrides(suite, overrides)
    validate_suite(suite)
    return suite
