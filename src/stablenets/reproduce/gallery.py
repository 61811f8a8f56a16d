"""The gallery: every claim of the committed small-scale reports, with its verdict, in one Markdown table.

    python -m stablenets.reproduce.gallery            # rewrite README's gallery and docs/results' index
    python -m stablenets.reproduce.gallery --check    # exit 1 when either is stale

The table is made from ``docs/results/<ENTRY>/table.json`` alone (what each report measured and
decided), so the README never quotes a number by hand: a test checks that its gallery block is
what this module makes of the committed reports. The block sits between :data:`START` and
:data:`END` in README.md.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from stablenets.reproduce.describe import claim_verdict, committed_report, committed_results

__all__ = ["gallery_rows", "gallery_markdown", "update_readme", "START", "END"]

START = "<!-- gallery: made by python -m stablenets.reproduce.gallery from docs/results; do not edit -->"
END = "<!-- /gallery -->"
_MARK = {"holds": "✔ holds", "contradicted": "✘ contradicted", "inconclusive": "? inconclusive at this n",
         "not checked": "· not checked"}


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _evidence(claim: dict) -> str:
    if claim.get("method") == "exact":
        return "exact"
    p = claim.get("p_value")
    return "" if p is None else f"p = {p:.2g}" if p >= 1e-4 else "p < 1e-4"


def _budget(report: dict) -> str:
    seeds = report.get("seeds") or []
    points = sorted({n for row in report.get("rows", []) for m in (row.get("ours") or {}).values()
                     if isinstance(m, dict) for n in [m.get("test_points")] if n})
    if not report.get("trained_runs"):
        return "no training"
    parts = [f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''}"]
    if points:
        parts.append(" / ".join(f"{n:,}" for n in points) + " test points")
    return ", ".join(parts)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


def gallery_rows(folder: Path) -> list[list[str]]:
    """[paper, entry, claim, verdict, evidence, budget, CPU time] per claim of every committed report."""
    rows = []
    for path in sorted(Path(folder).glob("*/table.json")):
        report = json.loads(path.read_text(encoding="utf-8"))
        if report.get("scale") != "small":
            continue
        entry = report["entry"]
        seconds = committed_report(entry, folder).seconds  # the run's CPU cost, as `reproduce list` counts it
        link = f"[{entry}](docs/results/{entry}/table.md)"
        for claim in report.get("claims", []):
            verdict = claim_verdict(claim)
            rows.append([entry[0], link, _cell(claim["text"]), _MARK.get(verdict, verdict),
                         _cell(_evidence(claim)), _budget(report), _minutes(seconds)])
    return rows


def gallery_markdown(folder: Path) -> str:
    head = ["paper", "entry", "the paper's claim", "verdict at small scale", "evidence", "seeds, test points",
            "time on 2 CPU cores"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in gallery_rows(folder)]
    return "\n".join(lines) + "\n"


def _with_block(text: str, block: str) -> str:
    if START not in text or END not in text:
        raise ValueError(f"README.md has no gallery block: add the lines {START!r} and {END!r}")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{block}{END}{tail}"


def update_readme(readme: Path, folder: Path, check: bool = False) -> bool:
    """Rewrite the gallery block of ``readme`` from ``folder``; with ``check``, only say whether it is current."""
    text = readme.read_text(encoding="utf-8")
    new = _with_block(text, gallery_markdown(folder))
    if check:
        return new == text
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stablenets.reproduce.gallery", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the README's gallery is stale")
    args = parser.parse_args(argv)
    folder = committed_results()
    if folder is None:
        print("gallery: no docs/results here: run it in a source checkout", file=sys.stderr)
        return 2
    readme = folder.parents[1] / "README.md"
    try:
        current = update_readme(readme, folder, check=args.check)
    except ValueError as err:
        print(f"gallery: {err}", file=sys.stderr)
        return 2
    if args.check:
        print("gallery: current" if current else "gallery: stale: run python -m stablenets.reproduce.gallery")
        return 0 if current else 1
    from stablenets.reproduce.report import write_index

    write_index(folder)
    print(f"gallery: {readme} and {folder / 'report.html'} written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
