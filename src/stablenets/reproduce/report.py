"""Aggregate an entry's runs over seeds, check the paper's claims, and write its report.

``<out>/<entry>/`` receives ``table.md``, ``table.json``, ``figure.png`` and ``report.html`` (one
self-contained file, the figure embedded). Every cell reads paper | ours | Δ, ours as mean ± std
over the seeds (or the median, where the paper plots medians), Δ = ours − paper. A run whose loss
diverged, or that ended at chance accuracy, is counted as failed and left out of the mean, as
paper A does (Table 5). Each claim of the registry is checked on our numbers and, as a check of the
registry itself, on the paper's.
"""
from __future__ import annotations

import ast
import base64
import fnmatch
import html
import io
import json
import math
import re
from pathlib import Path

import numpy as np

from stablenets.atomic import write_bytes_atomic, write_text_atomic

__all__ = ["flatten_eval", "table_lines", "claim_lines", "canonical_key", "row_stats", "check_claims",
           "write_report", "paper_rows", "metric_scale", "protocol_lines", "side_by_side"]


def _num(text: str) -> str:
    text = text.strip()
    frac = re.match(r"^(-?\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)$", text)
    if frac:
        return f"{float(frac.group(1)) / float(frac.group(2)):.6g}"
    try:
        return f"{float(text):.6g}"
    except ValueError:
        return text


def canonical_key(key: str) -> str:
    """"fgsm@1/255" -> "fgsm@0.00392157"; "zerosnet/uniform@-0.08,0" -> "zerosnet/uniform@-0.08,0"."""
    if "@" not in key:
        return key
    name, level = key.rsplit("@", 1)
    if level == "*":
        return key
    if level.startswith("["):
        level = ",".join(str(v) for v in ast.literal_eval(level))
    return f"{name}@{','.join(_num(p) for p in level.split(','))}"


def flatten_eval(result: dict) -> dict[str, float]:
    """{"clean", "<attack>@<eps>", "<family>/<kind>@<level>", "transfer@<eps>", "worst/<norm>@<eps>"}."""
    from stablenets.evaluation.summary import headline_numbers

    flat = {canonical_key(k): float(v) for k, v in headline_numbers(result).items() if v is not None}
    transfer = result.get("transfer") or {}
    for eps, acc in (transfer.get("accuracy") or {}).items():
        flat[canonical_key(f"transfer@{eps}")] = float(acc)
    for norm, by_eps in (result.get("worst_case") or {}).items():
        for eps, res in by_eps.items():
            flat[canonical_key(f"worst/{norm}@{eps}")] = float(res["accuracy"])
    return flat


def lookup(flat: dict[str, float], key: str) -> float | None:
    """``key`` in a flat result; a ``*`` in it is the mean over the matching keys."""
    key = canonical_key(key)
    if "*" in key:
        values = [v for k, v in flat.items() if fnmatch.fnmatchcase(k, key)]
        return float(np.mean(values)) if values else None
    if key not in flat and "@" in key:  # a scale that changed the radius: the attack's one radius there
        same = [v for k, v in flat.items() if k.rsplit("@", 1)[0] == key.rsplit("@", 1)[0]]
        return same[0] if len(same) == 1 else None
    return flat.get(key)


def metric_scale(metric: dict) -> float:
    source = metric["from"].split(":", 1)[0]
    return float(metric.get("scale", 100.0 if source in ("final", "eval", "curve", "ensemble") else 1.0))  # preflight: 1


def _stats(values: list[float]) -> dict:
    v = [float(x) for x in values if x is not None and not (isinstance(x, float) and math.isnan(x))]
    if not v:
        return {"n": 0}
    return {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0,
            "median": float(np.median(v)), "n": len(v), "values": v}


def row_stats(per_seed: list[dict], metrics: list[dict]) -> dict:
    """{metric key: stats} over the seeds' metric dicts (values already in the paper's units)."""
    return {m["key"]: _stats([s.get(m["key"]) for s in per_seed]) for m in metrics}


def _paper_cell(value):
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
        return {"mean": float(value[0]), "std": float(value[1])}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {"mean": float(value)}
    return None


