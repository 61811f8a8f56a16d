"""The ``stablenets`` command: a thin shell over the library.

Subcommands: models, data, train, evaluate, analyze, demo. Each area of the
library registers its own subcommand (``register(subparsers)``) and returns an
exit code; this module only assembles them and turns a user's mistake (ValueError, including
SettingError and CheckpointError; an OSError such as a missing file or an unwritable output)
into one clear line on stderr and exit status 2, and Ctrl-C into one line and exit status 130.
"""
from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMAND_MODULES = ("stablenets.data.cli", "stablenets.training.cli", "stablenets.evaluation.cli",
                      "stablenets.analysis.cli", "stablenets.demo")


def _models(args) -> int:
    from stablenets.models import create_model, get_preset, list_models

    names = list_models(args.filter)
    if not names:
        print(f"no preset matches {args.filter!r}", file=sys.stderr)
        return 2
    print(f"{'name':<30} {'params':>9}  {'backbone':<24} {'width':>5}  {'data set':<9} {'twin':<18} "
          f"{'paper':<7} {'tables':<30} description")
    for name in names:
        preset = get_preset(name)
        count = sum(p.numel() for p in create_model(name).parameters())
        width = "" if preset.width is None else str(preset.width)
        print(f"{name:<30} {count / 1e6:>8.2f}M  {preset.backbone:<24} {width:>5}  {preset.dataset:<9} "
              f"{preset.twin:<18} {preset.paper:<7} {preset.table or '-':<30} {preset.description}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stablenets", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    models = sub.add_parser("models", help="list the model presets with their parameter counts")
    models.add_argument("filter", nargs="?", help="show only names containing this text")
    models.set_defaults(func=_models)
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # output piped into `head` and closed: not an error
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"stablenets {args.command}: interrupted (Ctrl-C); finished epochs and written files are kept, "
              f"a training run continues with --resume", file=sys.stderr)
        return 130
    except (ValueError, KeyError, OSError) as err:
        message = err.args[0] if err.args and isinstance(err.args[0], str) and not isinstance(err, OSError) \
            else str(err)
        print(f"stablenets {args.command}: error: {' '.join(message.split())}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
