"""`stablenets reproduce list`: beside the registry and its paper-scale cost, what exists: the small-scale
reports committed in docs/results (their claims' verdicts) and what their run cost on the 2-core CPU; a fast
first call, and progress lines when not on a terminal."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stablenets.cli import main

SRC = str(Path(__file__).resolve().parents[1] / "src")
DOCS = Path(__file__).resolve().parents[1] / "docs" / "results"


def _rows(text: str) -> dict[str, list[str]]:
    """entry id → the list's columns up to the title (entry, kind, runs, GPU-h, cost, results, committed, CPU)."""
    return {line.split()[0]: line.split()[:8] for line in text.splitlines()
            if re.match(r"[A-E]-(table|fig|solver)[\w-]* ", line)}


def _report(tmp_path: Path, entry: str, claims: list[dict], wall: float, train: float,
            hardware=("CPU (x86_64, 2 threads)",)) -> None:
    folder = tmp_path / entry
    folder.mkdir(parents=True)
    (folder / "table.json").write_text(json.dumps({"entry": entry, "scale": "small", "claims": claims,
                                                   "wall_seconds": wall, "train_seconds": train,
                                                   "hardware": list(hardware)}))


def test_committed_reports_show_their_verdicts_and_cpu_time(tmp_path, monkeypatch, capsys):
    """On constructed reports: each verdict counted (new `verdict` field and older `holds` flags), the time is
    the larger of the training and the wall time, and an entry with no committed report shows "—"."""
    _report(tmp_path, "C-table1", [{"verdict": "holds"}, {"verdict": "inconclusive"}, {"verdict": "holds"}],
            wall=567.2, train=466.4)
    _report(tmp_path, "E-table1", [{"holds": True}, {"holds": False}, {"holds": None}], wall=0.1, train=4347.7)
    _report(tmp_path, "B-fig1", [{"holds": True}], wall=0.01, train=0.0, hardware=())
    monkeypatch.setattr("stablenets.reproduce.describe.committed_results", lambda: tmp_path)
    monkeypatch.chdir(tmp_path)
    for pattern, committed, cpu in (("C-table1", "✔2?1", "9m27s"), ("E-table1", "✔1✘1·1", "1h12m"),
                                    ("B-fig1", "✔1", "<1s"), ("C-table2", "—", "—")):
        assert main(["reproduce", "list", pattern]) == 0
        out = capsys.readouterr().out
        row = _rows(out)[pattern]
        assert row[6:8] == [committed, cpu], (pattern, row)
        if pattern == "C-table1":
            assert "measured on CPU (x86_64, 2 threads)" in out and "— where no small run is committed" in out


def test_the_committed_docs_results_are_listed(capsys, tmp_path, monkeypatch):
    """Every report committed in docs/results appears with its verdicts and a time; an entry without one shows —."""
    committed = sorted(p.parent.name for p in DOCS.glob("*/table.json"))
    assert committed, "docs/results holds the committed small-scale reports"
    monkeypatch.chdir(tmp_path)
    assert main(["reproduce", "list"]) == 0
    rows = _rows(capsys.readouterr().out)
    for entry in committed:
        report = json.loads((DOCS / entry / "table.json").read_text())
        verdicts = [c.get("verdict") or {True: "holds", False: "contradicted"}.get(c.get("holds"), "not checked")
                    for c in report["claims"]]
        expected = "".join(f"{mark}{verdicts.count(v)}" for v, mark in (
            ("holds", "✔"), ("contradicted", "✘"), ("inconclusive", "?"), ("not checked", "·")) if verdicts.count(v))
        assert rows[entry][6] == (expected or "no-claim"), (entry, rows[entry])
        assert rows[entry][7] != "—", entry
    assert all(rows[e][6:8] == ["—", "—"] for e in rows if e not in committed)


def test_off_a_terminal_the_list_says_how_far_it_is(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("STABLENETS_PROGRESS_EVERY", "0")
    monkeypatch.chdir(tmp_path)
    assert main(["reproduce", "list", "C-table"]) == 0
    err = capsys.readouterr().err.splitlines()
    n = len([e for e in err if "/" in e and "rows" in e and "finished" not in e])
    assert err[0].startswith("reproduce list (pricing): ") and err[0].endswith("rows to do"), err
    assert n >= 2 and any("ETA" in line and "now: C-table" in line for line in err), err
    assert err[-1].startswith("reproduce list (pricing): finished"), err


def test_the_first_call_is_fast():
    """A fresh process lists every entry without counting FLOPs (every size ships in model_sizes.json): seconds,
    not the minutes counting them took; the bound is loose for a shared 2-core machine."""
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "stablenets", "reproduce", "list"], capture_output=True, text=True,
                          env=env, timeout=300)
    elapsed = time.monotonic() - start
    assert done.returncode == 0, done.stderr
    assert "counting the FLOPs" not in done.stderr
    assert elapsed < 60, f"reproduce list took {elapsed:.0f} s"
    assert "reproduce list (pricing): finished" in done.stderr  # stderr is a pipe here: the progress lines


@pytest.mark.parametrize("argv", [["reproduce", "list", "Z-nothing"], ["train", "list", "Z-nothing"],
                                  ["models", "Z-nothing"]])
def test_a_filter_that_matches_nothing_is_one_error(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"stablenets {argv[0]}: error: no ") and "matches 'Z-nothing'" in err
