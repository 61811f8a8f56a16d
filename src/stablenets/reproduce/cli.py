"""``stablenets reproduce``: one command per table and figure of papers A–E.

    stablenets reproduce list                         # every entry: runs, paper-scale GPU-hours, results
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
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("entry", nargs="+", metavar="ENTRY",
                   help="entry ids (C-table1 …), or `list [FILTER]` to show the registry")
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
    p.add_argument("--workers", type=int, default=None, help="worker jobs (default: gpus × pack, or 1)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default runs/reproduce/<scale>)")
    p.add_argument("--data-root", type=Path, default=None, help="data folder (default: $STABLENETS_DATA)")
    p.add_argument("--no-verify", action="store_true", help="skip md5 checks of the data files")
    p.add_argument("--slurm-partition", default=None, help="SLURM partition (with --launcher slurm)")
    p.set_defaults(func=run_reproduce)
    return p


def _list(args) -> int:
    from stablenets.reproduce.costs import entry_gpu_hours
    from stablenets.reproduce.registry import expand_runs, get_entry, list_entries
    from stablenets.reproduce.runner import entry_status, missing_presets

    pattern = args.entry[1] if len(args.entry) > 1 else None
    ids = list_entries(pattern)
    if not ids:
        print(f"no entry matches {pattern!r}")
        return 2
    scale = args.scale or "small"
    print(f"{'entry':<10} {'kind':<10} {'runs':>5} {'GPU-h':>8}  {'results (' + scale + ')':<16} title")
    total = 0.0
    for entry_id in ids:
        entry = get_entry(entry_id)
        runs = expand_runs(entry, "paper")
        hours = entry_gpu_hours(entry)
        total += 0.0 if math.isnan(hours) else hours
        pending = missing_presets(entry) if runs else []
        status = entry_status(entry, scale, args.out, "paper" if args.protocol == "both" else args.protocol)
        hours_text = "—" if not runs or entry.analysis.get("train") is False else f"{hours:8.1f}"
        mark = f" [needs preset(s): {', '.join(pending)}]" if pending else ""
        print(f"{entry_id:<10} {entry.kind:<10} {len(runs):>5} {hours_text:>8}  {status:<16} {entry.title}{mark}")
    print(f"{len(ids)} entries; about {total:.0f} GPU-hours at paper scale on one "
          f"{_reference_device()} (estimate: see stablenets/reproduce/costs.py)")
    return 0


def _reference_device() -> str:
    from stablenets.reproduce.costs import cost_facts

    return cost_facts()["reference"]["device"]


def run_reproduce(args) -> int:
    if args.entry[0] == "list":
        return _list(args)
    from stablenets.reproduce.registry import get_entry
    from stablenets.reproduce.runner import reproduce

    scale = args.scale or "small"
    for entry_id in args.entry:
        get_entry(entry_id)  # every id checked before any work
    for value, name in ((args.gpus, "--gpus"), (args.pack, "--pack"), (args.workers or 1, "--workers")):
        if value < 0 or (name != "--gpus" and value < 1):
            raise ValueError(f"{name} must be {'≥ 0' if name == '--gpus' else '≥ 1'}, got {value}")
    slurm = {"slurm_partition": args.slurm_partition} if args.slurm_partition else None
    status = 0
    for entry_id in args.entry:
        result = reproduce(entry_id, scale, args.seeds, launcher=args.launcher, gpus=args.gpus, pack=args.pack,
                           workers=args.workers, out=args.out, data_root=args.data_root,
                           verify=not args.no_verify, slurm=slurm, protocol=args.protocol)
        print(f"{entry_id}: {result['paths']['table.md'].parent}")
        status = status or (1 if result["unfinished"] else 0)
    return status
