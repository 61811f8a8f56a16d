"""Write an evaluation result as JSON (every number), Markdown, and one self-contained HTML file.

``write_report(result, directory)`` writes ``robustness-<suite>.json``, ``robustness-<suite>.md``
and ``robustness-<suite>.html`` (the Markdown's tables plus embedded PNG plots: accuracy
against ε per attack, and the masking evidence: each probe's accuracy with the flags'
p-values, and the adaptive attacks against plain PGD). Each file goes to a temporary file in
the same directory first and is then moved into place with ``os.replace``, so a reader never
sees half a report. :func:`to_table` is the plain-text table ``stablenets evaluate`` prints:
clean accuracy, each attack at each radius, and the worst case.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

from stablenets.atomic import write_text_atomic

__all__ = ["write_report", "to_markdown", "to_table", "to_html", "report_paths"]


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


def to_table(result: dict) -> str:
    """The accuracies as a plain-text table: clean, each attack at each radius, the worst case."""
    rows = [("clean", "", "", _pct(result.get("clean")), "")]
    for name, res in result.get("attacks", {}).items():
        for eps, acc in res["accuracy"].items():
            rows.append((name, res.get("threat", {}).get("norm", "linf"), eps, _pct(acc), res.get("source", "")))
    tr = result.get("transfer", {})
    for eps, acc in tr.get("accuracy", {}).items():
        rows.append(("transfer", tr.get("threat", {}).get("norm", "linf"), eps, _pct(acc), tr.get("source", "")))
    for norm, row in result.get("worst_case", {}).items():
        for eps, v in row.items():
            rows.append(("WORST CASE", norm, eps, _pct(v["accuracy"]), f"over {len(v['attacks'])} attacks"))
    header = ("attack", "norm", "eps", "acc %", "protocol")
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(5)]
    line = lambda r: "  ".join(str(c).ljust(w) if i != 3 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    out = [line(header), line(tuple("-" * w for w in widths))] + [line(r) for r in rows]
    for name, why in (result.get("skipped_attacks") or {}).items():
        out.append(f"{name} did not run: {why}")
    flags = result.get("flags_raised") or []
    out.append(f"gradient-masking flags: {', '.join(flags) if flags else 'none'}")
    return "\n".join(out)


def _png(fig) -> str:
    import base64
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _plots(result: dict) -> list[tuple[str, str]]:
    """(title, data URI) of each plot; empty without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        return []
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plots = []
    by_norm: dict = {}
    for name, res in result.get("attacks", {}).items():
        pts = sorted((float(e), a) for e, a in res["accuracy"].items() if e != "none")
        if pts:
            by_norm.setdefault(res.get("threat", {}).get("norm", "linf"), {})[name] = pts
    for norm, row in result.get("worst_case", {}).items():
        pts = sorted((float(e), v["accuracy"]) for e, v in row.items() if e != "none")
        if pts and norm in by_norm:
            by_norm[norm]["worst case"] = pts
    if by_norm:
        fig, axes = plt.subplots(1, len(by_norm), figsize=(5.5 * len(by_norm), 3.6), squeeze=False)
        for ax, (norm, curves) in zip(axes[0], by_norm.items()):
            for name, pts in curves.items():
                es, accs = zip(*pts)
                style = dict(color="black", lw=2.5, ls="--") if name == "worst case" else {}
                ax.plot(es, [100 * a for a in accs], marker="o", ms=4, label=name, **style)
            ax.axhline(100 * result.get("clean", 0), color="grey", lw=0.8, ls=":", label="clean")
            ax.set_xlabel(f"ε ({norm}, pixel units)")
            ax.set_ylabel("accuracy (%)")
            ax.set_ylim(0, 100)
            ax.legend(fontsize=7)
        fig.tight_layout()
        plots.append(("Accuracy against ε per attack", _png(fig)))
    diag = result.get("diagnostics")
    if diag:
        probes = diag["probes"]
        names = [k for k in ("clean", "fgsm", "pgd", "pgd_strong", "pgd_margin", "spsa", "transfer") if k in probes]
        names += [f"pgd ε={e}" for e in probes.get("large_eps", {})]
        values = [probes[k] if k in probes else probes["large_eps"][k.split("=", 1)[1]] for k in names]
        fig, ax = plt.subplots(figsize=(7, 3.4))
        ax.bar(range(len(names)), [100 * v for v in values], color="tab:blue")
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("accuracy (%)")
        text = "; ".join(f"{f['flag']}: {f.get('decision')}" + (f" (p={f['p_value']:.2g})" if f.get("p_value") is not None
                                                                   else "") for f in diag["flags"])
        ax.set_title(f"masking probes at ε = {probes['eps']:.4g}, n = {probes['n']}\n{text}", fontsize=8)
        fig.tight_layout()
        plots.append(("Masking evidence: probe accuracies and flag decisions", _png(fig)))
    runs = (result.get("adaptive") or {}).get("runs") or []
    if runs:
        key_acc = {name: res["accuracy"] for name, res in result.get("attacks", {}).items()
                   if res.get("threat", {}).get("norm") == "linf"}
        radii = sorted({e for r in key_acc.values() for e in r if e != "none"}, key=float)
        fig, ax = plt.subplots(figsize=(7, 3.4))
        for name, accs in key_acc.items():
            pts = [(float(e), 100 * accs[e]) for e in radii if e in accs]
            if pts:
                es, ys = zip(*pts)
                ax.plot(es, ys, marker="s" if name.startswith("adaptive_") else "o", ms=4, label=name,
                        lw=2 if name.startswith("adaptive_") else 0.8)
        ax.set_xlabel("ε (linf)")
        ax.set_ylabel("accuracy (%)")
        ax.legend(fontsize=7)
        ax.set_title("adaptive attacks (squares) against the suite's attacks", fontsize=9)
        fig.tight_layout()
        plots.append(("Masking evidence: adaptive attacks", _png(fig)))
    return plots


