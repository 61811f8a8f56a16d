"""Evaluations over several trained runs of an entry, after they are all done.

- :func:`transfer_runs`: a target run attacked with examples crafted on its source run (same
  seed), e.g. C-table4's black-box FGSM; written next to the target as ``transfer-<hash>.json``.
- :func:`ensemble_runs`: the seeds of one row averaged as one model (A-table6, A-fig3); written
  under the entry as ``ensemble-<hash>.json``.

Both are skipped when their file exists, so a rerun only evaluates what is new.
"""
from __future__ import annotations

import json
from pathlib import Path

from stablenets.atomic import write_text_atomic
from stablenets.evaluation.summary import pack_outcomes
from stablenets.reproduce import report as rep
from stablenets.reproduce.jobs import (DIVERGED, SUMMARY, Task, digest, evaluation_suite, load_test_set, task_state,
                                       transfer_spec)
from stablenets.reproduce.registry import Entry
from stablenets.reproduce.repair import set_aside

__all__ = ["transfer_runs", "ensemble_runs", "failed"]


def failed(task: Task | None, exclude_chance: bool = False) -> bool:
    """A run left out of the mean: diverged, or (``exclude_chance``, paper A Table 5) ended at chance."""
    if task is None:
        return False
    if (task.run_dir / DIVERGED).is_file():
        return True
    if exclude_chance and (task.run_dir / SUMMARY).is_file():
        final = (json.loads((task.run_dir / SUMMARY).read_text()).get("final") or {})
        from stablenets.data import dataset_info

        try:
            classes = dataset_info(task.config["data"]["dataset"]).num_classes
        except ValueError:
            classes = 10
        return final.get("test_acc", 1.0) <= 1.0 / classes + 0.01  # paper A: "failed ... final accuracy of 10%"
    return False


def transfer_runs(entry: Entry, tasks: list[Task], log) -> None:
    """Transfer attacks: each target run attacked with examples crafted on its source run (same seed)."""
    import torch

    from stablenets.attacks import get_attack, transfer
    from stablenets.checkpoint import load_model

    spec = transfer_spec(tasks[0].protocol) if tasks else None
    if not spec:
        return
    by_key = {(t.label, t.seed): t for t in tasks}
    runs = {r["label"]: r.get("source_run") for r in entry.runs}
    for t in tasks:
        source_label = runs.get(t.label)
        src = by_key.get((source_label, t.seed))
        path = t.run_dir / f"transfer-{digest(spec)}.json"
        if src is None or path.is_file() or task_state(t) != "done" or task_state(src) != "done":
            continue
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        target, _ = load_model(t.run_dir / "model.safetensors", device)
        source, _ = load_model(src.run_dir / "model.safetensors", device)
        dataset = json.loads((t.run_dir / SUMMARY).read_text()).get("dataset")
        x, y = load_test_set(dataset, t.data_root, int(t.protocol.get("n", 0)), t.verify)
        x, y = x.to(device), y.to(device)
        attack = get_attack(spec.get("attack", "fgsm"))
        kwargs = {k: v for k, v in spec.items() if k not in ("attack", "eps", "source", "alpha_ratio")}
        result = {"attack": spec.get("attack", "fgsm"), "source": src.label, "accuracy": {}}
        target.eval(), source.eval()
        for eps in spec["eps"]:
            flags = []
            for i in range(0, x.shape[0], 250):
                xa = transfer(source, target, x[i:i + 250], y[i:i + 250], attack, eps=float(eps), **kwargs)
                with torch.no_grad():
                    flags += (target(xa).argmax(1) == y[i:i + 250]).tolist()
            result["accuracy"][f"{float(eps):.6g}"] = sum(flags) / max(x.shape[0], 1)
            result.setdefault("outcomes", {})[f"{float(eps):.6g}"] = pack_outcomes(flags)
        write_text_atomic(path, json.dumps(result) + "\n")
        log(f"{entry.id} {t.label} seed {t.seed}: transfer from {src.label} -> {path}")


def ensemble_runs(entry: Entry, tasks: list[Task], out: Path, log) -> dict:
    """{label, ens: per-seed-like metric dict} for entries whose protocol asks for ensembles."""
    import torch

    from stablenets.evaluation import evaluate_robustness
    from stablenets.checkpoint import load_model
    from stablenets.checkpoint import Ensemble

    protocol = tasks[0].protocol if tasks else {}
    if not protocol.get("ensemble"):
        return {}
    results: dict = {}
    labels = list(dict.fromkeys(t.label for t in tasks))
    for label in labels:
        members = [t for t in tasks if t.label == label and task_state(t) == "done" and not failed(t)]
        if len(members) < 2:
            continue
        path = out / f"ensemble-{digest([str(t.run_dir) for t in members] + [protocol])}.json"
        if path.is_file():
            set_aside(path, "the ensemble is evaluated again", log)
        if not path.is_file():
            device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
            models = [load_model(t.run_dir / "model.safetensors", device)[0] for t in members]
            model = Ensemble(models).eval()
            dataset = json.loads((members[0].run_dir / SUMMARY).read_text()).get("dataset")
            x, y = load_test_set(dataset, members[0].data_root, int(protocol.get("n", 0)), members[0].verify)
            suite = evaluation_suite(protocol) if (protocol.get("attacks") or protocol.get("noise")) else None
            if suite is None:
                with torch.no_grad():
                    result = {"clean": float((model(x.to(device)).argmax(1).cpu() == y).float().mean())}
            else:
                result = evaluate_robustness(model, x, y, suite, progress=False)
            write_text_atomic(path, json.dumps(result, default=float) + "\n")
            log(f"{entry.id} {label}: ensemble of {len(members)} runs evaluated -> {path}")
        results[label] = rep.flatten_eval(json.loads(path.read_text()))
    return results
