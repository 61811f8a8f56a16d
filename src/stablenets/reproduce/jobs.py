"""One task of a reproduction: train a run (or resume it), then evaluate it with the entry's protocol.

A task is plain JSON (``Task.to_dict``) so that a launcher can ship it to another process or a
SLURM node. Its run directory is named by the hash of the resolved training settings, so two
entries that train the same model the same way (C-table3 and C-table4, E-table3 and E-table6)
share one run, and a finished run is never trained twice:

    <out>/runs/<model>-<hash>-s<seed>/   config.json, metrics.jsonl, model.safetensors, train_state.pt,
                                         summary.json (training done), diverged.json (loss became
                                         non-finite: recorded, the sweep goes on), eval-<hash>.json

``run_task`` is idempotent: a trained run is not retrained, an evaluated protocol is not
re-evaluated, an interrupted run resumes from its last checkpoint.
"""
from __future__ import annotations

import copy
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from stablenets.atomic import write_text_atomic

__all__ = ["Task", "run_task", "stack_groups", "train_stack", "transfer_spec", "task_state", "digest", "resolved_config", "evaluation_suite", "load_test_set",
           "EVAL_PREFIX", "DIVERGED", "SUMMARY"]

EVAL_PREFIX = "eval-"
DIVERGED = "diverged.json"
SUMMARY = "summary.json"


def digest(obj) -> str:
    """A short stable hash of a JSON-able object."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:10]


@dataclass
class Task:
    """A run to train and the protocol to evaluate it with; ``run_dir`` follows from the config."""

    entry: str
    label: str
    seed: int
    config: dict                 # TrainConfig-compatible dict, scale already applied
    protocol: dict = field(default_factory=dict)
    scale: str = "paper"
    out: str = "runs/reproduce"
    data_root: str | None = None
    verify: bool = True

    @property
    def run_dir(self) -> Path:
        key = {k: v for k, v in self.config.items() if k not in ("experiment", "description")}
        model = self.config["model"]["name"]
        return Path(self.out) / "runs" / f"{model}-{digest(key)}-s{self.seed}"

    @property
    def eval_path(self) -> Path | None:
        if not _evaluates(self.protocol):
            return None
        return self.run_dir / f"{EVAL_PREFIX}{digest(_eval_key(self.protocol))}.json"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Task":
        return cls(**data)


def _eval_key(protocol: dict) -> dict:
    return {k: protocol.get(k) for k in ("suite", "attacks", "noise", "overrides", "n")}


def _evaluates(protocol: dict) -> bool:
    return bool(protocol.get("suite")) and bool(protocol.get("attacks") or protocol.get("noise")) \
        and int(protocol.get("n", 0) or 0) != 0


def resolved_config(task: Task):
    """The task's TrainConfig (data root and verification applied)."""
    from stablenets.training.config import config_from_dict

    data = copy.deepcopy(task.config)
    data.setdefault("data", {})
    if task.data_root is not None:
        data["data"]["root"] = str(task.data_root)
    if not task.verify:
        data["data"]["verify"] = False
    data.setdefault("run", {})["progress"] = False
    return config_from_dict(data).validate()


def task_state(task: Task) -> str:
    """"done", "diverged", "trained" (evaluation missing), "partial" (a checkpoint to resume) or "new"."""
    run = task.run_dir
    if (run / DIVERGED).is_file():
        return "diverged"
    if (run / SUMMARY).is_file():
        path = task.eval_path
        return "done" if path is None or path.is_file() else "trained"
    from stablenets.checkpoint.files import STATE_FILE

    return "partial" if (run / STATE_FILE).is_file() else "new"


