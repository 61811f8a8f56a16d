"""Write an evaluation result as JSON (every number) and a Markdown table, atomically.

``write_report(result, directory)`` writes ``robustness-<suite>.json`` and
``robustness-<suite>.md``: each goes to a temporary file in the same directory first and
is then moved into place with ``os.replace``, so a reader never sees half a report.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

from stablenets.atomic import write_text_atomic

__all__ = ["write_report", "to_markdown"]


def _pct(v) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.2f}"


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines + [""]


def to_markdown(result: dict) -> str:
    suite = result["suite"]
    out = [f"# Robustness — suite {suite.get('name')}", "",
           f"Protocol: {suite.get('paper', '')}. {suite.get('notes', '')}".strip(), "",
           f"n = {result['n']} test points, device {result['device']}, {result['dtype']}, "
           f"{result.get('seconds', 0):.1f} s.", ""]
    out += _table(["", "accuracy (%)"], [["clean", _pct(result.get("clean"))]])
    noise = result.get("noise", {})
    if "cifar10c" in noise:
        table = noise["cifar10c"]["accuracy"]
        sevs = sorted({s for row in table.values() for s in row}, key=int)
        out += [f"## CIFAR-10-C noise (source: {noise['cifar10c']['source']})", ""]
        out += _table(["group"] + [f"severity {s}" for s in sevs] + ["mean"],
                      [[g] + [_pct(row.get(s)) for s in sevs] + [_pct(sum(row.values()) / len(row))]
                       for g, row in table.items()])
    if "zerosnet" in noise:
        out += [f"## ZeroSNet noise (source: {noise['zerosnet']['source']})", ""]
        out += _table(["noise", "level", "accuracy (%)"],
                      [[k, lv, _pct(a)] for k, row in noise["zerosnet"]["accuracy"].items() for lv, a in row.items()])
    rows = []
    for name, res in result.get("attacks", {}).items():
        for eps, acc in res["accuracy"].items():
            rows.append([name, res["settings"].get("norm", "l2" if res["attack"] == "cw_l2" else "linf"), eps,
                         _pct(acc), f"{res['max_perturbation'][eps]:.4g}"])
    tr = result.get("transfer", {})
    if "accuracy" in tr:
        rows += [["transfer", "linf", eps, _pct(a), f"{tr['max_perturbation'][eps]:.4g}"]
                 for eps, a in tr["accuracy"].items()]
    if rows:
        cumulative = any(r.get("cumulative") for r in result.get("attacks", {}).values())
        out += ["## Attacks" + (" (cascade: each row is cumulative over the rows above it)" if cumulative else ""),
                ""]
        out += _table(["attack", "norm", "eps", "accuracy (%)", "max ‖δ‖"], rows)
    if "skipped" in tr:
        out += [f"Transfer: skipped ({tr['skipped']}).", ""]
    worst = result.get("worst_case", {})
    if worst:
        out += ["## Worst case over attacks", ""]
        out += _table(["norm", "eps", "accuracy (%)", "attacks"],
                      [[n, e, _pct(v["accuracy"]), ", ".join(v["attacks"])] for n, row in worst.items()
                       for e, v in row.items()])
    diag = result.get("diagnostics")
    if diag:
        out += [f"## Gradient-masking diagnostics (n = {diag['probes']['n']}, eps = {diag['probes']['eps']:.4g})", ""]
        out += _table(["flag", "raised", "evidence", "threshold", "message"],
                      [[f["flag"], "**YES**" if f["raised"] else "no",
                        json.dumps(f["evidence"], default=float), f["threshold"], f["message"]]
                       for f in diag["flags"]])
    warnings = result.get("preflight", {}).get("warnings", [])
    if warnings:
        out += ["## Pre-flight warnings", ""] + [f"- {w}" for w in warnings] + [""]
    return "\n".join(out)


def write_report(result: dict, directory: str | os.PathLike, stem: str | None = None) -> tuple[Path, Path]:
    """Write ``<stem>.json`` and ``<stem>.md`` into ``directory``; returns both paths."""
    directory = Path(directory)
    stem = stem or f"robustness-{result['suite'].get('name', 'custom')}"
    json_path, md_path = directory / f"{stem}.json", directory / f"{stem}.md"
    write_text_atomic(json_path, json.dumps(result, indent=2, default=float) + "\n")
    write_text_atomic(md_path, to_markdown(result))
    return json_path, md_path
