"""The ``stablenets`` command: a thin shell over the library.

Subcommands: models, data, train, evaluate, analyze, demo, reproduce. Each command's module in
``stablenets/commands/`` (above the stages it drives) registers its subcommand
(``register(subparsers)``) and returns an exit code; this module only assembles them and turns a
user's mistake (ValueError, including SettingError and CheckpointError; an OSError such as a
missing file or an unwritable output) into one clear line on stderr and exit status 2, and Ctrl-C into one line and exit status 130.
"""
from __future__ import annotations

import argparse
import importlib
import re
import sys
import warnings

# command: (module that registers it, one-line help). A command's module is imported only when that
# command runs (or shows its help): `stablenets --help` and argument errors start without torch.
COMMANDS = {
    "models": (None, "list the model presets with their parameter counts"),
    "data": ("stablenets.commands.data", "list, describe and download data sets"),
    "train": ("stablenets.commands.train", "train an experiment (natural, PGD-AT, TRADES, noisy)"),
    "evaluate": ("stablenets.commands.evaluate", "robustness report of a checkpoint (a paper's protocol)"),
    "analyze": ("stablenets.commands.analyze", "figures and tables of the papers for your models and runs"),
    "demo": ("stablenets.commands.demo",
             "reproduce findings of the papers on packaged data (CPU, under two minutes)"),
    "reproduce": ("stablenets.commands.reproduce", "reproduce a table or figure of papers A-E, paper | ours | Δ"),
}
SUBCOMMAND_MODULES = tuple(module for module, _ in COMMANDS.values() if module)

_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")


def plain(text: str | None) -> str | None:
    """Help text without reStructuredText markup: ``x`` and :func:`x` read as x, a closing "::" as ":"."""
    if not text:
        return text
    text = _LITERAL.sub(r"\1", _ROLE.sub(r"\1", text))
    return re.sub(r"(\S)::$", r"\1:", re.sub(r" ::$", "", text, flags=re.M), flags=re.M)


def _plain_help(parser: argparse.ArgumentParser) -> None:
    """``parser`` and its subcommands' help without RST markup (module docstrings serve as help)."""
    parser.description, parser.epilog = plain(parser.description), plain(parser.epilog)
    for action in parser._actions:
        if isinstance(action.help, str):
            action.help = plain(action.help)
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _plain_help(child)


def _models(args) -> int:
    from stablenets.models import create_model, get_preset, list_models

    names = list_models(args.filter)
    if not names:
        raise ValueError(f"no preset matches {args.filter!r} (`stablenets models` lists them all)")
    print(f"{'name':<30} {'params':>9}  {'backbone':<24} {'width':>5}  {'data set':<9} {'twin':<18} "
          f"{'paper':<7} {'tables':<30} description")
    warned: dict[str, list[str]] = {}
    for name in names:
        preset = get_preset(name)
        with warnings.catch_warnings(record=True) as caught:  # said once, under the table
            warnings.simplefilter("always")
            count = sum(p.numel() for p in create_model(name).parameters())
        for w in caught:
            warned.setdefault(type(w.message).__name__, []).append(name)
        width = "" if preset.width is None else str(preset.width)
        print(f"{name:<30} {count / 1e6:>8.2f}M  {preset.backbone:<24} {width:>5}  {preset.dataset:<9} "
              f"{preset.twin:<18} {preset.paper:<7} {preset.table or '-':<30} {preset.description}")
    for kind, which in warned.items():
        shown = ", ".join(which[:6]) + (f" and {len(which) - 6} more" if len(which) > 6 else "")
        print(f"\nnote: {len(which)} preset(s) raise a {kind} when built ({shown})"
              + (": their multistep coefficients break the root condition or consistency, as the papers' "
                 "counter-examples do" if kind == "StabilityWarning" else ""))
    return 0


def _command_of(argv: list[str]) -> str | None:
    """The command ``argv`` names (its first word that is not an option), or None."""
    first = next((a for a in argv if not a.startswith("-")), None)
    return first if first in COMMANDS else None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; every command registers fully when ``argv`` is None, else only the one ``argv`` names
    (the others are listed with their one-line help)."""
    parser = argparse.ArgumentParser(prog="stablenets", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = None if argv is None else _command_of(argv)
    for name, (module_name, help_) in COMMANDS.items():
        if argv is not None and name != chosen:
            sub.add_parser(name, help=help_)
            continue
        if module_name is None:
            models = sub.add_parser("models", help=help_)
            models.add_argument("filter", nargs="?", help="show only names containing this text")
            models.set_defaults(func=_models)
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name != module_name:
                raise
            continue
        module.register(sub)
    _plain_help(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
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
