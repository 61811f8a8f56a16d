"""``stablenets reproduce show ENTRY`` (or ``reproduce ENTRY --help``): one entry, as a reader checks it.

What it trains (runs, data, seeds), how it evaluates (the protocol), the paper's claims and our
decisions, the cost at each scale, and what already exists on disk: reports and finished runs
under each scale's output folder, and the committed small-scale report in ``docs/results``.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from stablenets.reproduce.registry import SCALES, expand_runs, get_entry, protocol_of

__all__ = ["describe_entry", "committed_results", "committed_report", "claim_verdict", "CommittedReport", "VERDICT_MARKS"]

# The verdicts of a report's claims, as `reproduce list` abbreviates them.
VERDICT_MARKS = {"holds": "✔", "contradicted": "✘", "inconclusive": "?", "not checked": "·"}


def committed_results() -> Path | None:
    """``docs/results`` of a source checkout (None when stablenets is installed without it)."""
    folder = Path(__file__).resolve().parents[3] / "docs" / "results"
    return folder if folder.is_dir() else None


@dataclass(frozen=True)
class CommittedReport:
    """What a committed small-scale report says: its claims' verdicts and what it cost on its hardware."""

    path: Path                     # its table.json
    verdicts: tuple[str, ...]      # per claim: holds | contradicted | inconclusive | not checked
    seconds: float                 # the run's CPU time: training summed over its runs, or the command's wall time
    hardware: tuple[str, ...]      # as the report records it, e.g. "CPU (x86_64, 2 threads)"

    @property
    def verdict_text(self) -> str:
        """"✔2✘1": the count of each verdict, in the order of VERDICT_MARKS; "no-claim" without claims."""
        return "".join(f"{mark}{self.verdicts.count(v)}" for v, mark in VERDICT_MARKS.items()
                       if self.verdicts.count(v)) or "no-claim"


def claim_verdict(claim: dict) -> str:
    """A reported claim's verdict; a report written before verdicts had only ``holds`` (True/False/None)."""
    return claim.get("verdict") or {True: "holds", False: "contradicted"}.get(claim.get("holds"), "not checked")


def committed_report(entry_id: str, folder: Path | None = None) -> CommittedReport | None:
    """The committed ``--scale small`` report of ``entry_id`` (``docs/results/<ENTRY>/table.json``, or under
    ``folder``), or None where none is committed or it cannot be read."""
    folder = committed_results() if folder is None else Path(folder)
    path = None if folder is None else folder / entry_id / "table.json"
    if path is None or not path.is_file():
        return None
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(report, dict) or report.get("scale", "small") != "small":
        return None
    verdicts = tuple(claim_verdict(c) for c in report.get("claims", []))
    # A report rebuilt from finished runs records a short wall time: the training it summed is the cost then.
    seconds = max(float(report.get("wall_seconds") or 0.0), float(report.get("train_seconds") or 0.0))
    return CommittedReport(path, verdicts, seconds, tuple(report.get("hardware") or ()))


def _runs_text(entry, scale: str) -> list[str]:
    try:
        runs = expand_runs(entry, scale)
    except ValueError as err:  # no demo budget
        return [f"  {err}"]
    if not runs:
        return ["  none (nothing is trained)"]
    rows: dict[str, list] = {}
    for run in runs:
        rows.setdefault(run.label, []).append(run)
    lines = []
    for label, seeds in rows.items():
        cfg = seeds[0].config
        data = cfg.get("data", {})
        sched = cfg.get("run", {})
        overrides = cfg["model"].get("overrides") or {}
        extra = f" {overrides}" if overrides else ""
        subset = f", first {data['train_subset']:,} training points" if data.get("train_subset") else ""
        lines.append(f"  {label}: {seeds[0].model}{extra} on {data.get('dataset', '?')}{subset}, "
                     f"{sched.get('epochs', '?')} epochs, seeds {[r.seed for r in seeds]}")
    return lines


