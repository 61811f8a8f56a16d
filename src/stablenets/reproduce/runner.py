"""``reproduce(entry)``: plan the runs, train what is missing, evaluate, aggregate, report.

    from stablenets.reproduce.runner import reproduce
    result = reproduce("C-table1", scale="small", data_root="../shared/data")
    result["paths"]["table.md"]

Everything a run needs is checked before any work: the scale, the presets (a preset that issue
"models as published" has not added yet is named), every run's training settings and the
evaluation protocol. Output layout (``out`` defaults to ``runs/reproduce/<scale>``)::

    <out>/runs/<model>-<hash>-s<seed>/       one training run (shared between entries)
    <out>/<entry>/plan.json                  the tasks, for the workers
    <out>/<entry>/{table.md, table.json, figure.png, report.html}
    <out>/<entry>.code/                      the same under the ``code`` protocol (the authors' public code)
    <out>/<entry>.both/                      paper and code side by side (``protocol="both"``)

A run's folder is named by the hash of its training settings, so a ``code`` run whose training
differs from the paper's (another normalisation, weight decay …) gets its own folder, and one whose
differences touch only the report (the best epoch) shares the paper's run. Every report records the
final-epoch and the best-epoch test accuracy of each row (``accuracy`` in table.json).
"""
from __future__ import annotations

import copy
import json
import math
import time
from pathlib import Path

from stablenets.data.info import TEST_POINTS
from stablenets.reproduce import analyses, report as rep
from stablenets.reproduce.jobs import SUMMARY, Task, digest, evaluation_suite, task_state, transfer_spec
from stablenets.reproduce.cross_run import ensemble_runs, failed, transfer_runs
from stablenets.reproduce.launch import launch
from stablenets.reproduce.registry import (Entry, Run, check_protocol, code_differences, expand_runs, get_entry,
                                           protocol_of, report_settings)
from stablenets.reproduce.repair import repair_runs
from stablenets.reproduce.verdicts import Evidence

__all__ = ["reproduce", "plan_tasks", "missing_presets", "entry_status", "default_out", "entry_dir", "epoch_accuracy"]


def default_out(scale: str) -> Path:
    return Path("runs") / "reproduce" / scale


def entry_dir(out: Path, entry_id: str, protocol: str = "paper") -> Path:
    """The report folder of an entry under ``protocol`` (paper, code or both)."""
    return Path(out) / (entry_id if protocol == "paper" else f"{entry_id}.{protocol}")


def epoch_accuracy(run_dir: Path) -> dict | None:
    """{"final", "best", "best_epoch"} test accuracy (fractions) from a run's metrics.jsonl, or None."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return None
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r.get("test_acc") is not None]
    if not rows:
        return None
    best = max(rows, key=lambda r: r["test_acc"])
    return {"final": float(rows[-1]["test_acc"]), "best": float(best["test_acc"]), "best_epoch": best.get("epoch")}


def missing_presets(entry: Entry, scale: str = "paper", protocol: str = "paper") -> list[str]:
    """Model presets an entry's runs name that the library does not have (yet)."""
    from stablenets.models import list_models

    known = set(list_models())
    return sorted({r.model for r in expand_runs(entry, scale, protocol=protocol)} - known)


def _smoke_config(config: dict) -> dict:
    from stablenets.training.config import config_from_dict, config_to_dict
    from stablenets.training.scale import smoke

    from stablenets.models import get_preset
    from stablenets.models.registry import resolve_arguments

    cfg = smoke(config_from_dict(config).validate())
    preset = get_preset(cfg.model.name)
    kept = {}
    ordered = sorted(cfg.model.overrides.items(), key=lambda kv: kv[0] != "scheme")  # the scheme first
    for key, value in ordered:  # the smallest family member may lack a setting (a width): drop just that
        try:
            resolve_arguments(preset, 10, {**kept, key: value})
            kept[key] = value
        except ValueError:
            continue
    cfg.model.overrides = kept
    return config_to_dict(cfg)


def _trains(entry: Entry) -> bool:
    return entry.kind != "paper-only" and entry.analysis.get("train", True) is not False and entry.trains


