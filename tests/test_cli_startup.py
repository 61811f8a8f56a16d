"""The command line starts fast and reads plainly: no torch for --help or a mistyped argument, no RST markup
in the help, one entry described by `reproduce show`, warnings said once."""
from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from stablenets.cli import COMMANDS, build_parser, main

SRC = str(Path(__file__).resolve().parents[1] / "src")

MISTAKES = [["--help"], [], ["nosuch"], ["train", "--bogus"], ["train", "--scale", "huge", "x"],
            ["reproduce", "--scale", "huge", "C-table1"], ["evaluate"], ["analyze", "nosuch"], ["data", "--bogus"],
            ["demo", "--bogus"], ["models", "a", "b"], ["train", "--help"], ["reproduce", "--help"],
            ["train", "E-table1/alpha2.0", "--scale", "small"], ["train", "x", "--scale", "demo"],
            ["evaluate", "--help"], ["analyze", "--help"], ["data", "--help"], ["demo", "--help"]]


def test_help_and_argument_errors_do_not_import_torch():
    """Each argument list in a fresh process: it ends in argparse's exit or a refusal (status 0 or 2), and torch
    was never imported."""
    script = ("import sys, io, contextlib\n"
              "from stablenets.cli import main\n"
              "out = io.StringIO()\n"
              "with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):\n"
              "    try:\n        code = main(sys.argv[1:])\n    except SystemExit as e:\n        code = e.code\n"
              "print(code, 'torch' in sys.modules, 'stablenets.models' in sys.modules)\n")
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    for argv in MISTAKES:
        done = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True, env=env,
                              timeout=60)
        code, torch_loaded, models_loaded = done.stdout.split()
        assert code in ("0", "2"), (argv, done.stdout, done.stderr)
        assert torch_loaded == "False" and models_loaded == "False", f"{argv} imported torch"


def _parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from _parsers(child)


RST = re.compile(r"``|:(?:func|data|mod|class|meth|attr|obj|exc|ref|doc):`|^\s*\.\. \w+::", re.M)


def _command_paths(parser: argparse.ArgumentParser, path=()):
    """Every command and subcommand as the words that reach it: (), ("data",), ("data", "info"), ..."""
    yield list(path)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _command_paths(child, (*path, name))


def test_every_help_as_printed_has_no_rst_markup(capsys):
    """What a user sees: `stablenets [COMMAND [SUBCOMMAND]] --help` through main(), each command built lazily as
    on the command line, and `reproduce ENTRY --help` for entries of each paper."""
    paths = list(_command_paths(build_parser()))
    assert ["data", "info"] in paths and ["train"] in paths and len(paths) >= 1 + len(COMMANDS)
    for argv in [*paths, ["reproduce", "A-table1"], ["reproduce", "B-fig1"], ["reproduce", "C-table1"],
                 ["reproduce", "D-table2"], ["reproduce", "E-table10"]]:
        with pytest.raises(SystemExit) as info:
            main([*argv, "--help"])
        text = capsys.readouterr().out
        assert info.value.code == 0 and text.strip(), argv
        found = RST.search(text)
        assert not found, f"stablenets {' '.join(argv)} --help shows RST markup {found[0]!r}: " \
                          f"{text[max(found.start() - 80, 0):found.end() + 80]!r}"


def test_the_markup_check_can_fail():
    from stablenets.cli import plain

    for marked in ("see ``stablenets train``", "the ranges (:data:`RANGES`)", "calls :func:`register`"):
        assert RST.search(marked) and not RST.search(plain(marked)), marked


def test_help_text_has_no_rst_markup():
    for parser in _parsers(build_parser()):
        text = parser.format_help()
        assert "``" not in text and ":func:`" not in text and ":data:`" not in text and ":mod:`" not in text, \
            f"{parser.prog}: {text[:300]}"


def test_every_command_is_listed_and_registered():
    full = build_parser()
    (sub,) = [a for a in full._actions if isinstance(a, argparse._SubParsersAction)]
    assert list(sub.choices) == list(COMMANDS)


def test_analyze_names_exactly_the_kinds_it_runs():
    from stablenets.commands.analyze import KIND_NAMES
    from stablenets.analysis.kinds import KINDS

    assert sorted(KIND_NAMES) == sorted(KINDS)


@pytest.mark.parametrize("argv", [["reproduce", "show", "E-table10"], ["reproduce", "E-table10", "--help"]])
def test_reproduce_show_describes_one_entry(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) if "--help" in argv else contextlib.nullcontext():
        assert main(argv) == 0
    text = capsys.readouterr().out
    assert text.startswith("E-table10: Mapping from the coefficients")
    for part in ("claims checked:", "largest modulus equals Table 10's", "decisions (where the paper is silent):",
                 "cost:", "no training at any scale", "on disk:", "small (under runs/reproduce/small): nothing yet"):
        assert part in text, part


def test_reproduce_show_of_a_trained_entry_lists_runs_protocol_and_cost(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["reproduce", "show", "C-table1"]) == 0
    text = capsys.readouterr().out
    assert "runs at small scale:" in text and "ie-resnet-3-18-w8" in text
    assert "evaluation at small scale: suite C-table1; attacks fgsm; the first 10,000 test points" in text
    assert "paper: about" in text and "GPU-hours" in text
    assert re.search(r"committed small-scale report: \S+/docs/results/C-table1/table\.md \(verdicts [✔✘?·\d]+; "
                     r"the run took \d+\.\d min on CPU \(x86_64, 2 threads\)\)", text), text
    assert main(["reproduce", "show", "C-table99"]) == 2


def test_models_says_its_stability_warnings_once_under_the_table(capsys):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["models", "preresnet-alpha"]) == 0
    out = capsys.readouterr()
    assert not [w for w in caught if "Stability" in type(w.message).__name__], "no warning in the middle"
    lines = out.out.rstrip().splitlines()
    assert lines[-1].startswith("note: 2 preset(s) raise a StabilityWarning when built")
    assert out.out.count("StabilityWarning") == 1 and "Warning" not in out.err


def test_models_in_a_real_process_prints_no_warning_inside_the_table():
    """As a user runs it, warnings on (PYTHONWARNINGS=always would print each with its source line to stderr,
    which a terminal shows in the middle of the table): the table is unbroken, the note comes once, after it."""
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "PYTHONWARNINGS": "always"}
    done = subprocess.run([sys.executable, "-m", "stablenets", "models", "preresnet-alpha"], capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr and "warn(" not in done.stderr, done.stderr
    lines = done.stdout.rstrip().splitlines()
    rows = [i for i, line in enumerate(lines) if line.startswith("preresnet-alpha")]
    notes = [i for i, line in enumerate(lines) if "StabilityWarning" in line]
    assert len(rows) >= 5 and rows == list(range(1, len(rows) + 1)), "the table's rows are contiguous"
    assert len(notes) == 1 and notes[0] > rows[-1] and lines[notes[0]].startswith("note: ")
    assert not [line for line in lines if re.search(r"\.py:\d+|warnings\.warn", line)]
