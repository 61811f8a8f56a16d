"""A suite shrunk to seconds on a CPU (``--scale smoke``): what shrinking a suite means lives here.

``smoke_overrides(name, overrides)`` returns the overrides that, added to ``overrides``, keep
every attack and noise kind of suite ``name`` but cut each to its cheapest form: attacks at
most 2 steps, 1 restart, 8 SPSA samples and 1 binary-search step, each at its largest radius
only (the suite's own radii too); no attack that runs over the whole set (AutoAttack:
thousands of queries per point); CIFAR-10-C noise at its highest severity only; no masking
diagnostics, no adaptive attacks and no gradient-fidelity check. It checks that an experiment's evaluation runs end to
end, not what it measures.
"""
from __future__ import annotations

from typing import Any

from stablenets.evaluation.suites import get_suite, radii

__all__ = ["smoke_overrides"]

_CAPS = (("steps", 2), ("restarts", 1), ("samples", 8), ("binary_search_steps", 1))


def smoke_overrides(name: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """``overrides`` plus the settings that shrink suite ``name`` to smoke scale."""
    from stablenets.attacks import get_attack_spec

    suite = get_suite(name, dict(overrides or {}))
    out = dict(overrides or {})
    out["diagnostics.enabled"] = False
    out["adaptive.enabled"] = False
    out["fidelity.samples"] = 0
    for norm, values in suite["eps"].items():
        values = radii(f"eps.{norm}", values)
        if len(values) > 1:
            out[f"eps.{norm}"] = values[-1:]
    for attack, entry in suite["attacks"].items():
        for key, cap in _CAPS:
            if isinstance(entry.get(key), int) and not isinstance(entry[key], bool):
                out[f"attacks.{attack}.{key}"] = min(entry[key], cap)
        if get_attack_spec(entry["attack"]).whole_set:
            out[f"attacks.{attack}.eps"] = []
        elif len(radii(attack, entry.get("eps", []))) > 1:
            out[f"attacks.{attack}.eps"] = radii(attack, entry["eps"])[-1:]
    c10 = suite["noise"].get("cifar10c")
    if c10:
        out["noise.cifar10c.severities"] = c10["severities"][-1:]
    return out