def evaluation_suite(protocol: dict) -> dict:
    """The named suite with the protocol's overrides, keeping only its listed attacks and noise families."""
    from stablenets.evaluation import get_suite

    suite = get_suite(protocol["suite"], protocol.get("overrides") or {})
    keep_attacks = protocol.get("attacks")
    if keep_attacks is not None:
        missing = [a for a in keep_attacks if a not in suite["attacks"]]
        if missing:
            raise ValueError(f"suite {protocol['suite']!r} has no attack(s) {missing}; it has {sorted(suite['attacks'])}")
        suite["attacks"] = {k: v for k, v in suite["attacks"].items() if k in keep_attacks}
    keep_noise = protocol.get("noise")
    if keep_noise is not None:
        suite["noise"] = {k: v for k, v in suite["noise"].items() if k in keep_noise}
    suite["transfer"] = None  # crafted on another run: reproduce runs it after both are trained
    suite["diagnostics"] = dict(suite.get("diagnostics") or {}, enabled=bool(protocol.get("diagnostics", False)))
    suite["adaptive"] = dict(suite.get("adaptive") or {}, enabled=bool(protocol.get("diagnostics", False)))
    if protocol.get("smoke"):  # seconds, not a measurement: every attack at most 2 iterations, 8 samples
        for entry in suite["attacks"].values():
            for key, cap in (("steps", 2), ("restarts", 1), ("samples", 8), ("binary_search_steps", 1)):
                if isinstance(entry.get(key), int):
                    entry[key] = min(entry[key], cap)
        c10 = suite["noise"].get("cifar10c")
        if c10:
            c10["severities"] = c10["severities"][-1:]
    return suite


def transfer_spec(protocol: dict) -> dict | None:
    """The transfer attack of the protocol's suite (with its overrides), when the protocol asks for it."""
    if not protocol.get("transfer"):
        return None
    from stablenets.evaluation import get_suite

    return get_suite(protocol["suite"], protocol.get("overrides") or {}).get("transfer")


def load_test_set(dataset: str, root, n: int, verify: bool = True):
    """The first ``n`` test points of ``dataset`` as float images in [0, 1] (or codes / points)."""
    from stablenets.data import load

    local = dataset in ("moons", "embedded-mnist")
    x, y = load(dataset, None if local else root, split="test", **({} if local else {"verify": verify}))
    if n and n > 0:
        x, y = x[:n], y[:n]
    if x.dtype.is_floating_point is False and x.dim() == 4:
        x = x.float() / 255
    return x, y


def _train(task: Task, log) -> dict | None:
    from stablenets.training.scale import SMOKE_FALLBACK
    from stablenets.training.trainer import NonFiniteLossError, train

    from stablenets.training.rundir import artefacts

    cfg = resolved_config(task)
    run = task.run_dir
    # Called under the run's lease. A run killed before its first checkpoint resumes from epoch 0 when
    # its config.json was written (history.jsonl keeps the record of that start); otherwise the few
    # files of its start are removed one by one (never the folder: its lease lives there).
    resume = task_state(task) == "partial" or (run / "config.json").is_file()
    if not resume:
        for name in artefacts(run):
            (run / name).unlink()
    fallback = SMOKE_FALLBACK if task.scale == "smoke" else ""
    try:
        return train(cfg, run, device="auto", resume=resume, fallback=fallback, log=log)
    except NonFiniteLossError as err:
        write_text_atomic(run / DIVERGED, json.dumps({"epoch": err.epoch, "step": err.step,
                                                      "checkpoint": err.checkpoint, "message": str(err)}) + "\n")
        log(f"{task.entry} {task.label} seed {task.seed}: diverged ({err}); recorded, the sweep goes on")
        return None


def stack_groups(tasks: list[Task], stack: int) -> list[list[Task]]:
    """The new tasks that can train as one stack (training/packed.py), in groups of at most ``stack``."""
    from stablenets.training.packed import pack_key

    if stack < 2:
        return []
    groups: dict[str, list[Task]] = {}
    for task in tasks:
        if task_state(task) == "new":
            key = pack_key(task.config)
            if key is not None:
                groups.setdefault(key, []).append(task)
    return [group[i:i + stack] for group in groups.values() for i in range(0, len(group), stack)
            if len(group[i:i + stack]) > 1]


