"""``stablenets evaluate CHECKPOINT --suite NAME``: run a suite and write the report.

    stablenets evaluate runs/zerosnet-opt-20/model.safetensors --suite D --n 1000 \\
        --set attacks.pgd.steps=50 --set diagnostics.n=500

The test set is the first n test points of the checkpoint's data set (``meta["dataset"]``),
read from ``--data-root`` or $STABLENETS_DATA. The report (JSON + Markdown) is written
atomically into the run directory (the checkpoint's folder) unless ``--out`` says otherwise.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from stablenets.evaluation.suites import list_suites, parse_overrides

__all__ = ["register", "run_evaluate"]


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("evaluate", help="robustness report of a checkpoint (a paper's protocol)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", type=Path, help="checkpoint file written by stablenets train, or its run folder")
    p.add_argument("--suite", default="quick", choices=list_suites(), help="protocol to run (default: quick)")
    p.add_argument("--data-root", type=Path, default=None, help="data folder (default: $STABLENETS_DATA)")
    p.add_argument("--n", type=int, default=1000, help="evaluate the first N test points (default: 1000)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a suite setting, e.g. attacks.pgd.steps=50 (repeatable; JSON values)")
    p.add_argument("--source", type=Path, default=None, help="checkpoint of the transfer-attack source model")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--out", type=Path, default=None, help="report folder (default: the checkpoint's folder)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run_evaluate)
    return p


def _device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but no CUDA device is available; use --device cpu")
    return torch.device(name)


def _test_points(dataset: str, root, n: int):
    """First n test points as float [0, 1] images, their labels, and the uint8 originals."""
    import torch

    from stablenets.data import load

    x, y = load(dataset, root, split="test")
    x, y = x[:n], y[:n]
    raw = x if x.dtype == torch.uint8 else None
    return (x.float() / 255 if raw is not None else x.float()), y.long(), raw


def run_evaluate(args: argparse.Namespace) -> int:
    from stablenets.evaluation.report import write_report
    from stablenets.evaluation.robustness import evaluate_robustness

    if args.n < 1:
        raise ValueError(f"--n must be at least 1, got {args.n}")
    for path in (args.checkpoint, args.source):
        if path is not None and not path.exists():
            raise FileNotFoundError(f"checkpoint {path} not found (give a checkpoint file or its run folder)")
    from stablenets.training.checkpoint import load_model

    device = _device(args.device)
    model, meta = load_model(args.checkpoint, device=device)
    source = load_model(args.source, device=device)[0] if args.source is not None else None
    dataset = meta.get("dataset")
    if not dataset:
        raise ValueError(f"checkpoint {args.checkpoint} does not name its data set (meta['dataset'])")
    x, y, raw = _test_points(dataset, args.data_root, args.n)

    noise_sets = None
    if raw is not None:
        from stablenets.data.noise_sets import noise_test_set

        def noise_sets(group: str, severity: int):
            ns = noise_test_set(dataset, group, severity, args.data_root, clean=(raw, y))
            return ns.images[:args.n].float() / 255, ns.labels[:args.n].long(), ns.source

    result = evaluate_robustness(model, x, y, args.suite, parse_overrides(args.overrides),
                                 batch_size=args.batch_size, progress=not args.no_progress,
                                 source_model=source, noise_sets=noise_sets)
    result["checkpoint"] = {"path": str(args.checkpoint), "dataset": dataset, "preset": meta.get("preset")}
    run_dir = args.checkpoint if args.checkpoint.is_dir() else args.checkpoint.parent
    json_path, md_path = write_report(result, args.out or run_dir)
    flags = result["flags_raised"]
    print(f"clean {100 * result['clean']:.2f}%  "
          f"gradient-masking flags: {', '.join(flags) if flags else 'none'}\n{json_path}\n{md_path}")
    return 0
