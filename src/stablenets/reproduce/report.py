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
from stablenets.reproduce.verdicts import Comparison, Evidence, compare, contrast, verdict_of

__all__ = ["flatten_eval", "flatten_outcomes", "table_lines", "claim_lines", "table_legend", "write_index",
           "index_markdown", "canonical_key", "row_stats", "check_claims",
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


def flatten_outcomes(result: dict) -> dict[str, str]:
    """The packed per-example outcomes behind :func:`flatten_eval`'s numbers, by the same keys."""
    from stablenets.evaluation.summary import headline_outcomes

    flat = {canonical_key(k): v for k, v in headline_outcomes(result).items()}
    for eps, flags in ((result.get("transfer") or {}).get("outcomes") or {}).items():
        flat[canonical_key(f"transfer@{eps}")] = flags
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


def _evidence_of(values: dict, evidence: dict | None, label: str, metric: str) -> Evidence | None:
    found = ((evidence or {}).get(label) or {}).get(metric)
    if found is not None:
        return found
    number = (values.get(label) or {}).get(metric)
    return None if number is None else Evidence.exact_value(number)


def _close_tests(a: Evidence, b: Evidence, tol: float, label: str) -> list[Comparison]:
    """Two one-sided tests that |a − b| ≤ tol: b − a + tol > 0 and a − b + tol > 0."""
    shown = compare(a, b, label=label)
    tol = tol + 1e-12  # a tolerance met exactly is met
    tests = [compare(b, a, margin=-tol, label=label), compare(a, b, margin=-tol, label=label)]
    for test in tests:
        test.shown = shown
    return tests


def _evidence_text(result: dict) -> str:
    """"p = 0.003; weakest: a − b = +2.20 [−0.51, +4.91] (paired)" for a verdict dict."""
    if result["verdict"] == "not checked" or result.get("method") == "exact":
        return ""  # exact numbers decide as they are: the detail says everything
    parts = []
    if result.get("p_value") is not None and result.get("method") != "exact":
        parts.append(f"p = {result['p_value']:.2g}")
    ci = result.get("interval")
    if result.get("weakest"):
        span = ""
        if ci and ci[0] != ci[1]:
            span = f" [{_signed(ci[0])}, {_signed(ci[1])}] (90% interval)"
        parts.append(f"{'against' if result['verdict'] == 'contradicted' else 'weakest'}: {result['weakest']} "
                     f"{_signed(result['diff'])}{span}" + (f", {result['method']}" if result.get("method") else ""))
    if result.get("seeds_unmeasured") and result.get("method") != "exact":
        parts.append("one seed: its spread over seeds is not measured")
    if result["verdict"] == "inconclusive" and result.get("decide"):
        parts.append(f"would be decided by {result['decide']}")
    return "; ".join(parts)


def _signed(x: float, digits: int = 3) -> str:
    text = f"{x:+.{digits}g}"
    return "+0" if re.fullmatch(r"[+-]0(\.0*)?", text) else text


def check_claims(entry, values: dict[str, dict], series: dict[str, list[tuple]], evidence: dict | None = None,
                 paper: dict | None = None, population: int | None = None) -> list[dict]:
    """Each claim of ``entry`` on ``values`` ({label: {metric: number}}), with a verdict.

    ``evidence`` ({label: {metric: Evidence}}) carries what the numbers' uncertainty is made of (seeds,
    test points, per-example outcomes); a number without evidence is exact (the paper's own numbers,
    an analytic result). ``paper`` ({label: {metric: number}}) is what ``close`` claims with
    ``paper = true`` compare against. ``series``: {series: [(x, label)]}.

    Each result has ``verdict`` (holds | contradicted | inconclusive | not checked; see
    :mod:`stablenets.reproduce.verdicts`), ``holds`` (True, False, or None when inconclusive or not
    checked), ``p_value``, ``interval``, ``decide`` and a ``detail`` line with the point estimates.
    """
    out = []
    for claim in entry.claims:
        metric = claim.get("metric")

        def v(label):
            return (values.get(label) or {}).get(metric)

        def ev(label):
            return _evidence_of(values, evidence, label, metric)

        tests: list[Comparison] = []
        against: list[Comparison] | None = None
        detail, n_hint, monotone = "", None, True
        kind = claim["kind"]
        if kind == "order":
            got = [v(r) for r in claim["runs"]]
            if None not in got:
                detail = " > ".join(f"{r} {g:.4g}" for r, g in zip(claim["runs"], got))
                tests = [compare(ev(a), ev(b), label=f"{a} − {b}") for a, b in zip(claim["runs"], claim["runs"][1:])]
        elif kind == "greater":
            a = v(claim["a"])
            ref = claim.get("value")
            b = float(ref) if ref is not None else v(claim.get("b"))
            by = float(claim.get("by", 0.0))
            if a is not None and b is not None:
                eb = Evidence.exact_value(b) if ref is not None else ev(claim["b"])
                name_b = claim.get("b", ref)
                tests = [compare(eb, ev(claim["a"]), margin=by, label=f"{name_b} − {claim['a']}") if claim.get("less")
                         else compare(ev(claim["a"]), eb, margin=by, label=f"{claim['a']} − {name_b}")]
                detail = f"{claim['a']} {a:.4g} vs {name_b} {b:.4g} (needs {'<' if claim.get('less') else '>'}"
                detail += f" by {by:g})" if by else ")"
        elif kind == "groups":  # on the rows that have numbers; the others are named
            hi = [r for r in claim["high"] if v(r) is not None]
            lo = [r for r in claim["low"] if v(r) is not None]
            if hi and lo:
                detail = (f"lowest of the high group {min(v(r) for r in hi):.4g}, "
                          f"highest of the low group {max(v(r) for r in lo):.4g}")
                tests = [compare(ev(h), ev(l), label=f"{h} − {l}") for h in hi for l in lo]
                absent = [r for r in claim["high"] + claim["low"] if v(r) is None]
                if absent:
                    detail += f" (without {', '.join(absent)}: not run at this scale or failed)"
        elif kind == "series_above":
            above = {_x_value(x): l for x, l in series.get(claim["above"], [])}
            below = {_x_value(x): l for x, l in series.get(claim["below"], [])}
            xs = sorted(x for x in set(above) & set(below) if x is not None and x >= float(claim.get("x_min", -1e18)))
            pairs = [(x, above[x], below[x]) for x in xs if v(above[x]) is not None and v(below[x]) is not None]
            if pairs:
                detail = "; ".join(f"x={x:g}: {v(a):.4g} vs {v(b):.4g}" for x, a, b in pairs)
                tests = [compare(ev(a), ev(b), label=f"x={x:g}: {a} − {b}") for x, a, b in pairs]
        elif kind == "trend":
            pts = sorted(((_x_value(x), l) for x, l in series.get(claim["series"], []) if v(l) is not None),
                         key=lambda p: p[0])
            if len(pts) >= 2:
                inc = claim.get("direction", "increasing") == "increasing"
                ordered = [l for _, l in pts] if inc else [l for _, l in reversed(pts)]  # the claimed rise
                detail = " → ".join(f"{v(l):.4g}" for _, l in pts)
                steps = [compare(ev(b), ev(a), label=f"{b} − {a}", strict=False) for a, b in zip(ordered, ordered[1:])]
                whole = compare(ev(ordered[-1]), ev(ordered[0]), label=f"{ordered[-1]} − {ordered[0]}")
                tests, against = [whole], steps + [whole]
                monotone = all(c.diff >= 0 for c in steps)
        elif kind == "close":
            tol = float(claim.get("tol", 0.0))
            if claim.get("paper"):
                gaps = []
                for label in values:
                    if claim.get("runs") and label not in claim["runs"]:
                        continue
                    ours, theirs = v(label), ((paper or {}).get(label) or {}).get(metric)
                    if ours is not None and theirs is not None:
                        gaps.append((label, ours - theirs))
                        tests += _close_tests(ev(label), Evidence.exact_value(theirs), tol, f"{label} − paper")
                if gaps:
                    worst = max(gaps, key=lambda g: abs(g[1]))
                    detail = f"largest |ours − paper| {abs(worst[1]):.4g} at {worst[0]} (tolerance {tol:g})"
            else:
                a, b = (v(r) for r in claim["runs"])
                if a is not None and b is not None:
                    detail = f"|{a:.4g} − {b:.4g}| = {abs(a - b):.4g} (tolerance {tol:g})"
                    tests = _close_tests(ev(claim["runs"][0]), ev(claim["runs"][1]), tol,
                                         f"{claim['runs'][0]} − {claim['runs'][1]}")
        elif kind == "means":  # the mean over one group against the mean over another
            hi = [r for r in claim["high"] if v(r) is not None]
            lo = [r for r in claim["low"] if v(r) is not None]
            if hi and lo:
                by = float(claim.get("by", 0.0))
                mean_hi, mean_lo = (float(np.mean([v(r) for r in g])) for g in (hi, lo))
                detail = f"mean {mean_hi:.4g} over {len(hi)} vs {mean_lo:.4g} over {len(lo)}"
                detail += f" (needs > by {by:g})" if by else ""
                tests = [contrast([(1 / len(hi), ev(r)) for r in hi] + [(-1 / len(lo), ev(r)) for r in lo],
                                  margin=by, label="mean(high) − mean(low)")]
        elif kind == "all_greater":  # every pair, every column
            got = [(a, b, m, (values.get(a) or {}).get(m), (values.get(b) or {}).get(m))
                   for a, b in claim["pairs"] for m in claim["metrics"]]
            have = [g for g in got if g[3] is not None and g[4] is not None]
            if have:
                fails = [g for g in have if not g[3] > g[4]]
                detail = f"{len(have) - len(fails)} of {len(have)} comparisons hold"
                detail += "; not: " + ", ".join(f"{a} {m} {x:.4g} vs {y:.4g}" for a, b, m, x, y in fails[:4]) if fails else ""
                if len(have) < len(got):
                    detail += f" ({len(got) - len(have)} without numbers)"
                tests = [compare(_evidence_of(values, evidence, a, m), _evidence_of(values, evidence, b, m),
                                 label=f"{m}: {a} − {b}") for a, b, m, _, _ in have]
        elif kind == "gap_grows":  # a − b over the columns in order (weaker to stronger attack)
            a, b = claim["runs"]
            cols = [m for m in claim["metrics"] if (values.get(a) or {}).get(m) is not None
                    and (values.get(b) or {}).get(m) is not None]
            if len(cols) >= 2:
                def gap(m, sign=1.0):
                    return [(sign, _evidence_of(values, evidence, a, m)), (-sign, _evidence_of(values, evidence, b, m))]
                detail = " → ".join(f"{m} {values[a][m] - values[b][m]:+.4g}" for m in cols)
                steps = [contrast(gap(m2) + gap(m1, -1.0), label=f"gap {m2} − gap {m1}", strict=False)
                         for m1, m2 in zip(cols, cols[1:])]
                whole = contrast(gap(cols[-1]) + gap(cols[0], -1.0), label=f"gap {cols[-1]} − gap {cols[0]}")
                tests, against = [whole], steps + [whole]
                monotone = all(c.diff >= 0 for c in steps)
        elif kind == "magnitude":  # decimal orders of magnitude between two rows' values
            a, b = v(claim["a"]), v(claim["b"])
            if a is not None and b is not None and a > 0 and b > 0:
                by = int(claim.get("by", 1))
                orders = math.floor(math.log10(a)) - math.floor(math.log10(b))
                detail = f"{claim['a']} {a:.3g} vs {claim['b']} {b:.3g}: {orders} order(s) of magnitude (needs {by})"
                decade = math.floor(math.log10(b))
                tests = [compare(ev(claim["a"]), Evidence.exact_value(10.0 ** (decade + by)), strict=False,
                                 label=f"{claim['a']} − 1e{decade + by}"),
                         compare(Evidence.exact_value(10.0 ** (decade + 1)), ev(claim["b"]),
                                 label=f"1e{decade + 1} − {claim['b']}")]
        elif kind == "best":
            pool = [l for x, l in series.get(claim["series"], [])] if claim.get("series") else list(values)
            got = {l: v(l) for l in pool if v(l) is not None}
            if claim["run"] in got:
                best = max(got, key=got.get)
                detail = f"best: {best} {got[best]:.4g}; {claim['run']} {got[claim['run']]:.4g}"
                tests = [compare(ev(claim["run"]), ev(l), label=f"{claim['run']} − {l}") for l in got
                         if l != claim["run"]]
                absent = [label for label in pool if label not in got]
                if absent:
                    detail += f" (without {', '.join(absent)}: not run at this scale or failed)"
                if not tests:  # the only row that ran is trivially the best of those that ran
                    tests = [Comparison("no other row", 0.0, 0.0, p_greater=0.0, p_less=1.0, method="exact")]
        labels = [l for l in values if metric is not None]
        n_hint = next((e.n for l in labels if (e := ((evidence or {}).get(l) or {}).get(metric)) is not None
                       and e.n), None)
        result = verdict_of(kind, tests, against, n_hint, population)
        if result["verdict"] == "holds" and not monotone:
            result = {**result, "verdict": "inconclusive",
                      "decide": "more seeds or a larger test set, to settle the steps that go the other way"}
        holds = {"holds": True, "contradicted": False}.get(result["verdict"])
        out.append({"text": claim.get("text", kind), "kind": kind, "holds": holds, "detail": detail,
                    **{k: result.get(k) for k in ("verdict", "p_value", "interval", "decide", "weakest", "diff",
                                                   "method", "seeds_unmeasured")},
                    "evidence": _evidence_text(result)})
    return out


_VERDICT_MARK = {"holds": "✔ holds", "contradicted": "✘ contradicted", "inconclusive": "? inconclusive at this n",
                 "not checked": "— not checked (numbers missing)"}


def _cell(text: str) -> str:
    """A Markdown table cell: pipes escaped (a heading may hold |x|)."""
    return str(text).replace("|", "\\|")


def _number(value: float, digits: int, signed: bool = False) -> str:
    """``value`` to ``digits`` places; a value that rounds to zero prints unsigned ("0.00", never "-0.00")."""
    text = f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
    return text.lstrip("+-") if float(text) == 0 else text


def _fmt(stats: dict | None, stat: str = "mean", digits: int = 2) -> str:
    if not stats or "mean" not in stats:
        return "—"
    value = stats.get(stat, stats["mean"])
    text = _number(value, digits)
    if stats.get("std") is not None and stats.get("n", 2) > 1:  # a paper cell has no n: its ± is printed
        text += f" ± {_number(stats['std'], digits)}"
    return text


def _yes_no(stats: dict | None) -> str:
    if not stats or "mean" not in stats:
        return "—"
    return "yes" if stats["mean"] >= 0.5 else "no"


def _delta(row: dict, metric: dict, digits: int) -> str:
    """Δ = ours − paper, ± u = √(paper std² + our standard error²); ✓ when |Δ| ≤ 2u and the paper gives
    its spread (within the paper's spread), ✗ when it gives one and Δ is beyond."""
    key = metric["key"]
    delta = row["delta"].get(key)
    if delta is None:
        return "—"
    paper_std = (row["paper"].get(key) or {}).get("std")
    se = (row["ours"].get(key) or {}).get("se")
    text = _number(delta, digits, signed=True)
    if paper_std is None and not se:
        return text
    u = math.sqrt((paper_std or 0.0) ** 2 + (se or 0.0) ** 2)
    text += f" ± {_number(u, digits)}"
    if paper_std is not None:
        text += " ✓" if abs(delta) <= 2 * u else " ✗"
    return text


def _test_points(row: dict, metrics: list[dict]) -> str:
    ns = [(row["ours"].get(m["key"]) or {}).get("test_points") for m in metrics if not m.get("boolean")]
    ns = list(dict.fromkeys(n for n in ns if n))
    return " / ".join(f"{n:,}" for n in ns) or "—"


def table_lines(report: dict, ran_only: bool = False) -> list[str]:
    """The paper | ours | Δ table as Markdown lines; ``ran_only`` drops the rows we did not run.

    Trained entries add, per row, the seeds behind our numbers and the test points behind each
    accuracy; a yes/no column (``boolean = true``, e.g. zero-stability) has no Δ."""
    exact = report.get("exact", False)
    rows = [row for row in report["rows"] if not (ran_only and not row.get("runs"))]
    # A metric for which the paper prints no number in any row (a figure read qualitatively, a column of
    # ours) is one column, ours: no empty paper and Δ columns.
    printed = {m["key"]: any(row["paper"].get(m["key"]) is not None for row in rows) for m in report["metrics"]}
    head, align = ["row"], [":---"]
    if not exact:
        head += ["seeds", "test points"]
        align += ["---:", "---:"]
    for m in report["metrics"]:
        if not printed[m["key"]]:
            head.append(m["column"] if "ours" in m["column"] else f"{m['column']} (ours)")
            align.append("---:")
            continue
        head += [f"{m['column']} paper", "ours"] + ([] if m.get("boolean") else ["Δ"])
        align += ["---:"] * (2 if m.get("boolean") else 3)
    lines = ["| " + " | ".join(_cell(h) for h in head) + " |", "|" + "|".join(align) + "|"]
    for row in rows:
        cells = [row["label"] + (f" ({row['failed']} of {row['runs']} failed)" if row.get("failed") else "")]
        if not exact:
            seeds = max([(row["ours"].get(m["key"]) or {}).get("n", 0) for m in report["metrics"]] or [0])
            cells += [str(seeds) if seeds else "—", _test_points(row, report["metrics"])]
        for m in report["metrics"]:
            digits = int(m.get("digits", 2))  # a metric may print more places (D-table3's step times)
            if not printed[m["key"]]:
                cells.append(_yes_no(row["ours"].get(m["key"])) if m.get("boolean")
                             else _fmt(row["ours"].get(m["key"]), report["stat"], digits))
                continue
            if m.get("boolean"):
                cells += [_yes_no(row["paper"].get(m["key"])), _yes_no(row["ours"].get(m["key"]))]
                continue
            cells += [_fmt(row["paper"].get(m["key"]), digits=digits),
                      _fmt(row["ours"].get(m["key"]), report["stat"], digits), _delta(row, m, digits)]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def table_legend(report: dict) -> str:
    """What the table's numbers are, in one paragraph under it."""
    if report.get("exact"):
        return ("Ours: computed exactly (no training, so no seeds and no sampling error); "
                "Δ = ours − paper, which prints two decimals.")
    what = "median" if report["stat"] == "median" else "mean"
    return (f"Ours: {what} ± std over the row's seeds ({', '.join(map(str, report['seeds'])) or 'none'}); "
            "test points: the points behind each accuracy. Δ = ours − paper ± u, u = √(paper std² + our standard "
            "error²) (our standard error: the spread over seeds and the test-set sampling error); ✓ within the "
            "paper's spread (|Δ| ≤ 2u), ✗ beyond it, no mark where the paper gives no spread.")


def claim_lines(report: dict) -> list[str]:
    """One Markdown bullet per claim: its verdict on our numbers, the evidence, and on the paper's."""
    lines = []
    for c in report["claims"]:
        verdict = c.get("verdict") or {True: "holds", False: "contradicted", None: "not checked"}[c["holds"]]
        paper = {True: "holds", False: "does not hold", None: "n/a"}[c["paper_holds"]]
        evidence = f" {c['evidence']}." if c.get("evidence") else ""
        lines.append(f"- **{_VERDICT_MARK[verdict]}**: {c['text']}. {c['detail']}.{evidence} "
                     f"(On the paper's numbers, as printed: {paper}.)")
    return lines


def protocol_lines(report: dict) -> list[str]:
    """Which protocol ran and how it differs from the paper's text (each difference with its source), then
    the final-epoch and best-epoch test accuracy of every row that trained."""
    protocol = report.get("protocol")
    if protocol is None:
        return []
    code = report.get("code") or {}
    lines = [f"## Protocol: {protocol}", ""]
    if report.get("trained_runs") == 0:  # an analytic entry: the training protocols do not reach it
        return lines + ["Nothing is trained here, so the paper's protocol and the authors' code's give the same "
                        "numbers; their training differences do not apply.", ""]
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
    lines = [f"# {e['entry']}: {e['title']}", "", f"*{e['source']}* — scale **{e['scale']}**", ""]
    if e.get("trains"):
        lines += [f"**At this scale it trains** {e['trains']}.", ""]
    lines += [f"**The paper's claim.** {e['claim']}", ""]
    if e.get("scale_note"):
        lines += [f"**This scale.** {e['scale_note']}", ""]
    lines += table_lines(e)
    lines += ["", table_legend(e), ""]
    if e["claims"]:
        lines += ["## Does the paper's claim hold in our numbers?", ""]
        lines += claim_lines(e)
        lines += ["", "Exact numbers decide a claim as they are." if e.get("exact") else
                  "A verdict holds or is contradicted at the 5% level, counting the spread over seeds and the "
                  "test-set sampling error (paired per test point where both rows were scored on the same points); "
                  "otherwise it is inconclusive at this n, with what would decide it. The paper's numbers carry no "
                  "n: on them a claim is checked as printed.", ""]
    lines += protocol_lines(e)
    if e.get("decisions"):
        lines += ["## Decisions (where the paper is silent)", ""] + [f"- {d}" for d in e["decisions"]] + [""]
    if e.get("needs"):
        lines += ["## Needs", ""] + [f"- {d}" for d in e["needs"]] + [""]
    lines += ["## Cost", ""]
    if e.get("trained_runs"):
        lines += [f"- hardware: {', '.join(e['hardware']) or 'n/a'}",
                  f"- training: {e['train_seconds']:.0f} s summed over {e['trained_runs']} runs; "
                  f"command wall time {e['wall_seconds']:.0f} s", ""]
    else:
        lines += [f"- no training; command wall time {e['wall_seconds']:.0f} s", ""]
    return "\n".join(lines)


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1150px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; font-size: 0.9em; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
th { background: #f2f2f2; }
td { font-variant-numeric: tabular-nums; }
li.holds > strong:first-child { color: #17803d; }
li.contradicted > strong:first-child { color: #c62828; }
li.inconclusive > strong:first-child { color: #b26a00; }
td.within { background: #eaf6ec; }
td.beyond { background: #fdecea; }
td.verdict-holds { color: #17803d; font-weight: bold; }
td.verdict-contradicted { color: #c62828; font-weight: bold; }
td.verdict-inconclusive { color: #b26a00; font-weight: bold; }
img { max-width: 100%; }
"""


def _markdown_to_html(text: str, title: str, figure: bytes | None = None, figure_after: str = "") -> str:
    """One self-contained page: the Markdown rendered by markdown-it-py (tables on), claim verdicts
    and Δ cells given classes for colour, the figure embedded as a base64 PNG after ``figure_after``."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = md.parse(text)
    classes = {"✔": "holds", "✘": "contradicted", "?": "inconclusive"}
    for i, token in enumerate(tokens):
        if token.type != "inline":
            continue
        if i >= 2 and tokens[i - 2].type == "list_item_open" and token.children:
            first = next((c.content for c in token.children if c.type == "text" and c.content.strip()), "")
            if first[:1] in classes:
                tokens[i - 2].attrSet("class", classes[first[:1]])
        if i >= 1 and tokens[i - 1].type == "td_open":
            if token.content.endswith("✓"):
                tokens[i - 1].attrSet("class", "within")
            elif token.content.endswith("✗"):
                tokens[i - 1].attrSet("class", "beyond")
            else:
                for word in ("holds", "contradicted", "inconclusive"):
                    if token.content.startswith(word):
                        tokens[i - 1].attrSet("class", f"verdict-{word}")
    body = md.renderer.render(tokens, md.options, {})
    if figure:
        img = f'<p><img alt="figure" src="data:image/png;base64,{base64.b64encode(figure).decode()}"></p>'
        anchor = f"<h2>{html.escape(figure_after)}" if figure_after else ""
        body = body.replace(anchor, img + anchor, 1) if anchor and anchor in body else body + img
    return (f"<!doctype html>\n<html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head>\n<body>\n{body}</body></html>\n")


def _html(report: dict, figure: bytes | None) -> str:
    first_section = "Does the paper" if report["claims"] else "Decisions" if report.get("decisions") else "Cost"
    return _markdown_to_html(_markdown(report), f"{report['entry']}: {report['title']}", figure, first_section)


def index_markdown(out: Path) -> str | None:
    """A leaderboard over every entry reported under ``out``: entry, scale, verdicts, paper vs ours."""
    rows = []
    for path in sorted(Path(out).glob("*/table.json"), key=lambda p: _entry_order(p.parent.name)):
        try:
            report = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(report, dict) or "entry" not in report:
            continue
        verdicts = [c.get("verdict") or {True: "holds", False: "contradicted"}.get(c.get("holds"), "not checked")
                    for c in report.get("claims", [])]
        counts = ", ".join(f"{verdicts.count(v)} {v}" for v in ("holds", "contradicted", "inconclusive", "not checked")
                           if verdicts.count(v))
        folder = path.parent.name  # <ENTRY>, or <ENTRY>.code / <ENTRY>.both for the other protocols
        shown = report["entry"] + {"code": " (code protocol)", "both": " (paper and code protocols)"}.get(
            report.get("protocol"), "")
        rows.append("| " + " | ".join(_cell(c) for c in (
            f"[{shown}]({folder}/report.html)", report.get("title", ""), report.get("scale", ""),
            counts or "no claim", _glance(report))) + " |")
    if not rows:
        return None
    return "\n".join(["# Reproduced entries", "", f"Every entry reported under `{out}`; each links to its report.", "",
                      "| entry | what | scale | verdicts | paper vs ours (first row, first column) |",
                      "|:---|:---|:---|:---|:---|", *rows, ""])


def _entry_order(name: str):
    match = re.match(r"^([A-E])-(table|fig)(\d+)(?:\.(code|both))?$", name)
    return (match.group(1), match.group(2) != "table", int(match.group(3)), match.group(4) or "") if match \
        else ("Z", True, 0, "")


def _glance(report: dict) -> str:
    """The first row with both numbers: "ResNet-18, Natural Acc (%): paper 99.41, ours 98.43"."""
    for row in report.get("rows", []):
        for m in report.get("metrics", []):
            paper, ours = row.get("paper", {}).get(m["key"]), row.get("ours", {}).get(m["key"])
            if paper and ours and "mean" in ours and not m.get("boolean"):
                digits = int(m.get("digits", 2))
                return (f"{row['label']}, {m['column']}: paper {_number(paper['mean'], digits)}, "
                        f"ours {_number(ours.get(report.get('stat', 'mean'), ours['mean']), digits)}")
    return "—"


def write_index(out: Path) -> Path | None:
    """``<out>/report.html`` (and ``index.md``) over every entry reported there; None when there is none."""
    text = index_markdown(out)
    if text is None:
        return None
    write_text_atomic(Path(out) / "index.md", text)
    path = Path(out) / "report.html"
    write_text_atomic(path, _markdown_to_html(text, "stablenets: reproduced entries"))
    return path


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
        has_paper = any(v is not None for v in paper)  # no empty "paper" entry where the paper prints none
        if has_paper:
            ax.bar(idx - 0.2, [np.nan if v is None else v for v in paper], 0.4, label="paper")
        ax.bar(idx + 0.2 if has_paper else idx, [np.nan if v is None else v for v in ours], 0.4 if has_paper else 0.6,
               label=f"ours ({report['scale']})")
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
