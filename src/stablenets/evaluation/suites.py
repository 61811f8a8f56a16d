"""Named evaluation suites: one per paper's protocol, plus "quick" and "full".

A suite is a plain JSON-able dict:

    noise.cifar10c    {"groups": [...], "severities": [1..5]}       CIFAR-10-C noise groups
    noise.zerosnet    {"uniform": [[a, b], ...], "gaussian": [δ, ...], "constant": [μ, ...]}
    attacks.<name>    {"attack": registered attack, "eps": [radii], <attack settings>}
    transfer          {"attack": ..., "eps": [...], ...}  (needs a source model; skipped without one)
    cascade           run each attack of a radius only on the survivors of the previous ones
    diagnostics       settings of the gradient-masking probes (see ``diagnostics.py``)

Step sizes are absolute (``alpha``) or relative to the radius (``alpha_ratio``, α = ratio·ε).
Every setting can be overridden with dotted keys, e.g. ``attacks.pgd.steps=50`` or
``noise.cifar10c.severities=[5]`` (values are parsed as JSON, else kept as strings).

Constants carry a comment naming the paper and table they come from. Where a value could
not be read from the paper itself it says so (``"unverified"`` in the suite's ``notes``),
so that a report never passes off a guess as the paper's protocol.
"""
from __future__ import annotations

import copy
import json
from typing import Any

__all__ = ["SUITES", "get_suite", "list_suites", "apply_overrides", "parse_overrides"]

NOISE_GROUPS = ["gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise"]
SEVERITIES = [1, 2, 3, 4, 5]
CIFAR_EPS = 8 / 255

# Diagnostics probe settings shared by every suite (Athalye et al. 2018; Carlini et al. 2019).
DIAGNOSTICS = {
    "enabled": True,
    "n": 200,                  # test points used by the probes (the first n)
    "eps": CIFAR_EPS,          # the reference L∞ radius of the probes
    "alpha_ratio": 0.25,
    "steps": 20,               # the "usual" PGD
    "strong_steps": 100,       # (a) a much stronger PGD: 5× the steps ...
    "strong_restarts": 5,      #     ... and restarts
    "large_eps": [0.1, 0.3, 1.0],  # (c) accuracy must approach 0 as ε grows (ε = 1 spans the box)
    "spsa": {"steps": 20, "samples": 32, "lr": 0.01},
}


def _pgd(eps, steps, alpha=None, alpha_ratio=0.25, restarts=1, loss="ce", norm="linf"):
    return {"attack": "pgd", "eps": list(eps), "steps": steps, "alpha": alpha, "alpha_ratio": alpha_ratio,
            "restarts": restarts, "loss": loss, "norm": norm}


