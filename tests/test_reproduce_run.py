"""`stablenets reproduce` end to end at smoke scale through submitit's local launcher, and a killed sweep
that finishes on the rerun without retraining what was done."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stablenets.reproduce import expand_runs, get_entry, protocol_of
from stablenets.reproduce.jobs import SUMMARY, task_state
from stablenets.reproduce.launch import acquire, release
from stablenets.reproduce.runner import plan_tasks, reproduce

SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture(autouse=True)
def _no_data_root(monkeypatch):
    monkeypatch.delenv("STABLENETS_DATA", raising=False)  # smoke scale must not need the real data
    monkeypatch.setenv("PYTHONPATH", SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))  # for the workers


# One per paper and one of each kind: table (C, D), figure (A, B), analysis (E, B).
REPRESENTATIVE = ["C-table2", "D-table1", "A-fig1", "B-fig7", "E-table10", "B-fig1"]


@pytest.mark.parametrize("entry_id", REPRESENTATIVE)
def test_entry_runs_end_to_end_at_smoke_scale(entry_id, tmp_path):
    entry = get_entry(entry_id)
    result = reproduce(entry_id, "smoke", launcher="local", out=tmp_path, log=lambda *_: None)
    paths = result["paths"]
    for name in ("table.md", "table.json", "report.html"):
        assert paths[name].is_file() and paths[name].stat().st_size > 0
    assert "figure.png" in paths and paths["figure.png"].read_bytes()[:4] == b"\x89PNG"
    report = json.loads(paths["table.json"].read_text())
    assert report["entry"] == entry_id and report["scale"] == "smoke"
    assert len(report["claims"]) == len(entry.claims)
    rows = {r["label"]: r for r in report["rows"]}
    header = paths["table.md"].read_text()
    assert all(f"{m['column']} paper | ours | Δ" in header for m in entry.metrics)
    # Every row we ran has a number in every column we can measure at smoke scale.
    _, tasks = plan_tasks(entry, "smoke", out=tmp_path)
    for task in tasks:
        assert task_state(task) == "done"
    ran = {r.label for r in expand_runs(entry, "smoke")} or set(rows)
    protocol = protocol_of(entry, "smoke")
    ran_attacks = set(protocol.get("attacks") or []) | set(protocol.get("noise") or [])

    def measured_here(metric):
        source, _, key = metric["from"].partition(":")
        if source in ("curve", "ensemble"):
            return False
        return source != "eval" or key == "clean" or key.split("@")[0].split("/")[0] in ran_attacks

    measured = [m["key"] for m in entry.metrics if measured_here(m)]
    for label in ran:
        for key in measured:
            assert rows[label]["ours"][key].get("n", 0) >= 1, (label, key)
    # The paper's numbers sit beside ours (tables and analyses that have cells).
    if entry.kind in ("table", "analysis") and entry.paper_values:
        assert any(r["paper"] for r in report["rows"])
    if entry_id == "E-table10":  # exact: the characteristic roots of Table 10 at every scale
        assert all(c["holds"] for c in report["claims"])


def test_a_killed_sweep_finishes_on_rerun_without_retraining(tmp_path):
    """Kill the whole process group after the first run finished; the rerun trains only the rest."""
    cmd = [sys.executable, "-m", "stablenets", "reproduce", "E-table1", "--scale", "smoke", "--launcher", "local",
           "--out", str(tmp_path)]
    entry = get_entry("E-table1")
    _, tasks = plan_tasks(entry, "smoke", out=tmp_path)
    assert len({t.run_dir for t in tasks}) == 5  # five α, five runs
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    try:
        while time.time() < deadline and not any((t.run_dir / SUMMARY).is_file() for t in tasks):
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done_before = {t.run_dir: (t.run_dir / "model.safetensors").stat().st_mtime_ns for t in tasks
                   if task_state(t) == "done"}
    assert done_before, "the first run finished before the kill"
    assert len(done_before) < len(tasks), "the kill came before the sweep ended"
    finished = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert all(task_state(t) == "done" for t in tasks)
    for run_dir, mtime in done_before.items():  # finished runs were not retrained
        assert (run_dir / "model.safetensors").stat().st_mtime_ns == mtime
    assert (tmp_path / "E-table1" / "table.md").is_file()
    assert f"{len(tasks) - len(done_before)} of {len(tasks)} runs" in finished.stdout


def test_locks_keep_two_workers_off_one_run_and_a_dead_holder_is_taken_over(tmp_path):
    run = tmp_path / "run"
    assert acquire(run)
    assert not acquire(run)  # held by a live process (this one)
    release(run)
    (run / ".lock").write_text(json.dumps({"host": os.uname().nodename, "pid": 2 ** 22 + 12345}))
    assert acquire(run)       # the holder is gone: taken over
    release(run)
    (run / ".lock").write_text("12")  # its writer was killed mid-write, long ago
    os.utime(run / ".lock", (time.time() - 60, time.time() - 60))
    assert acquire(run)
    release(run)


def test_bad_input_is_refused_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="unknown entry"):
        reproduce("C-table99", "smoke", out=tmp_path)
    with pytest.raises(ValueError, match="scale"):
        reproduce("C-table2", "huge", out=tmp_path)
    assert not any(tmp_path.iterdir())
