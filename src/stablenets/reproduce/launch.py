"""Fan the tasks of an entry out over processes, GPUs or a SLURM cluster with submitit.

One code path for every launcher: the plan (every task, as JSON) is written to
``<out>/<entry>/plan-<scale>.json``; ``workers`` submitit jobs each run :func:`worker`, which walks
the plan and claims one task at a time with the lease of its run directory
(:mod:`stablenets.training.lease`, the same lease the trainer holds while it writes). So

- ``local``: submitit's LocalExecutor starts the workers as processes on this machine, each bound
  to one GPU (``--gpus N`` × ``--pack K`` workers: several small runs share a GPU; a ResNet-20 run
  is host-bound on an H100) or, without GPUs, one worker;
- ``slurm``: the same workers as one SLURM job array (``--gpus`` per node, one GPU per task);
- ``inline``: the worker runs in this process (debugging, and the tests' fast path).

A lease names its holder and is kept alive by a heartbeat; one whose heartbeat stopped for longer
than its expiry (or whose process is gone, on the same machine) is taken over, so a sweep that was
killed or preempted resumes where it stopped: finished runs are skipped, the interrupted one resumes
from its checkpoint. Runs that another sweep holds are not trained twice: the launcher waits for
them (a line every :data:`WAIT_LOG_EVERY` seconds), and takes over any whose holder dies.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from stablenets.atomic import write_text_atomic
from stablenets.reproduce.jobs import Task, run_task, stack_groups, task_state, train_stack
from stablenets.training.lease import Lease, describe_holder

__all__ = ["write_plan", "worker", "Worker", "launch", "LAUNCHERS", "HELD"]

LAUNCHERS = ("local", "slurm", "inline")
HELD = "held by another worker"
FINISHED = ("done", "diverged")
SLURM_CPUS = 8  # CPU cores per array task unless --slurm-cpus-per-task says otherwise
WAIT_LOG_EVERY = 30.0  # seconds between the lines that say which runs another sweep is still training


def write_plan(tasks: list[Task], path: Path) -> Path:
    write_text_atomic(path, json.dumps([t.to_dict() for t in tasks], indent=1) + "\n")
    return path


def _train_stacks(tasks: list[Task], stack: int, log) -> None:
    """Take the leases of groups of new, stackable tasks and train each group as one stack (training/packed.py)."""
    for group in stack_groups(tasks, stack):
        leases = [Lease(t.run_dir) for t in group]
        held = [(t, lease) for t, lease in zip(group, leases) if task_state(t) == "new" and lease.acquire()]
        try:
            if len(held) > 1:
                train_stack([t for t, _ in held], log)
        finally:
            for _, lease in held:
                lease.release()


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
        lease = Lease(task.run_dir)
        if not lease.acquire():
            states[key] = HELD
            continue
        try:
            if lease.taken_over:
                log(f"{key}: took the run over from {describe_holder(lease.taken_over)}")
            states[key] = run_task(task, log=log)
        finally:
            lease.release()
    return states


class Worker:
    """:func:`worker` as a submitit job (``Worker()(plan_path, index, threads)``).

    - SIGTERM (``scancel``, ``scontrol requeue``, a preemption) stops it at once: the run in progress
      keeps its last epoch's checkpoint and its lease is given back, so a requeued task, a rerun or
      another worker resumes the run without waiting for the lease to expire.
    - ``checkpoint`` is submitit's hook: on SLURM's warning signal before the time limit, submitit calls
      it and requeues the same call; the requeued worker skips finished runs and resumes the others
      from their checkpoints (the state lives in the run folders, not in the worker).
    """

    def __call__(self, plan_path: str, index: int = 0, threads: int = 0, stack: int = 1) -> dict:
        import signal

        def stop(signum, frame):
            raise SystemExit(128 + signum)

        signal.signal(signal.SIGTERM, stop)
        return worker(plan_path, index, threads, stack)

    def checkpoint(self, *args, **kwargs):
        import submitit

        return submitit.helpers.DelayedSubmission(Worker(), *args, **kwargs)


def _squeue(job_ids: list[str]) -> set[str] | None:
    """The array tasks among ``job_ids`` that SLURM still holds (pending, running, requeued); None if unknown."""
    import subprocess

    arrays = sorted({j.split("_")[0] for j in job_ids})
    try:
        done = subprocess.run(["squeue", "-h", "-r", "-o", "%i", "-j", ",".join(arrays)], capture_output=True,
                              text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return set(done.stdout.split()) if done.returncode == 0 else None


def _wait_for_slurm(jobs, log) -> None:
    """Wait until every array task has a result or has left SLURM's queue (cancelled, failed).

    submitit's own wait asks ``sacct``, which needs SLURM's accounting database; the queue and the
    result files are enough, and a requeued task stays in the queue, so it is waited for."""
    last = time.monotonic()
    while True:
        waiting = [j for j in jobs if not j.paths.result_pickle.exists()]
        if not waiting:
            return
        queued = _squeue([str(j.job_id) for j in waiting])
        if queued is not None and not any(str(j.job_id) in queued for j in waiting):
            time.sleep(1)  # a task that just ended writes its result before it leaves the queue
            if not any(j.paths.result_pickle.exists() for j in waiting):
                return
        if time.monotonic() - last >= WAIT_LOG_EVERY:
            last = time.monotonic()
            log(f"slurm: {len(waiting)} of {len(jobs)} array task(s) queued or running")
        time.sleep(2)


def _executor(launcher: str, folder: Path, gpus: int, timeout_min: int, slurm: dict | None):
    import submitit

    if launcher == "local":
        ex = submitit.LocalExecutor(folder=str(folder))
        ex.update_parameters(timeout_min=timeout_min, gpus_per_node=min(gpus, 1))
        return ex
    ex = submitit.AutoExecutor(folder=str(folder), cluster="slurm")
    ex.update_parameters(timeout_min=timeout_min, gpus_per_node=min(gpus, 1), tasks_per_node=1,
                         cpus_per_task=int((slurm or {}).get("cpus_per_task", SLURM_CPUS)),
                         slurm_array_parallelism=int((slurm or {}).get("array_parallelism", 64)),
                         **{k: v for k, v in (slurm or {}).items() if k.startswith("slurm_")})
    return ex


def _run_workers(plan_path: Path, n_pending: int, *, launcher: str, gpus: int, pack: int, workers: int | None,
                 timeout_min: int, slurm: dict | None, log, stack: int = 1) -> None:
    """One round: start the workers on the plan and wait for them."""
    if launcher == "inline":
        worker(str(plan_path), 0, 0, stack)
        return
    n_workers = workers or (max(gpus, 1) * max(pack, 1) if gpus else 1)
    n_workers = max(1, min(n_workers, n_pending))
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
            cpus = int((slurm or {}).get("cpus_per_task", SLURM_CPUS))
            jobs = ex.map_array(Worker(), [str(plan_path)] * n_workers, list(range(n_workers)), [cpus] * n_workers,
                                [stack] * n_workers)
        else:
            jobs = [ex.submit(worker, str(plan_path), i, threads, stack) for i in range(n_workers)]
    log(f"{launcher}: {len(jobs)} worker job(s) ({', '.join(str(j.job_id) for j in jobs)}); logs in {folder}")
    if launcher == "slurm":
        _wait_for_slurm(jobs, log)
    for job in jobs:
        if launcher == "slurm" and not job.paths.result_pickle.exists():
            print(f"worker job {job.job_id} ended without a result (cancelled or killed); its log: "
                  f"{job.paths.stderr}", file=sys.stderr)
            continue
        try:
            job.result()
        except Exception as err:  # a worker that died: its runs are left for the next call
            print(f"worker job {job.job_id} failed: {str(err).splitlines()[-1] if str(err) else err!r}",
                  file=sys.stderr)


def _wait_for_others(held: list[Task], log) -> None:
    """Wait until one of the runs other processes hold is finished or free (its holder gone)."""
    poll = min(2.0, Lease(held[0].run_dir).interval)
    last = 0.0
    while True:
        holders = [(t, Lease(t.run_dir).holder()) for t in held]  # a Task is a mutable dataclass: no dict key
        if any(task_state(t) in FINISHED or h is None for t, h in holders):
            return
        if time.monotonic() - last >= WAIT_LOG_EVERY:
            last = time.monotonic()
            log(f"waiting for {len(held)} run(s) that another sweep is training: " + "; ".join(
                f"{t.label} s{t.seed} ({describe_holder(h)})" for t, h in holders[:4]))
        time.sleep(poll)


def launch(tasks: list[Task], plan_path: Path, *, launcher: str = "local", gpus: int = 0, pack: int = 1,
           workers: int | None = None, timeout_min: int = 60 * 24, slurm: dict | None = None,
           stack: int = 1, log=print) -> dict:
    """Run ``tasks`` to completion with ``launcher``; returns {run: state}.

    Workers train the runs no one holds; runs held by another process (a second sweep into the same
    folder) are waited for, and taken over by a new round of workers if their holder dies. A run that
    this call's workers tried and left unfinished (a worker failed, a job was cancelled) is left for
    the next call, which resumes it from its checkpoint.
    """
    if launcher not in LAUNCHERS:
        raise ValueError(f"launcher {launcher!r} must be one of {LAUNCHERS}")
    write_plan(tasks, plan_path)
    pending = [t for t in tasks if task_state(t) not in FINISHED]
    if not pending:
        log(f"all {len(tasks)} runs are done; nothing to train")
    else:
        log(f"{len(pending)} of {len(tasks)} runs to train or evaluate ({len(tasks) - len(pending)} done)")
    tried: set[Path] = set()
    while pending:
        free = [t for t in pending if Lease(t.run_dir).holder() is None]
        if any(t.run_dir not in tried for t in free):
            tried.update(t.run_dir for t in free)
            _run_workers(plan_path, len(free), launcher=launcher, gpus=gpus, pack=pack, workers=workers,
                         timeout_min=timeout_min, slurm=slurm, log=log, stack=stack)
        elif len(free) < len(pending):
            _wait_for_others([t for t in pending if t not in free], log)
        else:
            break
        pending = [t for t in tasks if task_state(t) not in FINISHED]
    return {f"{t.label} s{t.seed}": task_state(t) for t in tasks}
