"""What a run directory may hold, who may write it, and which settings a resume may change.

Rules, checked before any data is loaded:

- ``--out`` must be a folder (or not exist yet) and be writable: a probe file is written and removed.
- Without ``resume``, a folder holding any stablenets artefact (:data:`ARTEFACTS`, ``robustness-*``)
  is refused, so nothing a user made is written over.
- With ``resume``, the folder must hold a run (``config.json`` or ``train_state.pt``), and the
  settings may differ from the run's only in :data:`RESUMABLE` (more epochs, where the data
  lives, how the run is executed, what is evaluated afterwards). Every other difference is
  refused, naming the keys; every start of the run is recorded in ``history.jsonl`` with the
  settings it changed, so the folder always says how each epoch was trained.
- One process writes a run at a time: the holder of the run's lease
  (:class:`stablenets.training.lease.Lease`, shared with the reproduce workers; valid across hosts).
- Hidden ``.*.tmp`` files left by a write that was killed (see :mod:`stablenets.atomic`) are
  removed at the next start, under the lock.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from stablenets.atomic import TMP_SUFFIX, check_writable, write_text_atomic
from stablenets.checkpoint import MODEL_FILE, STATE_FILE

__all__ = ["ARTEFACTS", "RESUMABLE", "artefacts", "check_out_dir", "settings_changes", "check_resume",
           "clean_stale_tmp", "record_start", "flatten"]

ARTEFACTS = (MODEL_FILE, STATE_FILE, "config.json", "metrics.jsonl", "summary.json", "history.jsonl",
             "seeds.json", "demo.json")
RESUMABLE = ("run.epochs", "run.progress", "run.log_every", "run.finite_check_every", "run.compile",
             "run.compile_backend", "run.compile_mode", "run.amp", "run.channels_last", "data.root",
             "data.verify", "data.eval_batch_size", "description", "eval.")
HISTORY_FILE = "history.jsonl"


def artefacts(run_dir: Path) -> list[str]:
    """Names of the stablenets files in ``run_dir`` (sorted)."""
    if not run_dir.is_dir():
        return []
    return sorted(p.name for p in run_dir.iterdir()
                  if p.name in ARTEFACTS or (p.name.startswith("robustness-") and p.suffix in (".json", ".md")))


def check_out_dir(run_dir: Path, resume: bool) -> None:
    """Refuse a file, an unwritable folder, a folder of someone's results, or a resume of nothing."""
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"--out {run_dir} is a file, not a folder; give a folder for the run")
    found = artefacts(run_dir)
    has_run = (run_dir / "config.json").is_file() or (run_dir / STATE_FILE).is_file()
    if resume and not has_run:
        raise ValueError(f"--resume: {run_dir} holds no run to continue (no config.json or {STATE_FILE}); "
                         f"check the path, or start a new run without --resume")
    if not resume and found:
        raise ValueError(f"{run_dir} already holds stablenets files ({', '.join(found[:4])}"
                         f"{', …' if len(found) > 4 else ''}); pass --resume to continue that run, "
                         f"or choose another --out")
    check_writable(run_dir, "the run", "nothing was started")


def flatten(d: dict, prefix: str = "") -> dict:
    """{"a": {"b": 1}} -> {"a.b": 1} (free-form ``overrides`` dicts are flattened too)."""
    out = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def settings_changes(old: dict, new: dict) -> dict[str, tuple]:
    """{dotted key: (old value, new value)} for every setting that differs."""
    a, b = flatten(old), flatten(new)
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def _resumable(key: str) -> bool:
    return any(key == r or (r.endswith(".") and key.startswith(r)) for r in RESUMABLE)


def check_resume(run_dir: Path, new: dict, done_epochs: int) -> dict[str, tuple]:
    """The allowed changes of a resume against the run's ``config.json``; others are one ValueError."""
    path = run_dir / "config.json"
    if not path.is_file():
        return {}
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"{path} cannot be read ({err}); the run's settings are unknown, so it cannot be "
                         f"resumed safely") from None
    changes = settings_changes(old, new)
    refused = {k: v for k, v in changes.items() if not _resumable(k)}
    if refused:
        shown = "; ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in list(refused.items())[:6])
        raise ValueError(f"--resume {run_dir}: the settings differ from the run's ({shown}). A resume may change "
                         f"only {', '.join(r.rstrip('.') for r in RESUMABLE)}; start a new run in another "
                         f"--out for other settings")
    epochs = (new.get("run") or {}).get("epochs", 0)
    if epochs < done_epochs:
        raise ValueError(f"--resume {run_dir}: the run has completed {done_epochs} epochs; run.epochs={epochs} "
                         f"is fewer (give run.epochs ≥ {done_epochs})")
    return changes


def record_start(run_dir: Path, *, resume: bool, start_epoch: int, epochs: int, device: str,
                 changes: dict[str, tuple], git: str | None) -> None:
    """Append this start of the run to ``history.jsonl``."""
    path = run_dir / HISTORY_FILE
    lines = path.read_text() if path.is_file() else ""
    entry = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "resume": resume, "start_epoch": start_epoch,
             "epochs": epochs, "device": device, "git": git,
             "changed": {k: [a, b] for k, (a, b) in changes.items()}}
    write_text_atomic(path, lines + json.dumps(entry, default=str) + "\n")


def clean_stale_tmp(run_dir: Path) -> list[str]:
    """Remove the hidden temporary files a killed write left in ``run_dir``; their names."""
    removed = []
    for p in run_dir.glob(f".*{TMP_SUFFIX}"):
        if p.is_file():
            p.unlink()
            removed.append(p.name)
    return removed