def derived_value(metric: dict, values: dict) -> float | None:
    """A derived column ``from = "diff:a,b"``: the row's value of column a minus column b (``abs = true``: its
    size), e.g. the drop of accuracy under noise; None when either is missing."""
    a, _, b = metric["from"].partition(":")[2].partition(",")
    if values.get(a) is None or values.get(b) is None:
        return None
    d = float(values[a]) - float(values[b])
    return abs(d) if metric.get("abs") else d


def paper_rows(entry, runs) -> dict[str, dict]:
    """The paper's numbers by row label: each run's ``paper`` merged with ``paper_values[label]``, and the
    derived columns (``diff:``) computed from them."""
    out: dict[str, dict] = {}
    for run in runs:
        out.setdefault(run.label, {}).update(run.paper or {})
    for label, values in entry.paper_values.items():
        if isinstance(values, dict) and label != "failed":
            out.setdefault(label, {}).update(values)
    rows = {label: {k: c for k, v in row.items() if (c := _paper_cell(v)) is not None} for label, row in out.items()}
    for row in rows.values():
        means = {k: c["mean"] for k, c in row.items()}
        for metric in entry.metrics:
            if metric["from"].startswith("diff:") and (d := derived_value(metric, means)) is not None:
                row[metric["key"]] = {"mean": d}
    return rows


def _value(stats: dict, stat: str) -> float | None:
    if not stats or "mean" not in stats:
        return None
    return stats.get(stat, stats["mean"])