def _protocol_text(entry, scale: str) -> str:
    p = protocol_of(entry, scale)
    if not p.get("suite"):
        return "none (the numbers come from training or an analysis)"
    parts = [f"suite {p['suite']}"]
    if p.get("attacks"):
        parts.append(f"attacks {', '.join(p['attacks'])}")
    if p.get("noise"):
        parts.append(f"noise {', '.join(p['noise'])}")
    parts.append(f"the first {p['n']:,} test points" if p.get("n") else "every test point")
    if p.get("overrides"):
        parts.append(f"overrides {p['overrides']}")
    return "; ".join(parts)


def _cost_lines(entry) -> list[str]:
    from stablenets.reproduce.costs import entry_cost

    if entry.kind == "paper-only" or entry.analysis.get("train") is False or not entry.trains:
        return ["  no training at any scale: the analysis runs in seconds"]
    cost = entry_cost(entry)
    hours = cost.hours
    basis = "measured" if cost.measured else "partly derived from measured models"
    paper = "unknown (a preset is missing)" if math.isnan(hours) else \
        (f"about {hours:.1f} GPU-hours on one {' / '.join(sorted(cost.devices)) or 'GPU'} ({basis}; "
         f"`reproduce list {entry.id}` gives it run by run)")
    small = entry.small.get("note") or "the paper's setting shrunk (see the entry's small table)"
    lines = [f"  paper: {paper}", f"  small: {small}",
             "  smoke: seconds on a CPU (2 steps of 8 samples per run; checks the pipeline, not the claim)"]
    if entry.demo:
        lines.append(f"  demo: {entry.demo.get('note') or 'the demo budget (packaged data)'}")
    return lines


def _on_disk(entry, out: Path | None) -> list[str]:
    from stablenets.reproduce.runner import default_out, entry_status

    lines = []
    for scale in SCALES:
        if scale == "demo" and not entry.demo:
            continue
        # `stablenets demo` writes to runs/demo by default (its own --out), the other scales to default_out.
        folder = Path(out) if out else (Path("runs") / "demo" if scale == "demo" else default_out(scale))
        status = entry_status(entry, scale, folder)
        where = folder / entry.id
        text = {"report": f"report: {where / 'report.html'}", "-": "nothing yet"}.get(status, f"{status} finished")
        lines.append(f"  {scale} (under {folder}): {text}")
    committed = committed_results()
    if committed is not None and (committed / entry.id / "table.md").is_file():
        report = committed_report(entry.id, committed)
        cost = "" if report is None else (
            f" (verdicts {report.verdict_text}; the run took {report.seconds / 60:.1f} min on "
            f"{' / '.join(report.hardware) or 'a CPU'})")
        lines.append(f"  committed small-scale report: {committed / entry.id / 'table.md'}{cost}")
    return lines


def describe_entry(entry_id: str, out: Path | None = None) -> str:
    """Everything about one entry, as plain text."""
    entry = get_entry(entry_id)
    lines = [f"{entry.id}: {entry.title}", f"source: {entry.source}; kind: {entry.kind}"]
    if entry.claim:
        lines.append(f"the paper's claim: {entry.claim}")
    if entry.dataset:
        lines.append(f"data: {entry.dataset}")
    if entry.trains and entry.analysis.get("train") is not False:
        lines += ["", "runs at paper scale:", *_runs_text(entry, "paper"), "", "runs at small scale:",
                  *_runs_text(entry, "small")]
        lines += ["", f"evaluation: {_protocol_text(entry, 'paper')}",
                  f"evaluation at small scale: {_protocol_text(entry, 'small')}"]
    if entry.analysis:
        lines.append(f"analysis: {entry.analysis.get('kind', '?')}")
    if entry.claims:
        lines += ["", "claims checked:"] + [f"  - {c.get('text', c['kind'])} ({c['kind']})" for c in entry.claims]
    if entry.decisions:
        lines += ["", "decisions (where the paper is silent):"] + [f"  - {d}" for d in entry.decisions]
    if entry.needs:
        lines += ["", "needs:"] + [f"  - {n}" for n in entry.needs]
    lines += ["", "cost:", *_cost_lines(entry), "", "on disk:", *_on_disk(entry, out), "",
              f"run it: stablenets reproduce {entry.id} --scale small (or paper, smoke"
              + (", demo)" if entry.demo else ")")]
    return "\n".join(lines)
