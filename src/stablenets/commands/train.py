"""``stablenets train CONFIG [key=value ...]``: train an experiment (a packaged name or a TOML file).

    stablenets train list [FILTER]                  # the packaged experiments (also: train --list)
    stablenets train a-cifar10-in-resnet-110 --device cuda
    stablenets train a-cifar10-in-resnet-110 optim.lr=0.05 run.epochs=10 --seeds 0 1 2
    stablenets train a-cifar10-in-resnet-110 --scale smoke --device cpu
    stablenets train my-experiment.toml --out runs/mine --resume
    torchrun --nproc_per_node 4 -m stablenets.cli train e-cifar10-zerosnet-opt-110 --out runs/z

Overrides are ``section.key=value`` with TOML values (``schedule.milestones=[30, 60]``,
``model.overrides.lambda_init=[0.2, 0.25]``; bare words are strings, ``none`` is None), checked
against each setting's type and range before anything is loaded (all settings are listed below).
After training, the experiment's evaluation suite (``eval.suite``) runs on the checkpoint.
The data folder is --data-root or $STABLENETS_DATA. A new run goes to --out, or to
runs/<experiment>-<time> (never an existing folder); --resume without --out continues the latest
run of this experiment whose settings match. Exit status: 0 done (with --seeds: diverged seeds are
recorded in seeds.json), 2 bad input or an output that cannot be written, 3 the run diverged
(the message names the epoch, the step and the last good checkpoint), 130 interrupted.

Scales are the words of ``stablenets reproduce``: ``paper`` (as written) and ``smoke`` (seconds,
the plumbing) train this one run; ``small`` and ``demo`` are budgets of a whole entry (its rows,
data subset, epochs and seeds) and are refused here with the ``stablenets reproduce`` command
that runs them.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

from stablenets.device import add_device_argument

__all__ = ["register", "run_train", "SCALES", "ENTRY_SCALES"]

SCALES = ("paper", "small", "smoke", "demo")   # one vocabulary with `stablenets reproduce --scale`
ENTRY_SCALES = ("small", "demo")               # an entry's budgets: `stablenets reproduce ENTRY --scale ...`


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


def _toml(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.6g}"
    if value is None:
        return "none"
    return json.dumps(value)


_KINDS = {bool: "true or false", str: "text", dict: "a table {key = value}"}


def _settings_help() -> str:
    """Every setting with its default, accepted values and meaning, from the config's setting(...) fields."""
    from stablenets.settings import describe
    from stablenets.training.config import TrainConfig

    lines = ["settings (KEY=VALUE; default; accepted values):"]
    for name, default, help_, accepted in describe(TrainConfig):
        if accepted == "any value":
            accepted = _KINDS.get(type(default), accepted)
        lines.append(f"  {name:<26} {_toml(default):<12} {accepted}" + (f"  — {help_}" if help_ else ""))
    return "\n".join(lines)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    default_class = subparsers._parser_class  # add_parser has no per-parser class argument
    subparsers._parser_class = _IntermixedParser
    try:
        p = subparsers.add_parser("train", help="train an experiment (natural, PGD-AT, TRADES, noisy)",
                                  description=__doc__, epilog=_settings_help(),
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    finally:
        subparsers._parser_class = default_class
    p.add_argument("config", nargs="?",
                   help="experiment name (ENTRY/RUN or a former name; `train list [FILTER]` names them) or path "
                        "to a TOML file; `list` lists them")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="setting overrides, e.g. optim.lr=0.05")
    p.add_argument("--list", action="store_true", help="alias of `train list`: list the packaged experiments")
    p.add_argument("--scale", choices=SCALES, default="paper",
                   help="paper: as written; smoke: a few steps on tiny data, seconds on a CPU, to check the "
                        "plumbing; small and demo are an entry's budgets, run by `stablenets reproduce ENTRY "
                        "--scale small` (refused here)")
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
    """The experiment with overrides, data settings and scale applied, every setting checked."""
    from stablenets.experiments import load_config
    from stablenets.pipeline import prepare
    from stablenets.training.config import apply_overrides

    cfg = load_config(args.config)
    extra = list(args.overrides)
    if args.data_root is not None:
        extra.append(f'data.root="{args.data_root}"')
    if args.no_verify:
        extra.append("data.verify=false")
    if args.no_progress:
        extra.append("run.progress=false")
    return prepare(apply_overrides(cfg, extra), args.scale)


_STAMP = re.compile(r"-\d{8}-\d{6}(-\d+)?$")