def plan_tasks(entry: Entry, scale: str, seeds=None, out: Path | None = None, data_root=None,
               verify: bool = True, run_protocol: str = "paper") -> tuple[list[Run], list[Task]]:
    """The entry's runs and their tasks under ``run_protocol`` (paper or code), every setting checked (one
    ValueError naming the first problem)."""
    from stablenets.training.config import config_from_dict

    runs = expand_runs(entry, scale, seeds, run_protocol)
    if not _trains(entry):
        return runs, []
    missing = missing_presets(entry, scale, run_protocol)
    if missing:
        raise ValueError(f"{entry.id} needs model preset(s) the library does not have yet: {', '.join(missing)} "
                         f"(issue 'Models as published' adds them); `stablenets reproduce list` marks such entries")
    protocol = protocol_of(entry, scale, run_protocol)
    if scale == "smoke":
        protocol = dict(protocol, smoke=True, n=min(int(protocol.get("n", 0) or 0), 16))
    if protocol.get("suite") and (protocol.get("attacks") or protocol.get("noise")):
        evaluation_suite(protocol)  # unknown attacks / settings fail here, before any training
    out = Path(out or default_out(scale))
    tasks = []
    for run in runs:
        config = copy.deepcopy(run.config)
        try:  # the model takes its data set and every setting, under either protocol, before any work
            config_from_dict(config).validate()
            _check_model(config)
        except ValueError as err:
            raise ValueError(f"{entry.id} run {run.label!r} ({run_protocol} protocol): {err}") from None
        if scale == "smoke":
            config = _smoke_config(config)
        tasks.append(Task(entry=entry.id, label=run.label, seed=run.seed, config=config, protocol=protocol,
                          scale=scale, out=str(out), data_root=None if data_root is None else str(data_root),
                          verify=verify))
    return runs, tasks


def _check_model(config: dict) -> None:
    """The run's model settings resolve as the trainer will pass them with the run's data set: a code
    difference naming a setting the preset lacks, or a scale's budget that puts a text model on images,
    fails here, before any work."""
    from stablenets.data.info import dataset_info
    from stablenets.models import get_preset
    from stablenets.models.registry import resolve_arguments

    info = dataset_info(config.get("data", {}).get("dataset", "cifar10"))
    kwargs = {}
    if info.kind == "image":
        kwargs = dict(in_channels=info.in_channels, image_size=info.image_size, mean=info.mean, std=info.std)
    kwargs.update(config["model"].get("overrides", {}))
    resolve_arguments(get_preset(config["model"]["name"]), info.num_classes, kwargs)


def entry_status(entry: Entry, scale: str, out: Path | None = None, protocol: str = "paper") -> str:
    """"-" (nothing), "k/n runs" or "report" for ``stablenets reproduce list``."""
    out = Path(out or default_out(scale))
    if (entry_dir(out, entry.id, protocol) / "table.json").is_file():
        return "report"
    try:
        _, tasks = plan_tasks(entry, scale, out=out, run_protocol=protocol)
    except ValueError:
        return "-"
    if not tasks:
        return "-"
    done = sum(task_state(t) in ("done", "diverged") for t in tasks)
    return f"{done}/{len(tasks)} runs" if done else "-"


def _test_points(task: Task | None, summary: dict | None) -> int | None:
    """The test points behind a run's per-epoch test accuracy."""
    from stablenets.data.info import test_points

    subset = int(((task.config if task is not None else {}).get("data") or {}).get("test_subset") or 0)
    whole = test_points((summary or {}).get("dataset", ""))
    return min(subset, whole) if subset and whole else (subset or whole)


