"""``stablenets train CONFIG [key=value ...]``: train an experiment (a packaged name or a TOML file).

    stablenets train --list
    stablenets train a-cifar10-in-resnet-110 --device cuda
    stablenets train a-cifar10-in-resnet-110 optim.lr=0.05 run.epochs=10 --seeds 0 1 2
    stablenets train a-cifar10-in-resnet-110 --scale smoke --device cpu
    stablenets train my-experiment.toml --out runs/mine --resume
    torchrun --nproc_per_node 4 -m stablenets.cli train e-cifar10-zerosnet-opt-110 --out runs/z

Overrides are ``section.key=value`` with TOML values (``schedule.milestones=[30, 60]``,
``model.overrides.lambda_init=[0.2, 0.25]``), checked against the settings' types.
The data folder is --data-root or $STABLENETS_DATA. Exit status: 0 done, 2 bad input,
3 the loss diverged (the message names the epoch, the step and the last good checkpoint).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from stablenets.device import add_device_argument

__all__ = ["register", "run_train"]


class _IntermixedParser(argparse.ArgumentParser):
    """Lets KEY=VALUE overrides come before and after options (``train X --device cpu a.b=1``)."""

    _inner = False

    def parse_known_args(self, args=None, namespace=None):
        if self._inner:
            return super().parse_known_args(args, namespace)
        self._inner = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inner = False


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    default_class = subparsers._parser_class  # add_parser has no per-parser class argument
    subparsers._parser_class = _IntermixedParser
    try:
        p = subparsers.add_parser("train", help="train an experiment (natural, PGD-AT, TRADES, noisy)",
                                  description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    finally:
        subparsers._parser_class = default_class
    p.add_argument("config", nargs="?", help="experiment name (see --list) or path to a TOML file")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="setting overrides, e.g. optim.lr=0.05")
    p.add_argument("--list", action="store_true", help="list the packaged experiments and exit")
    p.add_argument("--scale", choices=["paper", "smoke"], default="paper",
                   help="paper: as written; smoke: a few steps on tiny data, seconds on a CPU")
    p.add_argument("--seeds", type=int, nargs="+", default=None, metavar="S",
                   help="train one run per seed and report mean ± std")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--out", type=Path, default=None, help="run folder (default: runs/<experiment>-<time>)")
    p.add_argument("--data-root", type=Path, default=None, help="data folder (default: $STABLENETS_DATA)")
    p.add_argument("--no-verify", action="store_true", help="skip md5 checks of the data files")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_device_argument(p)
    p.set_defaults(func=run_train)
    return p


def resolve_config(args: argparse.Namespace):
    """The experiment with overrides, data settings and scale applied."""
    from stablenets.training.config import apply_overrides, load_config
    from stablenets.training.scale import smoke

    cfg = load_config(args.config)
    extra = list(args.overrides)
    if args.data_root is not None:
        extra.append(f'data.root="{args.data_root}"')
    if args.no_verify:
        extra.append("data.verify=false")
    if args.no_progress:
        extra.append("run.progress=false")
    cfg = apply_overrides(cfg, extra)
    return smoke(cfg) if args.scale == "smoke" else cfg


def _out_dir(args, experiment: str) -> Path:
    if args.out is not None:
        return args.out
    if args.resume:
        runs = sorted(Path("runs").glob(f"{experiment}-*"))
        if not runs:
            raise FileNotFoundError(f"no run of {experiment!r} under runs/ to resume; pass --out RUN_DIR")
        return runs[-1]
    return Path("runs") / f"{experiment}-{time.strftime('%Y%m%d-%H%M%S')}"


def run_train(args: argparse.Namespace) -> int:
    from stablenets.training.config import list_experiments
    from stablenets.training.scale import SMOKE_FALLBACK
    from stablenets.training.trainer import NonFiniteLossError, format_stats, train, train_seeds

    if args.list or not args.config:
        if not args.list:
            print("stablenets train: error: give an experiment name or TOML file (names below)", file=sys.stderr)
        print("\n".join(list_experiments()))
        return 0 if args.list else 2
    cfg = resolve_config(args)
    out = _out_dir(args, cfg.experiment or Path(args.config).stem)
    fallback = SMOKE_FALLBACK if args.scale == "smoke" else ""
    try:
        if args.seeds:
            summary = train_seeds(cfg, out, args.seeds, device=args.device, resume=args.resume, fallback=fallback)
            print(f"{len(args.seeds)} seeds {args.seeds} in {out}\n{format_stats(summary['stats'])}")
        else:
            summary = train(cfg, out, device=args.device, resume=args.resume, fallback=fallback)
            final = summary.get("final") or {}
            print(f"done: test accuracy {100 * final.get('test_acc', float('nan')):.2f}% after "
                  f"{final.get('epoch')} epochs; run folder {out}")
        print(f"evaluate with: stablenets evaluate {out if not args.seeds else out / f'seed-{args.seeds[0]}'}"
              f"/model.safetensors --suite {cfg.eval.suite or 'quick'}")
    except NonFiniteLossError as err:
        print(f"stablenets train: error: {err}", file=sys.stderr)
        return 3
    return 0
