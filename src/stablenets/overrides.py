"""The one grammar of ``key=value`` overrides, shared by ``train``, ``evaluate``, ``analyze`` and ``reproduce``.

    parse_pairs(["optim.lr=0.05", "schedule.milestones=[80, 120]", "attacks.pgd.norm=l2"])
    # [("optim.lr", 0.05), ("schedule.milestones", [80, 120]), ("attacks.pgd.norm", "l2")]

A value is read as a TOML value: ``0.05``, ``1e-3``, ``true``, ``[30, 60]``, ``"quoted text"``,
``{attack = "spsa", eps = [0.03]}``, ``inf``. Beyond TOML: the bare words ``none`` and ``null``
mean no value (None); a number TOML does not accept but Python does (``.5``) is that number; any
other bare word is a string. Nothing is ever evaluated as code. The receiving side checks each
value against the setting's type and range.
"""
from __future__ import annotations

import re
import tomllib
from typing import Any

from stablenets.settings import SettingError

__all__ = ["parse_value", "parse_pairs"]

_NUMBERISH = re.compile(r"^[+-]?(\d|\.\d)")


def parse_value(raw: str) -> Any:
    """One override value (see the module docstring)."""
    raw = raw.strip()
    if raw.lower() in ("none", "null"):
        return None
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        pass
    if _NUMBERISH.match(raw):
        try:
            return float(raw)
        except ValueError:
            pass
    return raw


def parse_pairs(pairs: list[str] | None, example: str = "optim.lr=0.05") -> list[tuple[str, Any]]:
    """``["a.b=1", ...]`` as ``[("a.b", 1), ...]``; a pair without ``=`` or key is one SettingError."""
    out = []
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise SettingError(f"override {pair!r} must look like key=value, e.g. {example}")
        out.append((key.strip(), parse_value(raw)))
    return out