def _matching_runs(experiment: str, cfg) -> list[Path]:
    """Run folders under runs/ of ``experiment`` whose settings a resume of ``cfg`` may continue."""
    from stablenets.training.config import config_to_dict
    from stablenets.training.rundir import check_resume

    found = []
    for path in sorted(Path("runs").glob(f"{experiment}-*")):
        if not (path.is_dir() and _STAMP.search(path.name) and path.name[:_STAMP.search(path.name).start()]
                == experiment):
            continue
        try:
            check_resume(path, config_to_dict(cfg), 0)
        except ValueError:
            continue
        found.append(path)
    return found


def _new_run_dir(experiment: str) -> Path:
    """runs/<experiment>-<time>, made here; a second run started in the same second gets -2, -3, ..."""
    base = Path("runs") / f"{experiment}-{time.strftime('%Y%m%d-%H%M%S')}"
    base.parent.mkdir(parents=True, exist_ok=True)
    for k in range(1, 1000):
        path = base if k == 1 else base.with_name(f"{base.name}-{k}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise ValueError(f"could not make a new run folder beside {base}; pass --out")


def _out_dir(args, experiment: str, cfg) -> Path:
    if args.out is not None:
        return args.out
    if args.resume:
        runs = _matching_runs(experiment, cfg)
        if not runs:
            raise FileNotFoundError(f"no run of {experiment!r} with these settings under runs/ to resume; "
                                    f"pass --out RUN_DIR")
        return runs[-1]
    return _new_run_dir(experiment)


def _refuse_entry_scale(args: argparse.Namespace) -> None:
    """``--scale small`` / ``demo`` name an entry's budget, which ``stablenets reproduce`` runs: one error naming it."""
    if args.scale not in ENTRY_SCALES:
        return
    entry = "ENTRY"
    if args.config and "/" in args.config and not args.config.endswith(".toml"):
        from stablenets.reproduce.registry import list_entries

        head = args.config.split("/")[0]
        entry = head if head in list_entries() else entry
    raise ValueError(f"--scale {args.scale} is the budget of a whole entry (its rows, data subset, epochs and "
                     f"seeds), not of one run: run `stablenets reproduce {entry} --scale {args.scale}`; "
                     f"`stablenets train` takes --scale paper or smoke")


def _list(args: argparse.Namespace) -> int:
    """``train list [FILTER]`` (alias ``train --list [FILTER]``): the packaged experiments."""
    from stablenets.experiments import list_experiments

    pattern = args.overrides[0] if args.overrides else (
        args.config if args.list and args.config not in (None, "list") else None)
    names = list_experiments(pattern)
    if not names:
        raise ValueError(f"no experiment matches {pattern!r} (`stablenets train list` names them all)")
    print("\n".join(names))
    return 0


def run_train(args: argparse.Namespace) -> int:
    if args.config == "list" or args.list:  # `train list [FILTER]`, as `reproduce list [FILTER]`
        return _list(args)
    if not args.config:
        from stablenets.experiments import list_experiments

        print("stablenets train: error: give an experiment name or TOML file (names below)", file=sys.stderr)
        print("\n".join(list_experiments()))
        return 2
    _refuse_entry_scale(args)

    from stablenets.pipeline import format_stats, run_seeds, train_and_evaluate
    from stablenets.training.scale import SMOKE_FALLBACK
    from stablenets.training.trainer import NonFiniteLossError

    cfg = resolve_config(args)
    out = _out_dir(args, cfg.experiment or Path(args.config).stem, cfg)
    fallback = SMOKE_FALLBACK if args.scale == "smoke" else ""
    try:
        if args.seeds:
            summary = run_seeds(cfg, out, args.seeds, device=args.device, resume=args.resume, fallback=fallback)
            print(f"{len(summary['runs'])} of {len(args.seeds)} seeds {args.seeds} finished in {out}\n"
                  f"{format_stats(summary['stats'])}")
            if summary["diverged"]:
                print(f"diverged: seeds {[d['seed'] for d in summary['diverged']]} (recorded in {out / 'seeds.json'})")
            if not summary["runs"]:
                return 3
        else:
            summary = train_and_evaluate(cfg, out, device=args.device, resume=args.resume, fallback=fallback)
            final = summary.get("final") or {}
            print(f"done: test accuracy {100 * final.get('test_acc', float('nan')):.2f}% after "
                  f"{final.get('epoch')} epochs; run folder {out}")
        if args.scale == "smoke":
            print("smoke scale checks that the run works end to end (a few steps on tiny data); its accuracy "
                  "means nothing. Train at --scale paper (or an entry's small budget with "
                  "`stablenets reproduce ENTRY --scale small`) for numbers that do.")
        first = out if not args.seeds else out / f"seed-{args.seeds[0]}"
        print(f"evaluate with: stablenets evaluate {first}/model.safetensors --suite {cfg.eval.suite or 'quick'}")
    except NonFiniteLossError as err:
        print(f"stablenets train: error: {err}", file=sys.stderr)
        return 3
    return 0