def train_stack(tasks: list[Task], log=print) -> None:
    """Train new ``tasks`` as one stack; each ends trained (summary.json, timing.json) or diverged."""
    from stablenets.training.packed import train_packed
    from stablenets.training.trainer import NonFiniteLossError

    from stablenets.training.rundir import artefacts

    for task in tasks:  # called under the runs' leases; new runs have no checkpoint: remove their start files
        if task_state(task) == "new" and task.run_dir.is_dir():
            for name in artefacts(task.run_dir):
                (task.run_dir / name).unlink()
    names = ", ".join(f"{t.label} s{t.seed}" for t in tasks)
    log(f"{tasks[0].entry}: training {len(tasks)} runs as one stack ({names})")
    t0 = time.perf_counter()
    from stablenets.training.scale import SMOKE_FALLBACK

    fallback = SMOKE_FALLBACK if tasks[0].scale == "smoke" else ""
    results = train_packed([resolved_config(t) for t in tasks], [t.run_dir for t in tasks], device="auto",
                           fallback=fallback, log=log)
    seconds = time.perf_counter() - t0
    for task, result in zip(tasks, results):
        if isinstance(result, NonFiniteLossError):
            write_text_atomic(task.run_dir / DIVERGED, json.dumps({
                "epoch": result.epoch, "step": result.step, "checkpoint": result.checkpoint,
                "message": str(result)}) + "\n")
            log(f"{task.entry} {task.label} seed {task.seed}: diverged ({result}); recorded, the sweep goes on")
            continue
        timing = {"train_seconds": seconds / len(tasks), "stack_seconds": seconds, "stacked_runs": len(tasks),
                  "device": _device_name()}
        write_text_atomic(task.run_dir / "timing.json", json.dumps(timing) + "\n")


def evaluate_run(task: Task, log=print) -> dict:
    """Evaluate the trained run of ``task`` with its protocol; writes and returns eval-<hash>.json."""
    import torch

    from stablenets.evaluation import evaluate_robustness
    from stablenets.checkpoint import load_model

    summary = json.loads((task.run_dir / SUMMARY).read_text())
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model, _ = load_model(task.run_dir / "model.safetensors", device)
    dataset = summary.get("dataset") or task.config["data"]["dataset"]
    x, y = load_test_set(dataset, task.data_root, int(task.protocol.get("n", 0)), task.verify)
    if not (x.is_floating_point() and x.dim() == 4):
        result = {"skipped": f"the {task.protocol['suite']} protocol attacks images; {dataset} is not images"}
    else:
        suite = evaluation_suite(task.protocol)
        t0 = time.perf_counter()
        result = evaluate_robustness(model.eval(), x, y, suite, batch_size=int(task.config["data"].get(
            "eval_batch_size", 500)), progress=False)
        result["seconds"] = time.perf_counter() - t0
    result["dataset"] = dataset
    write_text_atomic(task.eval_path, json.dumps(result, indent=1, default=float) + "\n")
    log(f"{task.entry} {task.label} seed {task.seed}: evaluated -> {task.eval_path}")
    return result


def _device_name() -> str:
    import platform

    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def run_task(task: Task, log=print) -> str:
    """Bring ``task`` to "done" (or "diverged"); returns the state it ends in."""
    state = task_state(task)
    if state in ("done", "diverged"):
        return state
    t0 = time.perf_counter()
    if state in ("new", "partial"):
        log(f"{task.entry} {task.label} seed {task.seed}: {'resuming' if state == 'partial' else 'training'} "
            f"in {task.run_dir}")
        if _train(task, log) is None:
            return "diverged"
        timing_path = task.run_dir / "timing.json"
        before = json.loads(timing_path.read_text()).get("train_seconds", 0.0) if timing_path.is_file() else 0.0
        timing = {"train_seconds": before + time.perf_counter() - t0, "device": _device_name()}
        write_text_atomic(timing_path, json.dumps(timing) + "\n")
    if task.eval_path is not None and not task.eval_path.is_file():
        evaluate_run(task, log)
    return task_state(task)
