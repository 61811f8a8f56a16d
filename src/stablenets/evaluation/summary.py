"""The headline numbers of a robustness result, flat: what a table over seeds or runs reports.

    headline_numbers(result)
    # {"clean": 0.91, "pgd@0.0313725": 0.43, "cifar10c/gaussian_noise@3": 0.70, "zerosnet/uniform@[-0.1, 0.1]": ...}

Keys: ``clean``; ``<attack>@<radius>`` per attack and radius; ``<noise family>/<kind>@<level>``
per noise level. The result's own structure stays the evaluation package's business: other
stages read these numbers, never the result's internal keys.
"""
from __future__ import annotations

__all__ = ["headline_numbers"]


def headline_numbers(result: dict) -> dict[str, float]:
    """{"clean": a, "<attack>@<eps>": a, "<noise>/<kind>@<level>": a, ...} from :func:`evaluate_robustness`."""
    flat = {"clean": result.get("clean")}
    for name, res in (result.get("attacks") or {}).items():
        for eps, acc in res.get("accuracy", {}).items():
            flat[f"{name}@{eps}"] = acc
    for family, res in (result.get("noise") or {}).items():
        for kind, levels in res.get("accuracy", {}).items():
            for level, acc in levels.items():
                flat[f"{family}/{kind}@{level}"] = acc
    return flat
