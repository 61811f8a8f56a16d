"""Sweeps that share one output folder: two concurrent `reproduce` commands with several workers each
train every run exactly once and leave every file whole; a worker killed while it holds a run's lease
is taken over after the lease's expiry, and the run resumes from its checkpoint."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from stablenets.reproduce import get_entry
from stablenets.reproduce.jobs import Task, resolved_config, task_state
from stablenets.reproduce.launch import HELD, worker, write_plan
from stablenets.reproduce.runner import plan_tasks
from stablenets.training import TrainConfig, apply_overrides, config_to_dict, train
from stablenets.training.lease import LEASE_FILE, Lease

SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.delenv("STABLENETS_DATA", raising=False)
    monkeypatch.setenv("PYTHONPATH", SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))


def _whole_json_files(folder: Path) -> int:
    """Parse every .json and every line of every .jsonl under ``folder``; how many files."""
    n = 0
    for path in folder.rglob("*.json*"):
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".jsonl":
            for line in path.read_text().splitlines():
                json.loads(line)
        else:
            continue
        n += 1
    return n


def test_two_sweeps_with_two_workers_each_train_every_run_exactly_once(tmp_path):
    """Three workers in all: two submitit processes of the first sweep, and the second sweep's own process
    (``--launcher inline``), started half a second later."""
    cmd = [sys.executable, "-m", "stablenets", "reproduce", "E-table1", "--scale", "smoke", "--out", str(tmp_path)]
    first = subprocess.Popen([*cmd, "--launcher", "local", "--workers", "2"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    second = subprocess.Popen([*cmd, "--launcher", "inline"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outs = [p.communicate(timeout=400) for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, [err[-1500:] for _, err in outs]
    _, tasks = plan_tasks(get_entry("E-table1"), "smoke", out=tmp_path)
    assert len({t.run_dir for t in tasks}) == 5 and all(task_state(t) == "done" for t in tasks)
    # Every start of training, counted twice over: in the workers' logs and in each run's history.
    logs = "".join(p.read_text() for p in (tmp_path / "E-table1" / "submitit").glob("*_log.out")) + outs[1][0]
    for t in tasks:
        starts = re.findall(rf"(?:training|resuming) in {re.escape(str(t.run_dir))}$", logs, re.M)
        assert len(starts) == 1, (t.run_dir.name, starts)
        history = (t.run_dir / "history.jsonl").read_text().splitlines()
        assert len(history) == 1 and json.loads(history[0])["resume"] is False
        epochs = [json.loads(line)["epoch"] for line in (t.run_dir / "metrics.jsonl").read_text().splitlines()]
        assert epochs == [1]
        assert not (t.run_dir / LEASE_FILE).exists()  # released
        assert not [p.name for p in t.run_dir.iterdir() if p.name.endswith((".tmp", ".new"))]
    assert _whole_json_files(tmp_path) >= 5 * 4 + 1  # config, summary, eval, timing per run + table.json


def _task(tmp_path: Path, epochs: int) -> Task:
    cfg = apply_overrides(TrainConfig(), ["data.dataset=embedded-mnist", "model.name=resnet-8",
                                          "model.overrides.widths=[4, 4, 8]", "data.batch_size=16",
                                          "data.train_subset=64", "data.test_subset=16", f"run.epochs={epochs}",
                                          "run.progress=false"])
    return Task(entry="T", label="tiny", seed=0, config=config_to_dict(cfg), protocol={}, scale="small",
                out=str(tmp_path))


def test_a_killed_lease_holder_is_taken_over_after_the_expiry_and_resumed_from_its_checkpoint(tmp_path,
                                                                                               monkeypatch):
    """The holder runs in its own pid namespace, so to the lease it is another host: only its stopped
    heartbeat frees the run. It is killed with SIGKILL after its second epoch's checkpoint."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "--pid", "--fork", "true"]).returncode != 0:
        pytest.skip("`unshare --pid` is not available (needs root): cannot start a holder that looks like another host")
    expiry, epochs = 2.0, 12
    monkeypatch.setenv("STABLENETS_LEASE_EXPIRY", str(expiry))
    task = _task(tmp_path / "sweep", epochs)
    plan = write_plan([task], tmp_path / "plan.json")
    code = f"from stablenets.reproduce.launch import worker; worker({str(plan)!r}, 0, 1)"  # 1 thread, as here
    holder = subprocess.Popen(["unshare", "--pid", "--fork", sys.executable, "-c", code], start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    metrics = task.run_dir / "metrics.jsonl"
    deadline = time.time() + 120
    try:
        while not (metrics.is_file() and len(metrics.read_text().splitlines()) >= 2):
            assert time.time() < deadline and holder.poll() is None, holder.stderr.read()[-1500:] if holder.poll() else ""
            time.sleep(0.02)
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
    killed_at = time.time()
    done_epochs = len(metrics.read_text().splitlines())
    assert task_state(task) == "partial" and done_epochs < epochs, "the kill came after the run ended"
    assert worker(str(plan), 1) == {"tiny s0": HELD}  # its lease is fresh: not taken
    while Lease(task.run_dir).holder() is not None:
        assert time.time() - killed_at < expiry + 10
        time.sleep(0.1)
    assert time.time() - killed_at > expiry - Lease(task.run_dir).interval  # freed by the expiry, not before
    assert worker(str(plan), 1) == {"tiny s0": "done"}
    history = [json.loads(line) for line in (task.run_dir / "history.jsonl").read_text().splitlines()]
    assert [h["resume"] for h in history] == [False, True]
    assert done_epochs <= history[1]["start_epoch"] <= done_epochs + 1  # from its checkpoint, not from scratch
    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert [r["epoch"] for r in rows] == list(range(1, epochs + 1))
    # On a CPU a resumed run ends with the weights of an uninterrupted one.
    alone = _task(tmp_path / "alone", epochs)
    train(resolved_config(alone), alone.run_dir, device="cpu", log=lambda *_: None)
    got, want = load_file(task.run_dir / "model.safetensors"), load_file(alone.run_dir / "model.safetensors")
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in got)



def test_waiting_for_runs_held_elsewhere_returns_once_one_is_free_and_logs_while_held(tmp_path):
    """The launcher's wait on runs another sweep holds (a Task is unhashable: it once failed here)."""
    from stablenets.reproduce import launch as launch_module

    held, free = _task(tmp_path / "a", 1), _task(tmp_path / "b", 1)
    free.label = "free"
    free.out = str(tmp_path / "b")
    lease = Lease(held.run_dir, expiry=60)
    held.run_dir.mkdir(parents=True, exist_ok=True)
    assert lease.acquire()
    try:
        lines = []
        launch_module._wait_for_others([held, free], lines.append)  # `free` has no holder: returns at once
        assert lines == []
        assert Lease(held.run_dir).holder() is not None
    finally:
        lease.release()
