"""``stablenets demo``: findings of the papers, reproduced in under two minutes on a laptop CPU.

The demo is ``stablenets reproduce`` at the ``demo`` scale of the entries that show their claim
reliably at that budget (each entry's ``demo`` table in ``reproduce/papers/<letter>.toml`` says
what shrank). It needs no download: the images are the MNIST digits packaged with stablenets
(5,000 training, 1,000 test) and the two-moons points are generated.

    E-table10   the characteristic roots of the ten third-order coefficient sets; which are
                zero-stable (exact: no training)
    E-table1    PreResNet with y_{n+1} = α y_n + h f(y_n): the non-zero-stable α = 2 and 1.5
                against the zero-stable α = 1 (paper E: a significant accuracy gap)
    B-fig7      residual MLPs on noisy two moons: with h = 0.1 the features move in smaller steps
                than with h = 1 (paper B)

Each entry's report (table.md, table.json, figure.png, report.html: paper | ours | Δ and whether
the paper's claim holds) is written under ``--out``; ``demo.md`` collects them. The runs are
ordinary ``stablenets train`` runs; a second ``stablenets demo`` with the same ``--out`` reuses
the finished ones. The numbers are what the demo budget gives, not the papers' setting: the
same entries at paper scale are ``stablenets reproduce ENTRY --scale paper``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

__all__ = ["register", "run_demo"]


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("demo", help="reproduce findings of the papers on packaged data (CPU, under two minutes)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("runs") / "demo",
                   help="folder for the runs and reports (default: runs/demo; finished runs there are reused)")
    p.set_defaults(func=run_demo)
    return p


def _summary(results: list[dict], seconds: float) -> str:
    from stablenets.reproduce.report import claim_lines, table_legend, table_lines

    lines = ["# stablenets demo", "",
             f"{len(results)} entries of the papers at the demo scale, {seconds:.0f} s in all. "
             "Paper | ours | Δ; the demo budget is far below the papers' (each entry's note says how far).", ""]
    for result in results:
        report = result["report"]
        lines += [f"## {report['entry']}: {report['title']}", ""]
        if report.get("trains"):
            lines += [f"**The demo trains** {report['trains']} (the paper's setting is in the title).", ""]
        lines += [f"**Claim.** {report['claim']}", ""]
        if report.get("scale_note"):
            lines += [f"**Demo scale.** {report['scale_note']}", ""]
        lines += table_lines(report, ran_only=True) + ["", table_legend(report), ""] + claim_lines(report)
        lines += ["", f"Report: {result['paths']['table.md']}; at paper scale: "
                      f"`stablenets reproduce {report['entry']} --scale paper`", ""]
    return "\n".join(lines)


def run_demo(args: argparse.Namespace) -> int:
    from stablenets.atomic import write_text_atomic
    from stablenets.reproduce.registry import demo_entries
    from stablenets.reproduce.runner import reproduce

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; give a folder (finished runs in it are reused)")
    entries = demo_entries()
    started = time.perf_counter()
    print(f"stablenets demo: {', '.join(entries)} at the demo scale (packaged data, no download) -> {out}",
          flush=True)
    results = []
    for entry_id in entries:
        t0 = time.perf_counter()
        result = reproduce(entry_id, scale="demo", launcher="inline", out=out, log=lambda *_: None)
        results.append(result)
        report = result["report"]
        verdicts = [c["verdict"] for c in report["claims"]]
        counts = ", ".join(f"{verdicts.count(v)} {v}" for v in ("contradicted", "inconclusive", "not checked")
                           if verdicts.count(v))
        print(f"  {entry_id:<10} {time.perf_counter() - t0:5.1f}s  claims holding: {verdicts.count('holds')} "
              f"of {len(verdicts)}" + (f" ({counts})" if counts else ""), flush=True)
    seconds = time.perf_counter() - started
    text = _summary(results, seconds)
    write_text_atomic(out / "demo.md", text + "\n")
    record = {"entries": {r["report"]["entry"]: {"claims": r["report"]["claims"], "paths": {k: str(v) for k, v in
                                                 r["paths"].items()}} for r in results}, "seconds": seconds}
    write_text_atomic(out / "demo.json", json.dumps(record, indent=2, default=str) + "\n")
    print("\n" + text.split("\n", 3)[3] + f"\nsaved: {out / 'demo.md'}, {out / 'demo.json'}", flush=True)
    if any("figure.png" not in r["paths"] for r in results):
        from stablenets.analysis._io import PLOT_HINT

        print(f"figures not drawn: {PLOT_HINT}", flush=True)
    return 0
