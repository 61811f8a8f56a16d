"""``stablenets evaluate CHECKPOINT [CHECKPOINT ...] --suite NAME``: run a suite and write the report.

    stablenets evaluate runs/zerosnet-opt-20/model.safetensors --suite D --n 1000 \\
        --set attacks.pgd20.steps=50 --set diagnostics.n=500 --set eps.linf=[0.3]
    stablenets evaluate runs/sonet/model.safetensors --suite D --set solver.solver=euler   # solver at evaluation time
    stablenets evaluate runs/a runs/b runs/c --suite A --out runs/ensemble   # an ensemble (paper A Table 6)

Several checkpoints are evaluated as one ensemble: the average of their logits.

The test set is the first n test points of the checkpoint's data set (``meta["dataset"]``),
read from ``--data-root`` or $STABLENETS_DATA. The report (JSON + Markdown) is written
atomically into the run directory (the checkpoint's folder) unless ``--out`` says otherwise.
Before anything is loaded, the suite and its ``--set`` keys are checked, and the report folder
must be writable and hold no report of this suite (``--overwrite`` replaces one, and says so).
A damaged checkpoint, one whose checksum does not match, or one with non-finite weights is
refused. ``--set`` values use the same grammar as ``stablenets train`` (TOML values).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from stablenets.device import add_device_argument
from stablenets.evaluation.suites import list_suites

__all__ = ["register", "run_evaluate"]


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("evaluate", help="robustness report of a checkpoint (a paper's protocol)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", type=Path, nargs="+",
                   help="checkpoint file written by stablenets train, or its run folder; several = an ensemble")
    p.add_argument("--suite", default="quick", choices=list_suites(), help="protocol to run (default: quick)")
    p.add_argument("--data-root", type=Path, default=None, help="data folder (default: $STABLENETS_DATA)")
    p.add_argument("--n", type=int, default=1000, help="evaluate the first N test points (default: 1000)")
    add_device_argument(p)
    p.add_argument("--no-verify", action="store_true",
                   help="skip checksum checks of the data files (copies known to differ, e.g. CIFAR-10 rebuilt from JPEG)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a suite setting, e.g. attacks.pgd.steps=50 (repeatable; values as in train: TOML)")
    p.add_argument("--source", type=Path, default=None, help="checkpoint of the transfer-attack source model")
    p.add_argument("--batch-size", type=int, default=256, help="evaluation batch size (default: 256)")
    p.add_argument("--out", type=Path, default=None, help="report folder (default: the checkpoint's folder)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing report of the same suite")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run_evaluate)
    return p


def run_evaluate(args: argparse.Namespace) -> int:
    from stablenets.overrides import parse_pairs
    from stablenets.pipeline import evaluate_checkpoints

    result, (json_path, md_path) = evaluate_checkpoints(
        args.checkpoint, suite=args.suite, overrides=dict(parse_pairs(args.overrides, "attacks.pgd.steps=50")),
        n=args.n, data_root=args.data_root, verify=not args.no_verify, device=args.device,
        batch_size=args.batch_size, source=args.source, out=args.out, progress=not args.no_progress,
        overwrite=args.overwrite, replace_note=lambda line: print(line, flush=True))
    from stablenets.evaluation.report import to_table

    html_path = json_path.with_suffix(".html")
    print(f"{to_table(result)}\n{json_path}\n{md_path}\n{html_path}")
    return 0