def _per_seed_metrics(entry: Entry, scale: str, task: Task | None, run: Run, analysis: dict,
                      seed_index: int, accuracy: str = "final") -> tuple[dict, dict]:
    """({metric key: value in the paper's units}, {metric key: {"n", "outcomes", "exact"}}) for one run
    (one seed): the value, and what its uncertainty is made of. ``accuracy="best"`` reads the test accuracy
    of ``final:test_acc`` columns at the best epoch instead of the last."""
    out: dict = {}
    info: dict = {}
    epochs = epoch_accuracy(task.run_dir) if task is not None and accuracy == "best" else None
    flat = None
    outcomes: dict = {}
    n_eval = None
    summary = None
    if task is not None and (task.run_dir / SUMMARY).is_file():
        summary = json.loads((task.run_dir / SUMMARY).read_text())
    for metric in entry.metrics:
        source, _, key = metric["from"].partition(":")
        scale_by = rep.metric_scale(metric)
        value = None
        what = {"n": None, "outcomes": None, "exact": False}
        if source == "final" and summary and summary.get("final"):
            final = summary["final"]
            value = (final.get("train_acc", 0) - final.get("test_acc", 0)) if key == "gap" else final.get(key)
            if key == "test_acc" and epochs is not None:
                value = epochs["best"]
            if key.startswith("test_"):
                what["n"] = _test_points(task, summary)
        elif source == "curve" and task is not None and (task.run_dir / "metrics.jsonl").is_file():
            name, _, epoch = key.partition("@")
            rows = [json.loads(l) for l in (task.run_dir / "metrics.jsonl").read_text().splitlines() if l.strip()]
            at = int(entry.budget(scale).get("metrics_at", epoch))
            chosen = [r for r in rows if r.get("epoch") == at] or rows[-1:]
            value = chosen[0].get(name) if chosen else None
            if name.startswith("test_"):
                what["n"] = _test_points(task, summary)
        elif source == "eval" and task is not None:
            if flat is None:
                flat = {}
                if task.eval_path is not None and task.eval_path.is_file():
                    result = json.loads(task.eval_path.read_text())
                    flat.update(rep.flatten_eval(result))
                    outcomes = rep.flatten_outcomes(result)
                    n_eval = result.get("n")
                transfer = task.run_dir / f"transfer-{digest(transfer_spec(task.protocol))}.json"
                if transfer.is_file():
                    t_result = json.loads(transfer.read_text())
                    flat.update(rep.flatten_eval({"transfer": t_result}))
                    outcomes.update(rep.flatten_outcomes({"transfer": t_result}))
            value = rep.lookup(flat, key)
            what["n"] = n_eval
            what["outcomes"] = rep.lookup(outcomes, key) if "*" not in key else None
        elif source == "preflight" and task is not None and task.eval_path is not None and task.eval_path.is_file():
            value = (json.loads(task.eval_path.read_text()).get("preflight") or {}).get("values", {}).get(key)
        elif source == "model":
            value = analyses.model_metric(run.config, key)
            what["exact"] = True
        elif source == "analysis":
            got = (analysis.get(run.label) or {}).get(key)
            value = got[seed_index] if isinstance(got, list) and seed_index < len(got) else got
            what["exact"] = entry.analysis.get("train") is False
        elif source in ("ensemble", "diff"):
            continue  # filled in after the ensembles are evaluated; derived from the other columns below
        if isinstance(value, list):
            value = value[0] if value else None
        out[metric["key"]] = None if value is None else float(value) * scale_by
        info[metric["key"]] = what
    for metric in entry.metrics:
        if metric["from"].startswith("diff:"):
            out[metric["key"]] = rep.derived_value(metric, out)
            parts = metric["from"].partition(":")[2].split(",")
            # a difference of two columns has no single test-set sample behind it: its spread is over seeds
            info[metric["key"]] = {"n": None, "outcomes": None,
                                   "exact": all((info.get(k) or {}).get("exact") for k in parts)}
    return out, info
    return out


def _evidence(row: dict, metrics: list[dict], stat: str) -> dict:
    """{metric key: Evidence} of one row from its seeds' values and what stands behind them."""
    out = {}
    for m in metrics:
        key = m["key"]
        pairs = [(s.get(key), i.get(key) or {}) for s, i in zip(row["seeds"], row["info"]) if s.get(key) is not None]
        if not pairs:
            continue
        ns = {what.get("n") for _, what in pairs}
        n = ns.pop() if len(ns) == 1 else None
        packed = [what.get("outcomes") for _, what in pairs]
        outcomes = None
        if n and all(packed):
            from stablenets.evaluation.summary import unpack_outcomes

            outcomes = tuple(tuple(unpack_outcomes(p, n)) for p in packed)
        out[key] = Evidence(values=tuple(v for v, _ in pairs), n=n, scale=rep.metric_scale(m), outcomes=outcomes,
                            exact=all(what.get("exact") for _, what in pairs), stat=stat)
    return out