SUITES: dict[str, dict[str, Any]] = {
    # Paper A: Yang, Liu, Bao, Shi, "Interpolation between Residual and Non-Residual Networks",
    # ICML 2020 (In-ResNet). Stochastic noise: the four CIFAR-10-C noise groups at all five
    # severities; adversarial: FGSM / I-FGSM / PGD. The radii and steps below follow the
    # common 8/255, 20-step, α = 2/255 protocol; unverified against the paper's tables.
    "A": {
        "paper": "Yang et al., ICML 2020 (In-ResNet)",
        "notes": "noise groups and severities: CIFAR-10-C noise (paper's noise tables); "
                 "attack radii/steps unverified",
        "noise": {"cifar10c": {"groups": NOISE_GROUPS, "severities": SEVERITIES}},
        "attacks": {
            "fgsm": {"attack": "fgsm", "eps": [CIFAR_EPS]},
            "ifgsm": {"attack": "ifgsm", "eps": [CIFAR_EPS], "steps": 20, "alpha": 2 / 255},
            "pgd": _pgd([CIFAR_EPS], 20, alpha=2 / 255),
        },
        "cascade": False,
    },
    # Paper B: Zhang, Zhang, Yu, Jin, Sun, Long, "Towards Robust ResNet: A Small Step but a
    # Giant Leap", IJCAI 2019. FGSM, I-FGSM and PGD at several radii (robustness vs step
    # factor h), plus Gaussian input noise. Radii list unverified against the paper's figures.
    "B": {
        "paper": "Zhang et al., IJCAI 2019 (Towards Robust ResNet)",
        "notes": "attack radii 1..8/255 and 20 steps unverified; Gaussian noise via CIFAR-10-C gaussian_noise",
        "noise": {"cifar10c": {"groups": ["gaussian_noise"], "severities": SEVERITIES}},
        "attacks": {
            "fgsm": {"attack": "fgsm", "eps": [1 / 255, 2 / 255, 4 / 255, 8 / 255]},
            "ifgsm": {"attack": "ifgsm", "eps": [1 / 255, 2 / 255, 4 / 255, 8 / 255], "steps": 20,
                      "alpha_ratio": 0.1},
            "pgd": _pgd([1 / 255, 2 / 255, 4 / 255, 8 / 255], 20, alpha_ratio=0.1),
        },
        "cascade": False,
    },
    # Paper C: Li, He, Lin, "Implicit Euler Skip Connections", ICML 2020. Sec. 5 (experiment
    # setup): PGD δ = 8/255 on CIFAR, α = 1/255 for evaluation, 20 iterations (PGD-20);
    # CW-L2 with Adam, 50 iterations, lr 6e-4, c = 10; Table 4: transfer attacks (PGD
    # crafted on another network).
    "C": {
        "paper": "Li, He, Lin, ICML 2020 (IE-skip)",
        "notes": "PGD-20 eps 8/255 alpha 1/255 (paper Sec. 5); CW-L2 Adam 50 it, lr 6e-4, c=10; transfer Table 4",
        "noise": {},
        "attacks": {
            "pgd": _pgd([CIFAR_EPS], 20, alpha=1 / 255),
            "cw_l2": {"attack": "cw_l2", "eps": [None], "c": 10.0, "steps": 50, "lr": 6e-4, "kappa": 0.0,
                      "binary_search_steps": 1},
        },
        "transfer": {"attack": "pgd", "eps": [CIFAR_EPS], "steps": 20, "alpha": 1 / 255},
        "cascade": False,
    },
    # Paper D: Huang, Yu, Zhang, Ma, Yao, "Adversarial Robustness of Stabilized Neural ODEs
    # Might be from Obfuscated Gradients", MSML 2022 (SONet). PGD-20 at ε = 0.031 (abstract,
    # TRADES convention: step 0.003), CW (PGD on the CW margin loss, same budget), SPSA
    # ε = 0.031, 20 iterations, 32 samples, and AutoAttack (standard, L∞, ε = 8/255).
    "D": {
        "paper": "Huang et al., MSML 2022 (SONet)",
        "notes": "PGD-20 eps 0.031 (paper abstract); step 0.003 and CW-Linf steps follow the TRADES code "
                 "(unverified); SPSA 0.031/20 it/32 samples; AutoAttack standard",
        "noise": {},
        "attacks": {
            "pgd": _pgd([0.031], 20, alpha=0.003),
            "cw_linf": {"attack": "cw_linf", "eps": [0.031], "steps": 20, "alpha": 0.003},
            "spsa": {"attack": "spsa", "eps": [0.031], "steps": 20, "samples": 32, "lr": 0.01},
            "autoattack": {"attack": "autoattack", "eps": [CIFAR_EPS], "norm": "linf", "version": "standard"},
        },
        "cascade": False,
        "diagnostics": {"eps": 0.031},
    },
    # Paper E: Chen, Jin, Shang, "Zero Stability Well Predicts Performance of Convolutional
    # Neural Networks", AAAI 2022 (ZeroSNet), Table 6: accuracy under uniform noise U[a, b],
    # Gaussian noise of std δ and constant noise μ added to the test images. The levels
    # below could not be read from the paper here (unverified): override them with
    # --set noise.zerosnet.uniform=[[a,b]] etc. to match the table.
    "E": {
        "paper": "Chen, Jin, Shang, AAAI 2022 (ZeroSNet)",
        "notes": "noise kinds from Table 6; the levels are UNVERIFIED placeholders",
        "noise": {"zerosnet": {"uniform": [[-0.1, 0.1], [-0.2, 0.2]], "gaussian": [0.05, 0.1],
                               "constant": [-0.1, 0.1]}},
        "attacks": {},
        "cascade": False,
    },
    "quick": {
        "paper": "stablenets quick check",
        "notes": "a few minutes on a GPU for n=1000",
        "noise": {"cifar10c": {"groups": NOISE_GROUPS, "severities": [3]}},
        "attacks": {
            "fgsm": {"attack": "fgsm", "eps": [CIFAR_EPS]},
            "pgd": _pgd([CIFAR_EPS], 10),
        },
        "cascade": True,
        "diagnostics": {"n": 100, "strong_steps": 50, "strong_restarts": 2,
                        "spsa": {"steps": 10, "samples": 32, "lr": 0.01}},
    },
    "full": {
        "paper": "stablenets full evaluation (union of the papers' protocols)",
        "notes": "",
        "noise": {"cifar10c": {"groups": NOISE_GROUPS, "severities": SEVERITIES},
                  "zerosnet": {"uniform": [[-0.1, 0.1], [-0.2, 0.2]], "gaussian": [0.05, 0.1],
                               "constant": [-0.1, 0.1]}},
        "attacks": {
            "fgsm": {"attack": "fgsm", "eps": [2 / 255, 4 / 255, 8 / 255]},
            "pgd": _pgd([2 / 255, 4 / 255, 8 / 255], 20),
            "pgd_margin": _pgd([2 / 255, 4 / 255, 8 / 255], 20, loss="margin"),
            "pgd_l2": _pgd([0.25, 0.5], 20, norm="l2"),
            "spsa": {"attack": "spsa", "eps": [8 / 255], "steps": 20, "samples": 32, "lr": 0.01},
            "cw_l2": {"attack": "cw_l2", "eps": [0.5], "c": 1.0, "steps": 100, "lr": 0.01, "kappa": 0.0,
                      "binary_search_steps": 5},
            "autoattack": {"attack": "autoattack", "eps": [CIFAR_EPS], "norm": "linf", "version": "standard"},
        },
        "transfer": {"attack": "pgd", "eps": [CIFAR_EPS], "steps": 20, "alpha_ratio": 0.25},
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
    """["a.b=1", "c=[1,2]"] -> {"a.b": 1, "c": [1, 2]} (JSON values, else strings)."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise ValueError(f"override {pair!r} must look like key=value, e.g. attacks.pgd.steps=50")
        key, raw = pair.split("=", 1)
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


def apply_overrides(suite: dict, overrides: dict[str, Any] | None) -> dict:
    """A copy of ``suite`` with dotted-key overrides applied; unknown keys raise ValueError.

    A new entry may be added under ``attacks`` / ``noise`` (e.g. ``attacks.spsa={...}``);
    elsewhere the key must exist, so a typo never silently does nothing.
    """
    suite = copy.deepcopy(suite)
    for key, value in (overrides or {}).items():
        parts = key.split(".")
        node = suite
        for i, part in enumerate(parts[:-1]):
            if node.get(part) is None:
                if parts[0] in ("attacks", "noise") and i >= 1 or part in ("transfer",):
                    node[part] = {}
                else:
                    raise ValueError(f"unknown setting {key!r}: no {'.'.join(parts[:i + 1])!r} in the suite")
            node = node[part]
            if not isinstance(node, dict):
                raise ValueError(f"setting {key!r}: {part!r} is not a group of settings")
        leaf = parts[-1]
        if leaf not in node and not (parts[0] in ("attacks", "noise", "transfer") and len(parts) >= 2):
            raise ValueError(f"unknown setting {key!r}; known here: {sorted(node)}")
        node[leaf] = value
    return suite


def get_suite(name: str, overrides: dict[str, Any] | None = None) -> dict:
    """The suite ``name`` with defaults filled in and ``overrides`` applied."""
    if name not in SUITES:
        raise ValueError(f"unknown suite {name!r}; valid: {list_suites()}")
    suite = _merge({"name": name, "noise": {}, "attacks": {}, "transfer": None, "cascade": False,
                    "diagnostics": DIAGNOSTICS, "seed": 0}, SUITES[name])
    return apply_overrides(suite, overrides)
