"""Damaged files in a sweep's run folders: found before the sweep reads them, named, rebuilt where the run
holds what they were made from.

A rerun of ``reproduce`` reads back every run's JSON files. A file that does not parse (a disk error, an
editor, a copy cut short) used to stop every rerun with a bare "Expecting value: line 1 column 1", naming
no file. :func:`repair_runs` checks each run folder the sweep will read, under the run's lease (a run that
another process is writing is left to it), and for each damaged file says in one line which it is and
what happened:

- ``summary.json`` is rebuilt from ``metrics.jsonl`` (its last line is the final row) and the checkpoint's
  metadata (the data set trained on, the epochs), exactly as the trainer writes it;
- ``eval-*.json``, ``transfer-*.json`` (evaluations) are moved aside to ``<name>.damaged`` and evaluated
  again from the checkpoint by this sweep;
- ``timing.json`` is moved aside; the report's training time then leaves that run out;
- ``metrics.jsonl`` (the per-epoch record) cannot be rebuilt: one :class:`DamagedFile` error names the file
  and the line, and says to restore it or to delete the run folder to train the run again.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from stablenets.atomic import write_text_atomic

__all__ = ["DamagedFile", "repair_runs", "repair_run", "read_json", "read_jsonl", "rebuild_summary", "set_aside"]

ASIDE = ".damaged"


class DamagedFile(ValueError):
    """A file of a run that cannot be read and cannot be rebuilt; the message names it and what to do."""


def _why(err: BaseException) -> str:
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def read_json(path: Path) -> dict:
    """The JSON object in ``path``; a file that is not one is a :class:`DamagedFile` naming it."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise DamagedFile(f"{path} is damaged ({_why(err)})") from None
    if not isinstance(value, dict):
        raise DamagedFile(f"{path} is damaged (it holds a {type(value).__name__}, not a JSON object)")
    return value


def read_jsonl(path: Path) -> list[dict]:
    """The JSON objects of ``path``, one a line; a line that is not one is a :class:`DamagedFile`."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as err:
            raise DamagedFile(f"{path} line {number} is damaged ({_why(err)})") from None
        if not isinstance(row, dict):
            raise DamagedFile(f"{path} line {number} is damaged (not a JSON object)")
        rows.append(row)
    return rows


def rebuild_summary(run_dir: Path, rows: list[dict]) -> dict:
    """``summary.json`` as the trainer writes it, from the metrics rows and the checkpoint's metadata."""
    from stablenets.checkpoint import read_meta

    meta = read_meta(run_dir)
    config = meta.get("config") or {}
    summary = {"run_dir": str(run_dir), "dataset": meta.get("dataset"),
               "epochs": (config.get("run") or {}).get("epochs", meta.get("epoch")), "final": rows[-1] if rows else None}
    write_text_atomic(run_dir / "summary.json", json.dumps(summary, indent=2, default=float) + "\n")
    return summary


def set_aside(path: Path, then: str, log=print) -> bool:
    """Whether ``path`` is a readable JSON object; if it is damaged, it is renamed to ``<name>.damaged``
    and ``log`` says so in one line ending with ``then`` (what happens instead)."""
    try:
        read_json(path)
        return False
    except DamagedFile as err:
        aside = path.with_name(path.name + ASIDE)
        os.replace(path, aside)
        log(f"{err}; kept as {aside.name}; {then}")
        return True


def repair_run(run_dir: Path, log=print) -> None:
    """Check the files of one run folder (see the module docstring); the caller holds its lease."""
    from stablenets.checkpoint import MODEL_FILE

    metrics = run_dir / "metrics.jsonl"
    try:
        rows = read_jsonl(metrics) if metrics.is_file() else []
    except DamagedFile as err:
        raise DamagedFile(f"{err}: the per-epoch record cannot be rebuilt; restore the file, or delete {run_dir} "
                          f"to train that run again") from None
    summary = run_dir / "summary.json"
    if summary.is_file():
        try:
            read_json(summary)
        except DamagedFile as err:
            if not rows or not (run_dir / MODEL_FILE).is_file():
                raise DamagedFile(f"{err}; the run holds no metrics and checkpoint to rebuild it from: delete "
                                  f"{run_dir} to train that run again") from None
            rebuild_summary(run_dir, rows)
            log(f"{err}; rebuilt from metrics.jsonl and the checkpoint")
    for path in sorted([*run_dir.glob("eval-*.json"), *run_dir.glob("transfer-*.json")]):
        set_aside(path, "it is evaluated again from the checkpoint", log)
    timing = run_dir / "timing.json"
    if timing.is_file():
        set_aside(timing, "the report's training time leaves this run out", log)


def repair_runs(run_dirs, log=print) -> None:
    """:func:`repair_run` on every existing run folder whose lease is free (a held one is being written)."""
    from stablenets.training.lease import Lease

    for run_dir in dict.fromkeys(Path(d) for d in run_dirs):
        if not run_dir.is_dir():
            continue
        lease = Lease(run_dir)
        if not lease.acquire():
            continue
        try:
            repair_run(run_dir, log)
        finally:
            lease.release()