def reproduce(entry_id: str, scale: str = "small", seeds=None, *, launcher: str = "local", gpus: int = 0,
              pack: int = 1, workers: int | None = None, out: str | Path | None = None, data_root=None,
              verify: bool = True, slurm: dict | None = None, stack: int = 1, log=print, protocol: str = "paper") -> dict:
    """Train what is missing, evaluate, aggregate and write the entry's report; returns {"report", "paths",
    "unfinished"}. ``protocol``: "paper" (as the paper states), "code" (as the authors' public code ran it)
    or "both" (each, then the two side by side in ``<out>/<entry>.both/``)."""
    if protocol != "both":
        check_protocol(protocol)
    entry = get_entry(entry_id)
    out = Path(out or default_out(scale))
    which = ("paper", "code") if protocol == "both" else (protocol,)
    for name in which:  # every run of every protocol checked before any work
        plan_tasks(entry, scale, seeds, out, data_root, verify, name)
    kwargs = dict(launcher=launcher, gpus=gpus, pack=pack, workers=workers, data_root=data_root, verify=verify,
                  slurm=slurm, stack=stack, log=log)
    results = {name: _reproduce(entry, scale, seeds, out, name, **kwargs) for name in which}
    if protocol != "both":
        return results[protocol]
    report = rep.side_by_side(results["paper"]["report"], results["code"]["report"])
    paths = rep.write_report(report, entry_dir(out, entry.id, "both"))
    index = rep.write_index(out)
    if index is not None:
        paths["index.html"] = index
    log(f"{entry.id} ({scale}): paper and code protocols side by side -> {paths['table.md']}")
    return {"report": report, "paths": paths, "parts": results,
            "unfinished": results["paper"]["unfinished"] + results["code"]["unfinished"]}


