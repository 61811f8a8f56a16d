"""`reproduce --launcher slurm` against a real SLURM: a single-node cluster on this machine (`.ci/slurm.sh`
starts one; CI runs it). The sweep runs as a job array; a cancelled task's run resumes on the rerun; a
requeued task (as a preemption does) continues its run from the checkpoint. Without a cluster the tests
skip and say why."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from stablenets.reproduce import get_entry
from stablenets.reproduce.jobs import Task, task_state
from stablenets.reproduce.launch import launch
from stablenets.reproduce.runner import plan_tasks
from stablenets.training import TrainConfig, apply_overrides, config_to_dict

SRC = str(Path(__file__).resolve().parents[1] / "src")
START = ".ci/slurm.sh (as root) starts a single-node cluster on this machine"


def _no_cluster() -> str | None:
    """Why no SLURM cluster can run jobs here, or None."""
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return f"SLURM is not installed; {START}"
    try:
        done = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return f"sinfo did not answer in 20 s; {START}"
    if done.returncode != 0:
        return f"no SLURM controller answers ({done.stderr.strip()[:200]}); {START}"
    states = set(done.stdout.split())
    if not states & {"idle", "mixed", "allocated"}:
        return f"no SLURM node can take jobs (states: {', '.join(sorted(states)) or 'none'}); {START}"
    return None


@pytest.fixture
def cluster(monkeypatch):
    reason = _no_cluster()
    if reason:
        pytest.skip(reason)
    monkeypatch.delenv("STABLENETS_DATA", raising=False)
    monkeypatch.setenv("PYTHONPATH", SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))  # the jobs' python


def _history(task: Task) -> list[dict]:
    return [json.loads(line) for line in (task.run_dir / "history.jsonl").read_text().splitlines()]


def test_a_sweep_runs_end_to_end_as_a_job_array(cluster, tmp_path):
    cmd = [sys.executable, "-m", "stablenets", "reproduce", "E-table1", "--scale", "smoke", "--launcher", "slurm",
           "--workers", "2", "--slurm-cpus-per-task", "1", "--out", str(tmp_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=500)
    assert done.returncode == 0, done.stderr[-2000:]
    folder = tmp_path / "E-table1" / "submitit"
    arrays = {m.group(1) for p in folder.glob("*_log.out") if (m := re.match(r"(\d+)_\d+_\d+_log\.out$", p.name))}
    assert len(arrays) == 1, sorted(p.name for p in folder.iterdir())  # one job array …
    array = arrays.pop()
    assert {p.name for p in folder.glob(f"{array}_*_log.out")} == {f"{array}_0_0_log.out", f"{array}_1_0_log.out"}
    assert "#SBATCH --array=0-1" in (folder / f"{array}_submission.sh").read_text()  # … of two tasks
    logs = "".join(p.read_text() for p in folder.glob(f"{array}_*_log.out"))
    assert "[worker 0]" in logs and "[worker 1]" in logs  # where the workers' lines go
    _, tasks = plan_tasks(get_entry("E-table1"), "smoke", out=tmp_path)
    assert all(task_state(t) == "done" for t in tasks)
    assert all(len(_history(t)) == 1 for t in tasks)  # each run trained once
    assert (tmp_path / "E-table1" / "table.md").is_file()


def _task(out: Path, epochs: int = 30) -> Task:
    cfg = apply_overrides(TrainConfig(), ["data.dataset=embedded-mnist", "model.name=resnet-8",
                                          "model.overrides.widths=[4, 4, 8]", "data.batch_size=16",
                                          "data.train_subset=64", "data.test_subset=16", f"run.epochs={epochs}",
                                          "run.progress=false"])
    return Task(entry="T", label="tiny", seed=0, config=config_to_dict(cfg), protocol={}, scale="small",
                out=str(out))


def _launch_in_background(task: Task, plan: Path) -> threading.Thread:
    thread = threading.Thread(target=launch, args=([task], plan), daemon=True,
                              kwargs=dict(launcher="slurm", workers=1, slurm={"cpus_per_task": 1},
                                          log=lambda *_: None))
    thread.start()
    return thread


def _running_task_id(task: Task, folder: Path, deadline: float) -> str:
    """The array task's id once its run has two epochs' checkpoints."""
    metrics = task.run_dir / "metrics.jsonl"
    while not (metrics.is_file() and len(metrics.read_text().splitlines()) >= 2):
        assert time.time() < deadline, "the job did not train two epochs in time"
        time.sleep(0.05)
    logs = [m.group(1) for p in folder.glob("*_log.out") if (m := re.match(r"(.+)_\d+_log\.out$", p.name))]  # <job>_<task>
    assert len(logs) == 1, logs
    return logs[0]


def _resumed_from_checkpoint(task: Task, epochs: int) -> None:
    history = _history(task)
    assert [h["resume"] for h in history] == [False, True]
    assert 2 <= history[1]["start_epoch"] < epochs  # from a checkpoint after epoch 2, not from scratch
    rows = [json.loads(line) for line in (task.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == list(range(1, epochs + 1))


def test_a_cancelled_task_resumes_its_run_on_the_rerun(cluster, tmp_path):
    task = _task(tmp_path / "out")
    plan = tmp_path / "plan.json"
    thread = _launch_in_background(task, plan)
    job = _running_task_id(task, tmp_path / "submitit", time.time() + 180)
    subprocess.run(["scancel", job], check=True)
    thread.join(120)
    assert not thread.is_alive() and task_state(task) == "partial"  # the launcher returned, the run unfinished
    states = launch([task], plan, launcher="slurm", workers=1, slurm={"cpus_per_task": 1}, log=lambda *_: None)
    assert states == {"tiny s0": "done"}
    _resumed_from_checkpoint(task, 30)


def test_a_requeued_task_continues_its_run_from_the_checkpoint(cluster, tmp_path):
    task = _task(tmp_path / "out")
    thread = _launch_in_background(task, tmp_path / "plan.json")
    job = _running_task_id(task, tmp_path / "submitit", time.time() + 180)
    subprocess.run(["scontrol", "requeue", job], check=True)  # what SLURM does to a preempted job
    for _ in range(200):  # SLURM holds a requeued job back two minutes; let it start once it is pending again
        state = subprocess.run(["squeue", "-h", "-j", job, "-o", "%T %r"], capture_output=True, text=True).stdout
        if state.split()[:2] == ["PENDING", "BeginTime"]:
            subprocess.run(["scontrol", "update", f"jobid={job}", "starttime=now"], check=True)
            break
        time.sleep(0.1)
    thread.join(300)
    assert not thread.is_alive(), "the launcher did not wait for the requeued task"
    assert task_state(task) == "done"
    _resumed_from_checkpoint(task, 30)
