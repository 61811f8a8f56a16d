"""The headline numbers of a robustness result, flat: what a table over seeds or runs reports.

    headline_numbers(result)
    # {"clean": 0.91, "pgd@0.0313725": 0.43, "cifar10c/gaussian_noise@3": 0.70, "zerosnet/uniform@[-0.1, 0.1]": ...}

Keys: ``clean``; ``<attack>@<radius>`` per attack and radius; ``<noise family>/<kind>@<level>``
per noise level. The result's own structure stays the evaluation package's business: other
stages read these numbers, never the result's internal keys.
"""
from __future__ import annotations

import base64

__all__ = ["headline_numbers", "headline_outcomes", "pack_outcomes", "unpack_outcomes"]


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


def headline_outcomes(result: dict) -> dict[str, str]:
    """{"clean": flags, "<attack>@<eps>": flags}: the per-example outcomes behind the headline numbers,
    packed (:func:`pack_outcomes`; 1 = still classified correctly), where
    the result kept them (results written before they were kept have none)."""
    flat = {"clean": result["clean_outcomes"]} if result.get("clean_outcomes") else {}
    for name, res in (result.get("attacks") or {}).items():
        for eps, flags in (res.get("outcomes") or {}).items():
            flat[f"{name}@{eps}"] = flags
    return flat


def pack_outcomes(flags) -> str:
    """Per-example booleans as a short string (bits, base64) for a JSON result."""
    flags = [bool(f) for f in flags]
    data = bytearray((len(flags) + 7) // 8)
    for i, f in enumerate(flags):
        if f:
            data[i // 8] |= 1 << (7 - i % 8)
    return base64.b64encode(bytes(data)).decode("ascii")


def unpack_outcomes(text: str, n: int) -> list[bool]:
    data = base64.b64decode(text.encode("ascii"))
    return [bool(data[i // 8] >> (7 - i % 8) & 1) for i in range(n)]