def _reproduce(entry: Entry, scale: str, seeds, out: Path, protocol: str, *, launcher: str, gpus: int, pack: int,
               workers: int | None, data_root, verify: bool, slurm: dict | None, stack: int, log) -> dict:
    started = time.perf_counter()
    runs, tasks = plan_tasks(entry, scale, seeds, out, data_root, verify, protocol)
    folder = entry_dir(out, entry.id, protocol)
    reading = report_settings(entry, protocol)
    if tasks:
        repair_runs([t.run_dir for t in tasks], log)  # a damaged file is named, rebuilt or redone, before it is read
        launch(tasks, folder / "plan.json", launcher=launcher, gpus=gpus, pack=pack, workers=workers,
               slurm=slurm, stack=stack, log=log)
        transfer_runs(entry, tasks, log)
    task_of = {(t.label, t.seed): t for t in tasks}
    exclude = bool(entry.protocol.get("exclude_failed", False))
    labels_trained: dict[str, list[Path]] = {}
    for t in tasks:
        if task_state(t) == "done" and not failed(t, exclude):
            labels_trained.setdefault(t.label, []).append(t.run_dir)
    analysis, drawn = analyses.run_analysis(entry, scale, labels_trained, data_root, verify)
    ensembles = ensemble_runs(entry, tasks, folder, log)
    # Rows in registry order; per row, one metric dict per seed.
    rows: dict[str, dict] = {}
    for run in runs:
        row = rows.setdefault(run.label, {"label": run.label, "series": run.series, "x": run.x, "seeds": [],
                                          "info": [], "failed": 0, "runs": 0, "epochs": []})
        task = task_of.get((run.label, run.seed))
        row["runs"] += 1
        if failed(task, exclude):
            row["failed"] += 1
            continue
        seed_index = len(row["seeds"])
        metrics, info = _per_seed_metrics(entry, scale, task, run, analysis, seed_index, reading["accuracy"])
        if task is not None and task_state(task) != "done":
            metrics = {k: None for k in metrics}
        row["seeds"].append(metrics)
        row["info"].append(info)
        epochs = epoch_accuracy(task.run_dir) if task is not None and task_state(task) == "done" else None
        if epochs is not None:
            row["epochs"].append(epochs)
    if not runs and analysis:  # analysis-only entries (an IVP): rows are the analysis' own
        for label, numbers in analysis.items():
            row = {"label": label, "series": entry.analysis.get("series", "explicit Euler"),
                   "x": numbers.get("h"), "seeds": [], "failed": 0, "runs": 1,
                   "info": [{m["key"]: {"exact": True} for m in entry.metrics}]}
            row["seeds"].append({m["key"]: (None if numbers.get(m["from"].partition(":")[2]) is None else
                                            float(numbers[m["from"].partition(":")[2]]) * rep.metric_scale(m))
                                 for m in entry.metrics})
            rows[label] = row
    for label, flat in ensembles.items():
        ens = {"label": f"{label}, ens", "series": "ensemble", "x": None, "failed": 0, "runs": 1, "seeds": [{}],
               "info": [{}]}
        for metric in entry.metrics:
            source, _, key = metric["from"].partition(":")
            if source == "eval":
                got = rep.lookup(flat, key)
                ens["seeds"][0][metric["key"]] = None if got is None else got * rep.metric_scale(metric)
        rows[ens["label"]] = ens
    gains = {}
    for label in ensembles:
        single = rows[label]["seeds"]
        for metric in entry.metrics:
            if metric["from"].startswith("ensemble:"):
                base = metric["from"].partition(":")[2]
                ens_v = rows[f"{label}, ens"]["seeds"][0].get(base)
                singles = [s.get(base) for s in single if s.get(base) is not None]
                if ens_v is not None and singles:
                    gains[label] = ens_v - sum(singles) / len(singles)
                    for s in single:
                        s[metric["key"]] = gains[label]
    paper = rep.paper_rows(entry, runs)
    for label in paper:  # rows the paper reports that we do not run (literature rows, ensembles not built)
        if label not in rows:
            rows[label] = {"label": label, "series": None, "x": None, "seeds": [], "info": [], "failed": 0, "runs": 0}
    stat = reading["stat"]
    table_rows, ours_values, paper_values, series, evidence = [], {}, {}, {}, {}
    for label, row in rows.items():
        stats = rep.row_stats(row["seeds"], entry.metrics)
        evidence[label] = _evidence(row, entry.metrics, stat)
        for key, ev in evidence[label].items():  # what stands behind the row's number, for the table
            stats[key]["test_points"] = ev.n
            stats[key]["exact"] = ev.exact
            parts = [v for v in (ev.seed_var, ev.test_var) if v is not None]
            stats[key]["se"] = math.sqrt(sum(parts)) if parts and ev.k > 0 else None
        p = paper.get(label, {})
        delta = {}
        for m in entry.metrics:
            o = stats.get(m["key"]) or {}
            if "mean" in o and m["key"] in p:
                delta[m["key"]] = o.get(stat, o["mean"]) - p[m["key"]]["mean"]
        table_rows.append({"label": label, "series": row["series"], "x": row["x"], "ours": stats, "paper": p,
                           "delta": delta, "failed": row["failed"], "runs": row["runs"],
                           "accuracy": _accuracy_stats(row.get("epochs", []))})
        ours_values[label] = {k: (s.get(stat, s.get("mean")) if s.get("n") else None) for k, s in stats.items()}
        paper_values[label] = {k: c["mean"] for k, c in p.items()}
        if row["series"] is not None:
            series.setdefault(row["series"], []).append((row["x"], label))
    # The whole test set of the data the runs were scored on bounds what "a larger test set" can mean.
    test_sets = {str(t.config.get("data", {}).get("dataset")) for t in tasks}
    population = TEST_POINTS.get(test_sets.pop()) if len(test_sets) == 1 else None
    ours_claims = rep.check_claims(entry, ours_values, series, evidence, paper=paper_values, population=population)
    paper_claims = rep.check_claims(entry, paper_values, series, paper=paper_values)  # exact: as printed
    claims = [{**ours_c, "paper_holds": paper_c["holds"]} for ours_c, paper_c in zip(ours_claims, paper_claims)]
    hardware, train_seconds = set(), 0.0
    for t in tasks:
        timing = t.run_dir / "timing.json"
        if timing.is_file():
            data = json.loads(timing.read_text())
            hardware.add(data.get("device", "?"))
            train_seconds += float(data.get("train_seconds", 0.0))
    datasets = sorted({json.loads((t.run_dir / SUMMARY).read_text()).get("dataset", "?") for t in tasks
                       if (t.run_dir / SUMMARY).is_file()})
    note = entry.budget(scale).get("note", "") if scale in ("small", "demo") else (
        "smoke: 2 steps of 8 samples per run, the smallest member of each model family; checks the pipeline, "
        "not the claim" if scale == "smoke" else "")
    if not tasks and scale != "paper":
        note = "no training: the analysis is the same at every scale"
    if datasets and scale != "paper":
        note = (note + f" Data used: {', '.join(datasets)}.").strip()
    trains = _what_trains(tasks, datasets) if scale != "paper" else ""
    if not note and trains:
        note = f"{trains}; {entry.budget(scale).get('note') or 'see the entry for its budget'}"
    exact = not tasks and all(ev.exact for by_metric in evidence.values() for ev in by_metric.values())
    report = {"entry": entry.id, "title": entry.title, "source": entry.source, "claim": entry.claim,
              "kind": entry.kind, "scale": scale, "scale_note": note, "stat": stat, "exact": exact, "trains": trains,
              "seeds": sorted({t.seed for t in tasks}) or sorted({r.seed for r in runs}),
              "metrics": entry.metrics, "rows": table_rows, "claims": claims, "decisions": entry.decisions,
              "needs": entry.needs, "hardware": sorted(hardware), "train_seconds": train_seconds,
              "trained_runs": len(tasks), "wall_seconds": time.perf_counter() - started,
              "paper_failed": entry.paper_values.get("failed", {}),
              "protocol": protocol, "accuracy_read": reading["accuracy"], "code": _code_section(entry, runs, protocol)}
    curves = _curves(entry, tasks) if entry.draw.get("kind") == "curves" else {}
    paths = rep.write_report(report, folder, entry.draw, drawn, curves)
    index = rep.write_index(out)
    if index is not None:
        paths["index.html"] = index
    log(f"{entry.id} ({scale}, {protocol} protocol): " + "; ".join(f"{c['verdict']}: {c['text']}" for c in claims)
        + f" -> {paths['table.md']}")
    unfinished = [f"{t.label} s{t.seed}" for t in tasks if task_state(t) not in ("done", "diverged")]
    if unfinished:
        log(f"{entry.id}: {len(unfinished)} run(s) did not finish ({', '.join(unfinished[:5])}); "
            f"see the worker logs under {folder / 'submitit'}; rerun the same command to continue")
    return {"report": report, "paths": paths, "unfinished": unfinished}


