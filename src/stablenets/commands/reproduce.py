"""``stablenets reproduce``: one command per table and figure of papers A–E.

    stablenets reproduce list                         # every entry: runs, paper-scale GPU-hours, results, and
                                                      # the committed small report's verdicts and CPU time
    stablenets reproduce show C-table1                # one entry: runs, data, protocol, claims, cost, on disk
    stablenets reproduce list C- --scale small        # filter; status of the small-scale results
    stablenets reproduce C-table1 --scale small --data-root ../shared/data
    stablenets reproduce E-table1 --scale paper --gpus 8 --pack 4 --data-root DATA
    stablenets reproduce B-fig3 --scale paper --launcher slurm --gpus 1 --workers 64 --slurm-partition gpu
    stablenets reproduce C-table1 --scale smoke       # seconds: checks the pipeline, not the claim
    stablenets reproduce D-table1 --protocol both     # as the paper states and as the authors' code ran it

Scales: ``paper`` is the paper's setting; ``small`` the entry's documented CPU budget (MNIST or a
subset, fewer epochs, same protocol, ≤ 30 minutes on 2 cores); ``smoke`` seconds, for CI.
Protocols: ``paper`` (default) runs the entry as its paper states; ``code`` as the authors' public
code ran it (each difference, with its source, is in the paper's registry file and in the report;
an entry no released code trains runs as ``paper``); ``both`` runs each and sets them side by side.
Reports go to ``--out`` (default runs/reproduce/<scale>)/<ENTRY>/ (``<ENTRY>.code/``,
``<ENTRY>.both/``): table.md, table.json, figure.png, report.html, with paper | ours | Δ, whether
the paper's claim holds, and every row's final-epoch and best-epoch test accuracy.
Re-running the same command skips finished runs and resumes interrupted ones. Exit status: 0 done,
1 some run did not finish (rerun to continue), 2 bad input.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

__all__ = ["register", "run_reproduce"]


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("reproduce", help="reproduce a table or figure of papers A-E, paper | ours | Δ",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                              add_help=False)
    p.add_argument("-h", "--help", action=_EntryHelp, help="show this help, or with an ENTRY that entry")
    p.add_argument("entry", nargs="+", metavar="ENTRY",
                   help="entry ids (C-table1 …), `list [FILTER]` to show the registry, or `show ENTRY` "
                        "for one entry: runs, data, protocol, claims, decisions, cost, what is on disk")
    p.add_argument("--scale", choices=["paper", "small", "smoke", "demo"], default=None,
                   help="paper: as published; small: the entry's CPU budget (default); smoke: seconds; "
                        "demo: the budget of `stablenets demo` (entries that have one)")
    p.add_argument("--protocol", choices=["paper", "code", "both"], default="paper",
                   help="paper: as the paper states (default); code: as the authors' public code ran it; "
                        "both: each, side by side")
    p.add_argument("--seeds", type=int, nargs="+", default=None, metavar="S", help="replace the entry's seeds")
    p.add_argument("--launcher", choices=["local", "slurm", "inline"], default="local",
                   help="local: submitit processes on this machine; slurm: a job array; inline: this process")
    p.add_argument("--gpus", type=int, default=0, help="GPUs to spread the runs over (local) or per job (slurm)")
    p.add_argument("--pack", type=int, default=1, help="runs sharing one GPU at a time (small models are host-bound)")
    p.add_argument("--stack", type=int, default=1,
                   help="train up to this many runs of one architecture (seeds, E-table1's α) as one stack in "
                        "one process (training/packed.py): same weights as alone, one launch sequence for all")
    p.add_argument("--workers", type=int, default=None, help="worker jobs (default: gpus × pack, or 1)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default runs/reproduce/<scale>)")
    p.add_argument("--data-root", type=Path, default=None, help="data folder (default: $STABLENETS_DATA)")
    p.add_argument("--no-verify", action="store_true", help="skip md5 checks of the data files")
    p.add_argument("--slurm-partition", default=None, help="SLURM partition (with --launcher slurm)")
    p.add_argument("--slurm-cpus-per-task", type=int, default=None, metavar="N",
                   help="CPU cores per array task (with --launcher slurm; default 8)")
    p.set_defaults(func=run_reproduce)
    return p


def _list(args) -> int:
    import sys

    from stablenets.progress import Progress
    from stablenets.reproduce.costs import entry_cost, load_throughput
    from stablenets.reproduce.describe import VERDICT_MARKS, committed_report, committed_results
    from stablenets.reproduce.registry import expand_runs, get_entry, list_entries
    from stablenets.reproduce.runner import entry_status, missing_presets

    load_throughput()  # a wrong table is one clear error before any work
    pattern = args.entry[1] if len(args.entry) > 1 else None
    ids = list_entries(pattern)
    if not ids:
        raise ValueError(f"no entry matches {pattern!r} (`stablenets reproduce list` names them all)")
    scale = args.scale or "small"
    priced = "code" if args.protocol == "code" else "paper"  # `both` prices the paper protocol
    print(f"{'entry':<10} {'kind':<10} {'runs':>5} {'GPU-h':>8}  {'cost':<9} {'results (' + scale + ')':<16} "
          f"{'committed':<9} {'small CPU':>9}  title")
    total, train, evaluation, devices, costs, hardware = 0.0, 0.0, 0.0, set(), {}, set()
    # Off a terminal a line at a fixed interval (pricing a model missing from model_sizes.json counts its FLOPs,
    # minutes); on a terminal the rows themselves show the progress.
    bar = Progress(len(ids), "reproduce list (pricing)", unit="row", enabled=not sys.stderr.isatty())
    for entry_id in ids:
        entry = get_entry(entry_id)
        bar.note(entry_id)
        runs = expand_runs(entry, "paper")
        cost = costs[entry_id] = entry_cost(entry, protocol=priced)
        if not math.isnan(cost.hours):
            total, train, evaluation = total + cost.hours, train + cost.train_hours, evaluation + cost.eval_hours
        devices |= cost.devices
        pending = missing_presets(entry) if runs else []
        status = entry_status(entry, scale, args.out, "paper" if args.protocol == "both" else args.protocol)
        trains = bool(cost.runs) or cost.error
        hours_text = "—" if not trains else ("?" if math.isnan(cost.hours) else f"{cost.hours:8.1f}")
        basis = "—" if not cost.runs else ("measured" if cost.measured else "derived")
        mark = f" [needs preset(s): {', '.join(pending)}]" if pending else \
            (f" [cost unknown: {cost.error}]" if cost.error else "")
        committed = committed_report(entry_id)
        if committed is not None:
            hardware |= set(committed.hardware)
        print(f"{entry_id:<10} {entry.kind:<10} {len(runs):>5} {hours_text:>8}  {basis:<9} {status:<16} "
              f"{committed.verdict_text if committed else '—':<9} "
              f"{_seconds(committed.seconds) if committed else '—':>9}  {entry.title}{mark}", flush=True)
        bar.step(entry_id)
    bar.close()
    if len(ids) == 1 and costs[ids[0]].runs:
        _breakdown(costs[ids[0]])
    digits = 0 if total >= 10 else 2
    under = "" if priced == "paper" else " under the code protocol"
    print(f"{len(ids)} entries; about {total:,.{digits}f} GPU-hours at paper scale{under} ({train:,.{digits}f} training, "
          f"{evaluation:,.{digits}f} evaluation), every seed, on one {' / '.join(sorted(devices)) or 'GPU'}: measured "
          f"throughput (stablenets/reproduce/papers/throughput.json), 'derived' where a model was not measured "
          f"(`reproduce list ENTRY` names the model it is derived from)")
    legend = ", ".join(f"{mark} {verdict}" for verdict, mark in VERDICT_MARKS.items())
    folder = committed_results()
    print(f"committed: the verdicts of the claims in the --scale small report committed in docs/results/ENTRY "
          f"({legend}); small CPU: what that run cost, measured on {' / '.join(sorted(hardware)) or 'a CPU'} "
          f"(its training summed over its runs, or the command's wall time where larger); — where no small run "
          f"is committed" + ("" if folder else " (this installation has no docs/results: a source checkout has)"))
    return 0


def _seconds(seconds: float) -> str:
    """"<1s", "41s", "9m27s", "1h12m"."""
    from stablenets.progress import duration

    return "<1s" if seconds < 1 else (f"{seconds:.0f}s" if seconds < 59.5 else duration(seconds))


def _breakdown(cost) -> None:
    """One line per run of one entry (its seeds together): hours, throughput, and where each figure comes from."""
    rows: dict[str, list] = {}
    for run, c in cost.runs:
        rows.setdefault(run.label, []).append((run, c))
    print()
    print(f"{'run':<32} {'model':<20} {'data':<9} {'seeds':>5} {'train h':>8} {'eval h':>8}  "
          f"{'images/s train / attack':<24} basis")
    for label, items in rows.items():
        run, c = items[0]
        rates = f"{c.train.images_per_s:,.0f} {c.train.path}" + (
            "" if c.attack is None else f" / {c.attack.images_per_s:,.0f}")
        print(f"{label:<32} {run.model:<20} {run.config['data'].get('dataset', ''):<9} {len(items):>5} "
              f"{sum(x.train_hours for _, x in items):>8.2f} {sum(x.eval_hours for _, x in items):>8.2f}  "
              f"{rates:<24} {c.basis}")
    if cost.runs and cost.runs[0][1].parts:
        parts = ", ".join(f"{p['what']} {p['iterations']:g}" for p in cost.runs[0][1].parts)
        print(f"evaluation, attack iterations per test point: {parts}")
    print()


class _EntryHelp(argparse._HelpAction):
    """``reproduce ENTRY --help`` describes the entry; ``reproduce --help`` is the usual help."""

    def __call__(self, parser, namespace, values, option_string=None):
        entries = [e for e in (getattr(namespace, "entry", None) or []) if e not in ("list", "show")]
        if not entries:
            return super().__call__(parser, namespace, values, option_string)
        from stablenets.reproduce.describe import describe_entry

        try:
            text = "\n\n".join(describe_entry(e, getattr(namespace, "out", None)) for e in entries)
        except ValueError as err:
            parser.exit(2, f"stablenets reproduce: error: {err}\n")
        print(text)
        parser.exit()


def run_reproduce(args) -> int:
    if args.entry[0] == "list":
        return _list(args)
    if args.entry[0] == "show":
        from stablenets.reproduce.describe import describe_entry

        if len(args.entry) < 2:
            raise ValueError("reproduce show needs an entry id, e.g. `stablenets reproduce show C-table1`")
        print("\n\n".join(describe_entry(e, args.out) for e in args.entry[1:]))
        return 0
    from stablenets.reproduce.registry import get_entry
    from stablenets.reproduce.runner import reproduce

    scale = args.scale or "small"
    for entry_id in args.entry:
        get_entry(entry_id)  # every id checked before any work
    for value, name in ((args.gpus, "--gpus"), (args.pack, "--pack"), (args.workers or 1, "--workers"),
                        (args.stack, "--stack")):
        if value < 0 or (name != "--gpus" and value < 1):
            raise ValueError(f"{name} must be {'≥ 0' if name == '--gpus' else '≥ 1'}, got {value}")
    if args.slurm_cpus_per_task is not None and args.slurm_cpus_per_task < 1:
        raise ValueError(f"--slurm-cpus-per-task must be ≥ 1, got {args.slurm_cpus_per_task}")
    slurm = {k: v for k, v in (("slurm_partition", args.slurm_partition),
                               ("cpus_per_task", args.slurm_cpus_per_task)) if v is not None} or None
    status = 0
    for entry_id in args.entry:
        result = reproduce(entry_id, scale, args.seeds, launcher=args.launcher, gpus=args.gpus, pack=args.pack,
                           workers=args.workers, out=args.out, data_root=args.data_root,
                           verify=not args.no_verify, slurm=slurm, stack=args.stack, protocol=args.protocol)
        print(f"{entry_id}: {result['paths']['table.md'].parent}")
        status = status or (1 if result["unfinished"] else 0)
    return status
