"""``stablenets evaluate CHECKPOINT [CHECKPOINT ...] --suite NAME``: run a suite and write the report.

    stablenets evaluate runs/zerosnet-opt-20/model.safetensors --suite D --n 1000 \\
        --set attacks.pgd20.steps=50 --set diagnostics.n=500 --set eps.linf=[0.3]
    stablenets evaluate runs/sonet/model.safetensors --suite D --set solver.solver=euler   # solver at evaluation time
    stablenets evaluate runs/a runs/b runs/c --suite A --out runs/ensemble   # an ensemble (paper A Table 6)

Several checkpoints are evaluated as one ensemble: the average of their logits.

The test set is the first n test points of the checkpoint's data set (``meta["dataset"]``),
read from ``--data-root`` or $STABLENETS_DATA. The report (JSON + Markdown) is written
atomically into the run directory (the checkpoint's folder) unless ``--out`` says otherwise.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from stablenets.device import add_device_argument, resolve_device
from stablenets.evaluation.suites import list_suites, parse_overrides

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
                   help="override a suite setting, e.g. attacks.pgd.steps=50 (repeatable; JSON values)")
    p.add_argument("--source", type=Path, default=None, help="checkpoint of the transfer-attack source model")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--out", type=Path, default=None, help="report folder (default: the checkpoint's folder)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run_evaluate)
    return p


def _test_points(dataset: str, root, n: int, verify: bool = True):
    """First n test points as float [0, 1] images, their labels, and the uint8 originals."""
    import torch

    from stablenets.data import load

    x, y = load(dataset, root, split="test", verify=verify)
    x, y = x[:n], y[:n]
    raw = x if x.dtype == torch.uint8 else None
    return (x.float() / 255 if raw is not None else x.float()), y.long(), raw


def run_evaluate(args: argparse.Namespace) -> int:
    from stablenets.evaluation.report import write_report
    from stablenets.evaluation.robustness import evaluate_robustness

    if args.n < 1:
        raise ValueError(f"--n must be at least 1, got {args.n}")
    for path in (*args.checkpoint, args.source):
        if path is not None and not path.exists():
            raise FileNotFoundError(f"checkpoint {path} not found (give a checkpoint file or its run folder)")
    from stablenets.training.checkpoint import load_model

    device = resolve_device(args.device)
    if len(args.checkpoint) == 1:
        model, meta = load_model(args.checkpoint[0], device=device)
    else:
        from stablenets.training.ensemble import load_ensemble

        model, metas = load_ensemble(args.checkpoint, device=device)
        meta = {**metas[0], "preset": "ensemble of " + ", ".join(str(m.get("preset")) for m in metas)}
    source = load_model(args.source, device=device)[0] if args.source is not None else None
    dataset = meta.get("dataset")
    if not dataset:
        raise ValueError(f"checkpoint {args.checkpoint[0]} does not name its data set (meta['dataset'])")
    x, y, raw = _test_points(dataset, args.data_root, args.n, verify=not args.no_verify)

    noise_sets = None
    if raw is not None:
        from stablenets.data.noise_sets import noise_test_set

        def noise_sets(group: str, severity: int):
            ns = noise_test_set(dataset, group, severity, args.data_root, clean=(raw, y), verify=not args.no_verify)
            return ns.images[:args.n].float() / 255, ns.labels[:args.n].long(), ns.source

    result = evaluate_robustness(model, x, y, args.suite, parse_overrides(args.overrides),
                                 batch_size=args.batch_size, progress=not args.no_progress,
                                 source_model=source, noise_sets=noise_sets)
    result["checkpoint"] = {"path": [str(c) for c in args.checkpoint], "dataset": dataset,
                            "preset": meta.get("preset")}
    first = args.checkpoint[0]
    run_dir = first if first.is_dir() else first.parent
    from stablenets.evaluation.report import report_paths, to_table

    json_path, md_path = write_report(result, args.out or run_dir)
    print(f"{to_table(result)}\n{json_path}\n{md_path}\n{report_paths(args.out or run_dir, result)['html']}")
    return 0
