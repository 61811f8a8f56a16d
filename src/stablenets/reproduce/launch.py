"""Fan the tasks of an entry out over processes, GPUs or a SLURM cluster with submitit.

One code path for every launcher: the plan (every task, as JSON) is written to
``<out>/<entry>/plan-<scale>.json``; ``workers`` submitit jobs each run :func:`worker`, which walks
the plan and claims one task at a time with a lock file in its run directory. So

- ``local``: submitit's LocalExecutor starts the workers as processes on this machine, each bound
  to one GPU (``--gpus N`` × ``--pack K`` workers: several small runs share a GPU; a ResNet-20 run
  is host-bound on an H100) or, without GPUs, one worker;
- ``slurm``: the same workers as one SLURM job array (``--gpus`` per node, one GPU per task);
- ``inline``: the worker runs in this process (debugging, and the tests' fast path).

A lock names its holder (host, pid); a lock whose process is gone is taken over, so a sweep that
was killed resumes where it stopped: finished runs are skipped, the interrupted one resumes from
its checkpoint.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

from stablenets.atomic import write_text_atomic
from stablenets.reproduce.jobs import Task, run_task, stack_groups, task_state, train_stack

__all__ = ["write_plan", "worker", "launch", "LAUNCHERS", "acquire", "release"]

LAUNCHERS = ("local", "slurm", "inline")
LOCK = ".lock"


def write_plan(tasks: list[Task], path: Path) -> Path:
    write_text_atomic(path, json.dumps([t.to_dict() for t in tasks], indent=1) + "\n")
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def acquire(run_dir: Path) -> bool:
    """Take the run's lock (O_EXCL); a stale lock (its process gone, same host) is taken over."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK
    me = {"host": socket.gethostname(), "pid": os.getpid(), "time": time.time()}
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = None
            for _attempt in range(2):  # a live writer fills its lock within microseconds; a dead one never
                try:
                    holder = json.loads(path.read_text() or "null")
                except FileNotFoundError:
                    break
                except (OSError, ValueError):
                    holder = None
                if isinstance(holder, dict):
                    break
                time.sleep(0.5)
            if not path.exists():
                continue
            held = isinstance(holder, dict) and (holder.get("host") != me["host"] or _alive(int(holder.get("pid", -1))))
            if held:  # (a lock that stays unreadable was left by a writer killed mid-write: stale)
                return False
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            continue
        with os.fdopen(fd, "w") as f:
            json.dump(me, f)
        return True
    return False


def release(run_dir: Path) -> None:
    try:
        (run_dir / LOCK).unlink()
    except FileNotFoundError:
        pass


def _train_stacks(tasks: list[Task], stack: int, log) -> None:
    """Claim groups of new, stackable tasks and train each group as one stack (training/packed.py)."""
    for group in stack_groups(tasks, stack):
        held = [t for t in group if task_state(t) == "new" and acquire(t.run_dir)]
        try:
            if len(held) > 1:
                train_stack(held, log)
        finally:
            for t in held:
                release(t.run_dir)


def worker(plan_path: str, index: int = 0, threads: int = 0, stack: int = 1) -> dict:
    """Run every task of the plan that no other worker holds; returns {run_id: final state}.

    ``stack`` > 1: first train the new runs that share an architecture as stacks of up to that many
    (their evaluation and every other run then follow one by one, as always)."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    tasks = [Task.from_dict(d) for d in json.loads(Path(plan_path).read_text())]
    # Start at a different task per worker so that workers do not queue on the same lock.
    order = tasks[index % max(len(tasks), 1):] + tasks[:index % max(len(tasks), 1)]
    states: dict[str, str] = {}

    def log(msg):
        print(f"[worker {index}] {msg}", flush=True)

    _train_stacks(order, stack, log)

    for task in order:
        key = f"{task.label} s{task.seed}"
        if task_state(task) in ("done", "diverged"):
            states[key] = task_state(task)
            continue
        if not acquire(task.run_dir):
            states[key] = "held by another worker"
            continue
        try:
            states[key] = run_task(task, log=log)
        finally:
            release(task.run_dir)
    return states


def _executor(launcher: str, folder: Path, gpus: int, timeout_min: int, slurm: dict | None):
    import submitit

    if launcher == "local":
        ex = submitit.LocalExecutor(folder=str(folder))
        ex.update_parameters(timeout_min=timeout_min, gpus_per_node=min(gpus, 1))
        return ex
    ex = submitit.AutoExecutor(folder=str(folder), cluster="slurm")
    ex.update_parameters(timeout_min=timeout_min, gpus_per_node=min(gpus, 1), tasks_per_node=1,
                         cpus_per_task=int((slurm or {}).get("cpus_per_task", 8)),
                         slurm_array_parallelism=int((slurm or {}).get("array_parallelism", 64)),
                         **{k: v for k, v in (slurm or {}).items() if k.startswith("slurm_")})
    return ex


def launch(tasks: list[Task], plan_path: Path, *, launcher: str = "local", gpus: int = 0, pack: int = 1,
           workers: int | None = None, timeout_min: int = 60 * 24, slurm: dict | None = None,
           stack: int = 1, log=print) -> dict:
    """Run ``tasks`` to completion with ``launcher``; returns {run: state} merged over the workers."""
    if launcher not in LAUNCHERS:
        raise ValueError(f"launcher {launcher!r} must be one of {LAUNCHERS}")
    pending = [t for t in tasks if task_state(t) not in ("done", "diverged")]
    write_plan(tasks, plan_path)
    if not pending:
        log(f"all {len(tasks)} runs are done; nothing to train")
        return {f"{t.label} s{t.seed}": task_state(t) for t in tasks}
    log(f"{len(pending)} of {len(tasks)} runs to train or evaluate ({len(tasks) - len(pending)} done)")
    if launcher == "inline":
        return worker(str(plan_path), 0, 0, stack)
    n_workers = workers or (max(gpus, 1) * max(pack, 1) if gpus else 1)
    n_workers = max(1, min(n_workers, len(pending)))
    threads = max(1, (os.cpu_count() or 1) // n_workers)
    folder = plan_path.parent / "submitit"
    jobs = []
    if launcher == "local" and gpus:
        import submitit

        for i in range(n_workers):  # one executor per GPU binding: worker i sees GPU i mod gpus
            ex = submitit.LocalExecutor(folder=str(folder))
            ex.update_parameters(timeout_min=timeout_min, gpus_per_node=1, visible_gpus=[i % gpus])
            jobs.append(ex.submit(worker, str(plan_path), i, threads, stack))
    else:
        ex = _executor(launcher, folder, gpus, timeout_min, slurm)
        if launcher == "slurm":
            jobs = ex.map_array(worker, [str(plan_path)] * n_workers, list(range(n_workers)), [0] * n_workers,
                                [stack] * n_workers)
        else:
            jobs = [ex.submit(worker, str(plan_path), i, threads, stack) for i in range(n_workers)]
    log(f"{launcher}: {len(jobs)} worker job(s) ({', '.join(str(j.job_id) for j in jobs)}); logs in {folder}")
    states: dict = {}
    for job in jobs:
        try:
            states.update(job.result())
        except Exception as err:  # a worker that died: its runs are retried by the next call
            print(f"worker job {job.job_id} failed: {str(err).splitlines()[-1] if str(err) else err!r}",
                  file=sys.stderr)
    return {f"{t.label} s{t.seed}": task_state(t) for t in tasks}