def _x_value(x):
    if isinstance(x, (int, float)):
        return float(x)
    if isinstance(x, list) and x and isinstance(x[0], (int, float)):
        return float(x[0])
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def check_claims(entry, values: dict[str, dict], series: dict[str, list[tuple]]) -> list[dict]:
    """Each claim of ``entry`` on ``values`` ({label: {metric: number}}); holds is True/False, or None
    when a number it needs is missing. ``series``: {series: [(x, label)]}."""
    out = []
    for claim in entry.claims:
        metric = claim.get("metric")

        def v(label):
            return (values.get(label) or {}).get(metric)

        holds, detail = None, ""
        kind = claim["kind"]
        if kind == "order":
            got = [v(r) for r in claim["runs"]]
            if None not in got:
                holds = all(a > b for a, b in zip(got, got[1:]))
                detail = " > ".join(f"{r} {g:.4g}" for r, g in zip(claim["runs"], got))
        elif kind == "greater":
            a = v(claim["a"])
            ref = claim.get("value")
            b = float(ref) if ref is not None else v(claim.get("b"))
            by = float(claim.get("by", 0.0))
            if a is not None and b is not None:
                holds = (a < b - by) if claim.get("less") else (a - b > by)
                detail = f"{claim['a']} {a:.4g} vs {claim.get('b', ref)} {b:.4g} (needs {'<' if claim.get('less') else '>'}"
                detail += f" by {by:g})" if by else ")"
        elif kind == "groups":  # on the rows that have numbers; the others are named
            hi = [v(r) for r in claim["high"] if v(r) is not None]
            lo = [v(r) for r in claim["low"] if v(r) is not None]
            if hi and lo:
                holds = min(hi) > max(lo)
                detail = f"lowest of the high group {min(hi):.4g}, highest of the low group {max(lo):.4g}"
                absent = [r for r in claim["high"] + claim["low"] if v(r) is None]
                if absent:
                    detail += f" (without {', '.join(absent)}: not run at this scale or failed)"
        elif kind == "series_above":
            above = {_x_value(x): l for x, l in series.get(claim["above"], [])}
            below = {_x_value(x): l for x, l in series.get(claim["below"], [])}
            xs = sorted(x for x in set(above) & set(below) if x is not None and x >= float(claim.get("x_min", -1e18)))
            pairs = [(x, v(above[x]), v(below[x])) for x in xs]
            pairs = [p for p in pairs if p[1] is not None and p[2] is not None]
            if pairs:
                holds = all(a > b for _, a, b in pairs)
                detail = "; ".join(f"x={x:g}: {a:.4g} vs {b:.4g}" for x, a, b in pairs)
        elif kind == "trend":
            pts = sorted((_x_value(x), v(l)) for x, l in series.get(claim["series"], []) if v(l) is not None)
            if len(pts) >= 2:
                ys = [y for _, y in pts]
                inc = claim.get("direction", "increasing") == "increasing"
                holds = all((b >= a) if inc else (b <= a) for a, b in zip(ys, ys[1:])) and ys[-1] != ys[0]
                detail = " → ".join(f"{y:.4g}" for y in ys)
        elif kind == "close":
            tol = float(claim.get("tol", 0.0))
            if claim.get("paper"):
                gaps = claim.get("_gaps")  # filled by the caller with (label, ours − paper) pairs
                if gaps:
                    worst = max(gaps, key=lambda g: abs(g[1]))
                    holds = all(abs(g) <= tol + 1e-12 for _, g in gaps)
                    detail = f"largest |ours − paper| {abs(worst[1]):.4g} at {worst[0]} (tolerance {tol:g})"
            else:
                a, b = (v(r) for r in claim["runs"])
                if a is not None and b is not None:
                    holds = abs(a - b) <= tol
                    detail = f"|{a:.4g} − {b:.4g}| = {abs(a - b):.4g} (tolerance {tol:g})"
        elif kind == "means":  # the mean over one group against the mean over another
            hi = [v(r) for r in claim["high"] if v(r) is not None]
            lo = [v(r) for r in claim["low"] if v(r) is not None]
            if hi and lo:
                by = float(claim.get("by", 0.0))
                holds = float(np.mean(hi)) - float(np.mean(lo)) > by
                detail = f"mean {np.mean(hi):.4g} over {len(hi)} vs {np.mean(lo):.4g} over {len(lo)}"
                detail += f" (needs > by {by:g})" if by else ""
        elif kind == "all_greater":  # every pair, every column
            got = [(a, b, m, (values.get(a) or {}).get(m), (values.get(b) or {}).get(m))
                   for a, b in claim["pairs"] for m in claim["metrics"]]
            have = [g for g in got if g[3] is not None and g[4] is not None]
            if have:
                fails = [g for g in have if not g[3] > g[4]]
                holds = not fails
                detail = f"{len(have) - len(fails)} of {len(have)} comparisons hold"
                detail += "; not: " + ", ".join(f"{a} {m} {x:.4g} vs {y:.4g}" for a, b, m, x, y in fails[:4]) if fails else ""
                if len(have) < len(got):
                    detail += f" ({len(got) - len(have)} without numbers)"
        elif kind == "gap_grows":  # a − b over the columns in order (weaker to stronger attack)
            a, b = claim["runs"]
            gaps = [(m, (values.get(a) or {}).get(m), (values.get(b) or {}).get(m)) for m in claim["metrics"]]
            gaps = [(m, x - y) for m, x, y in gaps if x is not None and y is not None]
            if len(gaps) >= 2:
                ys = [g for _, g in gaps]
                holds = all(y2 >= y1 for y1, y2 in zip(ys, ys[1:])) and ys[-1] > ys[0]
                detail = " → ".join(f"{m} {g:+.4g}" for m, g in gaps)
        elif kind == "magnitude":  # decimal orders of magnitude between two rows' values
            a, b = v(claim["a"]), v(claim["b"])
            if a is not None and b is not None and a > 0 and b > 0:
                by = int(claim.get("by", 1))
                orders = math.floor(math.log10(a)) - math.floor(math.log10(b))
                holds = orders >= by
                detail = f"{claim['a']} {a:.3g} vs {claim['b']} {b:.3g}: {orders} order(s) of magnitude (needs {by})"
        elif kind == "best":
            pool = [l for x, l in series.get(claim["series"], [])] if claim.get("series") else list(values)
            got = {l: v(l) for l in pool if v(l) is not None}
            if claim["run"] in got:
                best = max(got, key=got.get)
                holds = best == claim["run"]
                detail = f"best: {best} {got[best]:.4g}; {claim['run']} {got[claim['run']]:.4g}"
                absent = [label for label in pool if label not in got]
                if absent:
                    detail += f" (without {', '.join(absent)}: not run at this scale or failed)"
        out.append({"text": claim.get("text", kind), "kind": kind, "holds": holds, "detail": detail})
    return out


