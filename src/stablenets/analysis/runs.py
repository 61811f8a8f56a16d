"""Reading the run directories that :func:`stablenets.training.train` writes.

A run directory holds ``config.json`` (the resolved :class:`~stablenets.training.TrainConfig`:
sections model {name, overrides}, data {dataset, …}, run {seed, epochs, …}, mode {kind, …}) and
``metrics.jsonl`` (one JSON object per epoch; keys documented in
:mod:`stablenets.training.metrics`: epoch, step, lr, loss, train_acc, test_acc, test_top5, test_loss,
coefficients, and with run.log_norms weight_norms / grad_norms {parameter: norm}). A missing file
or key is one error naming it.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

__all__ = ["read_metrics", "read_config", "find_runs", "run_facts", "require"]


def require(row: dict, key: str, where: str, hint: str = ""):
    """``row[key]`` or a KeyError naming the key, the file, and what to do."""
    if key not in row:
        keys = ", ".join(sorted(row)) or "none"
        raise KeyError(f"{where} has no {key!r} (keys: {keys}){'; ' + hint if hint else ''}")
    return row[key]


def read_metrics(run_dir: str | Path) -> list[dict]:
    """The rows of ``<run_dir>/metrics.jsonl`` (at least one)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: give a run directory written by `stablenets train`")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not rows:
        raise ValueError(f"{path} is empty: the run has not finished an epoch yet")
    return rows


def read_config(run_dir: str | Path) -> dict:
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: give a run directory written by `stablenets train`")
    return json.loads(path.read_text())


def find_runs(paths: Iterable[str | Path]) -> list[Path]:
    """Run directories among ``paths``: each path that holds config.json, else those below it."""
    runs: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise FileNotFoundError(f"{p} does not exist")
        if (p / "config.json").is_file():
            runs.append(p)
        else:
            runs.extend(sorted(c.parent for c in p.rglob("config.json")))
    if not runs:
        raise FileNotFoundError(f"no run directories (with config.json) under {', '.join(map(str, paths))}")
    return runs


def _preset(name: str):
    from stablenets.models import get_preset

    try:
        return get_preset(name)
    except ValueError:
        return None


def run_facts(run_dir: str | Path) -> dict:
    """One run as flat facts: model, h, depth, seed, dataset, mode, epochs and the last epoch's accuracies.

    h comes from the model overrides, else the preset's scheme settings (Euler default 1.0);
    depth from the overrides, else the preset's facts (None for a preset this library does not know).
    """
    run_dir = Path(run_dir)
    cfg, last = read_config(run_dir), read_metrics(run_dir)[-1]
    where = str(run_dir / "config.json")
    model = require(cfg, "model", where)
    name = require(model, "name", where + " [model]")
    overrides = model.get("overrides") or {}
    preset = _preset(name)
    args = preset.args if preset is not None else {}
    scheme_args = dict(args.get("scheme_args") or {})
    h = overrides.get("h", scheme_args.get("h", 1.0 if args.get("scheme", "euler") == "euler" else None))
    depth = overrides.get("depth", preset.depth if preset is not None else None)
    mwhere = str(run_dir / "metrics.jsonl") + " (last line)"
    train_acc, test_acc = require(last, "train_acc", mwhere), require(last, "test_acc", mwhere)
    return {"run_dir": str(run_dir), "model": name, "h": None if h is None else float(h), "depth": depth,
            "seed": cfg.get("run", {}).get("seed"), "dataset": cfg.get("data", {}).get("dataset"),
            "mode": cfg.get("mode", {}).get("kind"), "epochs": last.get("epoch"),
            "train_acc": float(train_acc), "test_acc": float(test_acc), "gap": float(train_acc) - float(test_acc)}