def _accuracy_stats(epochs: list[dict]) -> dict:
    """Final-epoch and best-epoch test accuracy of a row over its seeds, in percent (mean, std, n)."""
    out = {}
    for which in ("final", "best"):
        values = [100.0 * e[which] for e in epochs]
        out[which] = rep.row_stats([{"acc": v} for v in values], [{"key": "acc"}]).get("acc", {}) if values else {}
    out["best_epoch"] = [e.get("best_epoch") for e in epochs]
    return out


def _code_section(entry: Entry, runs: list[Run], protocol: str) -> dict:
    """What the report says about the code protocol: the repository, and each difference with its source and the
    rows it changed (all of them listed under either protocol, so a paper report names what the code does)."""
    rows_of: dict[str, list[str]] = {}
    for run in runs:
        for name in run.differences:
            rows_of.setdefault(name, [])
            if run.label not in rows_of[name]:
                rows_of[name].append(run.label)
    differences = []
    for d in code_differences(entry):
        built = d.get("built", True)
        differences.append({"id": d["id"], "what": d["what"], "source": d["source"], "built": built,
                            "why": d.get("why", ""), "rows": rows_of.get(d["id"], []) if protocol == "code" else [],
                            "settings": {k: d[k] for k in ("train", "overrides", "protocol", "report", "models", "datasets")
                                         if k in d}})
    return {"repository": entry.code.get("repository", ""), "released": entry.code.get("released", False),
            "note": entry.code.get("note", ""), "differences": differences}


def _what_trains(tasks: list[Task], datasets: list[str]) -> str:
    """"resnet-20 on embedded-mnist": the models and data a scale really trains (its title is the paper's)."""
    models = list(dict.fromkeys(t.config["model"]["name"] for t in tasks))
    if not models:
        return ""
    shown = ", ".join(models[:4]) + (f" and {len(models) - 4} more" if len(models) > 4 else "")
    data = ", ".join(datasets) or ", ".join(dict.fromkeys(str(t.config.get("data", {}).get("dataset", "?"))
                                                          for t in tasks))
    return f"{shown} on {data}"


def _curves(entry: Entry, tasks: list[Task]) -> dict:
    metric = entry.draw.get("metric", "test_acc")
    curves: dict = {}
    for t in tasks:
        path = t.run_dir / "metrics.jsonl"
        if not path.is_file():
            continue
        rows = [json.loads(l) for l in path.read_text().splitlines() if l.strip()]
        c = curves.setdefault(t.label, {"epoch": [r["epoch"] for r in rows], "value": [r.get(metric) for r in rows]})
        if len(c["epoch"]) != len(rows):
            continue
    return curves
