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


def _size(v) -> str:
    return "—" if v is None else f"{v:.4g}"


STABLENETS_SOURCE = "stablenets"


def _paper_best(result: dict, norm: str, eps: str):
    """The lowest accuracy among the paper-protocol attacks of this ball (None when there are none)."""
    accs = [res["accuracy"][eps] for res in result.get("attacks", {}).values()
            if res.get("threat", {}).get("norm") == norm and eps in res["accuracy"] and not res.get("cumulative")
            and res.get("source") and not res["source"].startswith((STABLENETS_SOURCE, "adaptive"))]
    return min(accs) if accs else None


DYNAMIC = ("IE-skip calls torch.autograd inside forward (the inner gradient steps of the implicit solve), which "
           "AutoAttack's dynamic-defence check counts. The model is still a fixed, deterministic function of its "
           "input, but the gradient AutoAttack follows is exact only with create_graph on; the adaptive "
           "IE-skip surrogates (more inner iterations, no inner loop) check that it is not masked.")


def _explain(warning: str) -> str:
    return DYNAMIC if "dynamic" in warning.lower() else ""


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
            rows.append([name, res.get("threat", {}).get("norm", "linf"), eps, _pct(acc),
                         _size(res.get("max_perturbation", {}).get(eps)), res.get("source", "")])
    tr = result.get("transfer", {})
    if "accuracy" in tr:
        rows += [["transfer", tr.get("threat", {}).get("norm", "linf"), eps, _pct(a),
                  _size(tr["max_perturbation"][eps]), tr.get("source", "")] for eps, a in tr["accuracy"].items()]
    if rows:
        cumulative = any(r.get("cumulative") for r in result.get("attacks", {}).values())
        out += ["## Attacks" + (" (cascade: each row is cumulative over the rows above it)" if cumulative else ""),
                ""]
        out += _table(["attack", "norm", "eps", "accuracy (%)", "max ‖δ‖", "protocol"], rows)
    if "skipped" in tr:
        out += [f"Transfer: skipped ({tr['skipped']}).", ""]
    for name, why in (result.get("skipped_attacks") or {}).items():
        out += [f"**{name} did not run**: {why}.", ""]
    for name, res in result.get("attacks", {}).items():
        for eps, info in (res.get("info") or {}).items():
            out += [f"{name} (eps {eps}) ran with {info.get('package')} {info.get('version')}."]
            out += [f"- {name} warning: {w}" for w in info.get("warnings", [])]
            out += [f"  - {_explain(w)}" for w in info.get("warnings", []) if _explain(w)]
            out += [""]
    worst = result.get("worst_case", {})
    if worst:
        out += ["## Worst case over attacks (the robust accuracy)", ""]
        out += _table(["norm", "eps", "accuracy (%)", "best paper-protocol attack (%)", "attacks"],
                      [[n, e, _pct(v["accuracy"]), _pct(_paper_best(result, n, e)), ", ".join(v["attacks"])]
                       for n, row in worst.items() for e, v in row.items()])
    diag = result.get("diagnostics")
    if diag:
        out += [f"## Gradient-masking diagnostics (n = {diag['probes']['n']}, eps = {diag['probes']['eps']:.4g})", ""]
        out += _table(["flag", "decision", "p-value", "message"],
                      [[f["flag"], "**RAISED**" if f["raised"] else f.get("decision", "no"),
                        "—" if f.get("p_value") is None else f"{f['p_value']:.3g}", f["message"]]
                       for f in diag["flags"]])
    adaptive = result.get("adaptive") or {}
    if adaptive.get("runs"):
        out += ["## Adaptive attacks (run because of: " + "; ".join(f"{k}: {v}" for k, v in
                                                                    adaptive["evidence"].items()) + ")", ""]
        out += _table(["attack", "how"], [[r["name"], r["why"]] for r in adaptive["runs"]])
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