def _fmt(stats: dict | None, stat: str = "mean", digits: int = 2) -> str:
    if not stats or "mean" not in stats:
        return "—"
    value = stats.get(stat, stats["mean"])
    text = f"{value:.{digits}f}"
    if stats.get("std") is not None and stats.get("n", 2) > 1:  # a paper cell has no n: its ± is printed
        text += f" ± {stats['std']:.{digits}f}"
    return text


def table_lines(report: dict, ran_only: bool = False) -> list[str]:
    """The paper | ours | Δ table as Markdown lines; ``ran_only`` drops the rows we did not run."""
    head = ["row"]
    for m in report["metrics"]:
        head += [f"{m['column']} paper", "ours", "Δ"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in report["rows"]:
        if ran_only and not row.get("runs"):
            continue
        cells = [row["label"] + (f" ({row['failed']} of {row['runs']} failed)" if row.get("failed") else "")]
        for m in report["metrics"]:
            digits = int(m.get("digits", 2))  # a metric may print more places (D-table3's step times)
            cells += [_fmt(row["paper"].get(m["key"]), digits=digits),
                      _fmt(row["ours"].get(m["key"]), report["stat"], digits),
                      "—" if row["delta"].get(m["key"]) is None else f"{row['delta'][m['key']]:+.{digits}f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def claim_lines(report: dict) -> list[str]:
    """One Markdown bullet per claim: whether it holds in our numbers and in the paper's."""
    lines = []
    for c in report["claims"]:
        mark = {True: "✔ holds", False: "✘ does not hold", None: "— not checked (numbers missing)"}[c["holds"]]
        paper = {True: "holds", False: "does not hold", None: "n/a"}[c["paper_holds"]]
        lines.append(f"- {mark}: {c['text']}. {c['detail']} (on the paper's numbers: {paper})")
    return lines


def protocol_lines(report: dict) -> list[str]:
    """Which protocol ran and how it differs from the paper's text (each difference with its source), then
    the final-epoch and best-epoch test accuracy of every row that trained."""
    protocol = report.get("protocol")
    if protocol is None:
        return []
    code = report.get("code") or {}
    lines = [f"## Protocol: {protocol}", ""]
    if protocol == "paper":
        lines.append("As the paper states. `--protocol code` runs it as the authors' public code did.")
    elif protocol == "both":
        lines.append("The paper's protocol and the authors' public code's, side by side (columns *[paper]* "
                     "and *[code]*).")
    if protocol != "paper" and not code.get("released"):
        lines.append(f"No public code trains this entry ({code.get('repository') or 'no repository'}): "
                     "the code protocol is the paper's.")
    if protocol != "paper" and report.get("accuracy_read") == "best":
        lines.append("Accuracy columns read the best epoch's test accuracy, as the authors' code reports it.")
    if code.get("note"):
        lines.append(code["note"])
    differences = code.get("differences") or []
    if differences:
        lines += ["", f"Differences of the authors' code ({code.get('repository')}) from the paper's text:", ""]
        for d in differences:
            state = (f"reproduced; changes {', '.join(d['rows'])}" if d.get("rows") else "reproduced") \
                if d.get("built") else f"not reproduced: {d.get('why')}"
            lines.append(f"- **{d['id']}**: {d['what']} — source: {d['source']} ({state})")
    rows = [r for r in report.get("rows", []) if (r.get("accuracy") or {}).get("final", {}).get("n")]
    if rows:
        lines += ["", "| row | final-epoch test acc | best-epoch test acc |", "|---|---|---|"]
        for r in rows:
            acc = r["accuracy"]
            lines.append(f"| {r['label']} | {_fmt(acc['final'])} | {_fmt(acc['best'])} |")
    return lines + [""]


def side_by_side(paper: dict, code: dict) -> dict:
    """One report of an entry's two protocols: each metric twice ([paper], [code]), the claims of both."""
    metrics = []
    for m in paper["metrics"]:
        metrics += [dict(m, key=f"{m['key']}@paper", column=f"{m['column']} [paper]"),
                    dict(m, key=f"{m['key']}@code", column=f"{m['column']} [code]")]
    code_rows = {r["label"]: r for r in code["rows"]}
    rows = []
    for r in paper["rows"]:
        c = code_rows.get(r["label"], {})
        row = dict(r, ours={}, paper={}, delta={}, accuracy={})
        for which, src in (("paper", r), ("code", c)):
            for key in ("ours", "paper", "delta"):
                row[key].update({f"{k}@{which}": v for k, v in (src.get(key) or {}).items()})
        row["accuracy"] = {"final": (r.get("accuracy") or {}).get("final", {}),
                           "best": (r.get("accuracy") or {}).get("best", {}),
                           "code_final": (c.get("accuracy") or {}).get("final", {}),
                           "code_best": (c.get("accuracy") or {}).get("best", {})}
        rows.append(row)
    claims = [dict(cl, text=f"[{which}] {cl['text']}") for which, rep_ in (("paper", paper), ("code", code))
              for cl in rep_["claims"]]
    return dict(paper, metrics=metrics, rows=rows, claims=claims, protocol="both", code=code.get("code"),
                accuracy_read=code.get("accuracy_read"), parts={"paper": paper.get("stat"), "code": code.get("stat")},
                train_seconds=paper["train_seconds"] + code["train_seconds"],
                trained_runs=paper["trained_runs"] + code["trained_runs"],
                wall_seconds=paper["wall_seconds"] + code["wall_seconds"])


def _markdown(report: dict) -> str:
    e = report
    lines = [f"# {e['entry']}: {e['title']}", "", f"*{e['source']}* — scale **{e['scale']}**", "",
             f"**The paper's claim.** {e['claim']}", ""]
    if e.get("scale_note"):
        lines += [f"**This scale.** {e['scale_note']}", ""]
    stat = e["stat"]
    lines += table_lines(e)
    lines += ["", f"Ours: {'median' if stat == 'median' else 'mean'} ± std over seeds {e['seeds']}; "
              f"Δ = ours − paper.", ""]
    if e["claims"]:
        lines += ["## Does the paper's claim hold in our numbers?", ""]
        lines += claim_lines(e)
        lines.append("")
    lines += protocol_lines(e)
    if e.get("decisions"):
        lines += ["## Decisions (where the paper is silent)", ""] + [f"- {d}" for d in e["decisions"]] + [""]
    if e.get("needs"):
        lines += ["## Needs", ""] + [f"- {d}" for d in e["needs"]] + [""]
    lines += ["## Cost", "", f"- hardware: {', '.join(e['hardware']) or 'n/a'}",
              f"- training: {e['train_seconds']:.0f} s summed over {e['trained_runs']} runs; "
              f"command wall time {e['wall_seconds']:.0f} s", ""]
    return "\n".join(lines)


def _html(report: dict, figure: bytes | None) -> str:
    md = html.escape(_markdown(report))
    img = ""
    if figure:
        img = f'<img alt="figure" style="max-width:100%" src="data:image/png;base64,{base64.b64encode(figure).decode()}">'
    return (f"<!doctype html><meta charset='utf-8'><title>{html.escape(report['entry'])}</title>"
            f"<body style='font-family:sans-serif;max-width:1100px;margin:auto'>{img}<pre style='white-space:pre-wrap'>"
            f"{md}</pre></body>")


def _figure(report: dict, draw: dict, extra: dict, curves: dict) -> bytes | None:
    from stablenets.analysis._io import pyplot

    try:
        plt = pyplot()
    except ImportError:  # the `plot` extra is not installed: tables and reports without the figure
        return None
    kind = draw.get("kind", "bars")
    metric = draw.get("metric") or (report["metrics"][0]["key"] if report["metrics"] else None)
    stat = report["stat"]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    data = (extra or {}).get("data") or {}
    plotters = {"ivp": ("stablenets.analysis.stability", "plot_ivp"),
                "histogram": ("stablenets.analysis.coefficients", "plot_coefficients"),
                "flow": ("stablenets.analysis.flow", "plot_feature_flow"),
                "dynamics": ("stablenets.analysis.dynamics", "plot_dynamics"),
                "landscape": ("stablenets.analysis.landscape", "plot_landscapes"),
                "steps": ("stablenets.analysis.solver", "plot_step_times"),
                "images": ("stablenets.analysis.noisy", "plot_noisy_inputs")}
    if kind in plotters and data:
        import importlib

        plt.close(fig)
        module, name = plotters[kind]
        chosen = next(iter(data.values())) if kind == "landscape" else data
        tmp = Path(report["out"]) / ".figure.png"
        getattr(importlib.import_module(module), name)(chosen, tmp)
        out = tmp.read_bytes()
        tmp.unlink()
        return out
    if kind == "curves" and curves:
        for label, rows in curves.items():
            ax.plot(rows["epoch"], 100 * np.asarray(rows["value"]), marker=".", label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"{draw.get('metric', 'test_acc')} (%)")
    elif kind in ("lines", "profile") and metric:
        by_series: dict[str, list] = {}
        for row in report["rows"]:
            by_series.setdefault(row.get("series") or "", []).append(row)
        for name, rows in by_series.items():
            if kind == "profile":
                xs = draw.get("xvalues") or list(range(len(report["metrics"])))
                for row in rows:
                    ys = [_value(row["ours"].get(m["key"]), stat) for m in report["metrics"]]
                    ax.plot(xs, [np.nan if y is None else y for y in ys], marker="o", label=row["label"])
                continue
            pts = sorted((_x_value(r.get("x")), r) for r in rows if _x_value(r.get("x")) is not None)
            if not pts:
                continue
            xs = [p[0] for p in pts]
            ys = [_value(p[1]["ours"].get(metric), stat) for p in pts]
            es = [(p[1]["ours"].get(metric) or {}).get("std", 0.0) for p in pts]
            ax.errorbar(xs, [np.nan if y is None else y for y in ys], yerr=es, marker="o", capsize=3,
                        label=f"{name} (ours)")
            pv = [(x, (p["paper"].get(metric) or {}).get("mean")) for x, p in pts]
            pv = [(x, y) for x, y in pv if y is not None]
            if pv:
                ax.plot([x for x, _ in pv], [y for _, y in pv], "x--", alpha=0.6, label=f"{name} (paper)")
        if draw.get("xscale"):
            ax.set_xscale(draw["xscale"])
        ax.set_xlabel(draw.get("x", "x"))
        ax.set_ylabel(next((m["column"] for m in report["metrics"] if m["key"] == metric), metric))
    else:
        labels = [r["label"] for r in report["rows"]]
        ours = [_value(r["ours"].get(metric), stat) if metric else None for r in report["rows"]]
        paper = [(r["paper"].get(metric) or {}).get("mean") if metric else None for r in report["rows"]]
        idx = np.arange(len(labels))
        ax.bar(idx - 0.2, [np.nan if v is None else v for v in paper], 0.4, label="paper")
        ax.bar(idx + 0.2, [np.nan if v is None else v for v in ours], 0.4, label=f"ours ({report['scale']})")
        ax.set_xticks(idx, labels, rotation=60, ha="right", fontsize=7)
        ax.set_ylabel(next((m["column"] for m in report["metrics"] if m["key"] == metric), metric or ""))
    ax.set_title(f"{report['entry']} ({report['scale']} scale)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def write_report(report: dict, out_dir: Path, draw: dict | None = None, extra: dict | None = None,
                 curves: dict | None = None) -> dict[str, Path]:
    """Write table.md, table.json, figure.png and report.html for an aggregated ``report``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = dict(report, out=str(out_dir))
    paths = {"table.md": out_dir / "table.md", "table.json": out_dir / "table.json",
             "figure.png": out_dir / "figure.png", "report.html": out_dir / "report.html"}
    write_text_atomic(paths["table.md"], _markdown(report))
    write_text_atomic(paths["table.json"], json.dumps({k: v for k, v in report.items() if k != "out"}, indent=1,
                                                      default=float) + "\n")
    figure = _figure(report, draw or {}, extra or {}, curves or {})
    if figure:
        write_bytes_atomic(paths["figure.png"], figure)
    else:
        paths.pop("figure.png")
    write_text_atomic(paths["report.html"], _html(report, figure))
    return paths