def _md_to_html(md: str) -> str:
    """The subset of Markdown ``to_markdown`` writes: headings, tables, list items, paragraphs."""
    import html

    out, table = [], []

    def flush():
        if table:
            head, *body = [r for r in table if not set(r.replace("|", "").strip()) <= {"-"}]
            cells = lambda r, tag: "".join(f"<{tag}>{html.escape(c.strip()).replace('**', '')}</{tag}>"
                                           for c in r.strip().strip("|").split("|"))
            out.append("<table><tr>" + cells(head, "th") + "</tr>"
                       + "".join("<tr>" + cells(r, "td") + "</tr>" for r in body) + "</table>")
            table.clear()

    for line in md.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush()
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{html.escape(line.lstrip('#').strip())}</h{level}>")
        elif line.lstrip().startswith("- "):
            out.append(f"<li>{html.escape(line.lstrip()[2:]).replace('**', '')}</li>")
        elif line.strip():
            out.append(f"<p>{html.escape(line).replace('**', '')}</p>")
    flush()
    return "\n".join(out)


def to_html(result: dict) -> str:
    """One self-contained HTML page: the Markdown report's content and the plots embedded as PNG."""
    plots = _plots(result)
    figures = "".join(f"<figure><img src='{uri}' alt='{title}'><figcaption>{title}</figcaption></figure>"
                      for title, uri in plots) or "<p>(plots need matplotlib: pip install stablenets[plot])</p>"
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 8px;"
             "font-size:13px}th{background:#eee}img{max-width:100%}figcaption{font-size:12px;color:#555}")
    name = result["suite"].get("name", "custom")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Robustness — suite {name}</title>"
            f"<style>{style}</style></head><body>{_md_to_html(to_markdown(result))}{figures}</body></html>\n")


def report_paths(directory: str | os.PathLike, result: dict, stem: str | None = None) -> dict[str, Path]:
    """{"json", "md", "html"}: where :func:`write_report` writes this result."""
    directory = Path(directory)
    stem = stem or f"robustness-{result['suite'].get('name', 'custom')}"
    return {ext: directory / f"{stem}.{ext}" for ext in ("json", "md", "html")}


def write_report(result: dict, directory: str | os.PathLike, stem: str | None = None) -> tuple[Path, Path]:
    """Write ``<stem>.json``, ``<stem>.md`` and ``<stem>.html`` into ``directory``; returns the JSON and
    Markdown paths (:func:`report_paths` names all three)."""
    paths = report_paths(directory, result, stem)
    write_text_atomic(paths["json"], json.dumps(result, indent=2, default=float) + "\n")
    write_text_atomic(paths["md"], to_markdown(result))
    write_text_atomic(paths["html"], to_html(result))
    return paths["json"], paths["md"]
