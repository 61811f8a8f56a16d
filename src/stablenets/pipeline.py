"""The pipeline: configuration → data → model → training → checkpoint → evaluation → report, in one direction.

    from stablenets.experiments import load_config
    cfg = prepare(load_config("c-cifar10-ie-resnet-18-pgd10"), scale="smoke")  # checked before any work
    summary = train_and_evaluate(cfg, "runs/ie", device="cpu")               # train, load, evaluate, report
    summary = run_seeds(cfg, "runs/ie", [0, 1, 2])                             # per seed, then mean ± std
    result, paths = evaluate_checkpoints(["runs/ie/seed-0"], suite="C", n=1000)  # load, evaluate, report

Each stage takes what the previous one returns and nothing else: training ends at its
checkpoint files, the evaluation loads the model from those files (:mod:`stablenets.checkpoint`)
and its test points from :mod:`stablenets.data`, and the numbers carried into summaries come from
:func:`stablenets.evaluation.summary.headline_numbers`. ``stablenets train`` and ``stablenets
evaluate`` call these functions (as will ``stablenets reproduce``).

Guarantees added here: every setting of training and of the evaluation suite is checked before
the first run starts; an evaluation checks that its report folder is writable, and that it would
not replace an earlier report, before it loads anything; a seed whose training diverges is
recorded as diverged in ``seeds.json`` (paper A counts such runs) and the remaining seeds still run.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from stablenets.atomic import check_writable, write_text_atomic
from stablenets.checkpoint import load_ensemble, load_model
from stablenets.data import dataset_info, load_test_points, to_model_input
from stablenets.evaluation import evaluate_robustness, get_suite, write_report
from stablenets.evaluation.smoke import smoke_overrides
from stablenets.evaluation.summary import headline_numbers
from stablenets.settings import SettingError
from stablenets.training import NonFiniteLossError, TrainConfig, check_settings, smoke, train
from stablenets.training import distributed as D
from stablenets.training.rundir import check_out_dir
from stablenets.training.scale import SCALES

__all__ = ["prepare", "train_and_evaluate", "run_seeds", "evaluate_checkpoints", "check_report_target",
           "format_stats", "SCALES"]



def _say(*args) -> None:
    print(*args, flush=True)


def prepare(cfg: TrainConfig, scale: str = "paper") -> TrainConfig:
    """``cfg`` at ``scale``, with every training and suite setting checked (one error, before any work)."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; valid: {', '.join(SCALES)}")
    cfg = check_settings(cfg)
    if cfg.eval.suite:
        try:  # an unknown suite or suite key is refused here, before any training
            get_suite(cfg.eval.suite, dict(cfg.eval.overrides))
        except (ValueError, TypeError, KeyError) as err:
            raise SettingError(f"eval.suite = {cfg.eval.suite!r} with eval.overrides = {cfg.eval.overrides}: "
                               f"{err.args[0] if err.args else err}") from None
    if scale == "smoke":
        cfg = smoke(cfg)
        if cfg.eval.suite:
            cfg.eval.overrides = smoke_overrides(cfg.eval.suite, dict(cfg.eval.overrides))
    return cfg


def check_report_target(directory: Path, suite: str, overwrite: bool) -> Path:
    """Refuse, before any work, a report folder that is a file or not writable, or an existing report."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"--out {directory} is a file, not a folder")
    target = directory / f"robustness-{suite}.json"
    if target.exists() and not overwrite:
        raise ValueError(f"{target} already exists; pass --overwrite to replace it, or --out another folder")
    check_writable(directory, "the report", "nothing was evaluated")
    return target


def _load(paths: list[Path], device) -> tuple[torch.nn.Module, dict]:
    if len(paths) == 1:
        return load_model(paths[0], device)
    model, metas = load_ensemble(paths, device)
    return model, {**metas[0], "preset": "ensemble of " + ", ".join(str(m.get("preset")) for m in metas),
                   "members": metas}


def evaluate_checkpoints(paths, *, suite: str = "quick", overrides: dict | None = None, n: int = 1000,
                         data_root=None, verify: bool = True, device="cpu", batch_size: int = 256,
                         source=None, out=None, progress: bool = True, overwrite: bool = False,
                         replace_note: Callable[[str], object] | None = None) -> tuple[dict, tuple[Path, Path]]:
    """Load → data → evaluate → report for one checkpoint, or several as an ensemble.

    The report goes to ``out`` (default: the first checkpoint's folder). An existing report of the
    same suite is refused unless ``overwrite``; then ``replace_note`` (if given) is told about it.
    """
    from stablenets.data.noise_sets import noise_test_set
    from stablenets.device import resolve_device

    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("give at least one checkpoint")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"--n = {n!r}: must be an integer ≥ 1 (the number of test points)")
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"--batch-size = {batch_size!r}: must be an integer ≥ 1")
    for path in (*paths, source):
        if path is not None and not Path(path).exists():
            raise FileNotFoundError(f"checkpoint {path} not found (give a checkpoint file or its run folder)")
    get_suite(suite, overrides)  # unknown suite or key: refused before any work
    first = paths[0]
    directory = Path(out) if out is not None else (first if first.is_dir() else first.parent)
    target = check_report_target(directory, suite, overwrite)
    if target.exists() and replace_note is not None:
        replace_note(f"replacing the earlier report {target}")
    device = resolve_device(device)
    model, meta = _load(paths, device)
    source_model = load_model(source, device)[0] if source is not None else None
    dataset = meta.get("dataset")
    if not dataset:
        raise ValueError(f"checkpoint {first} does not name its data set (meta['dataset'])")
    classes = (meta.get("stablenets_config") or {}).get("num_classes")
    if classes is not None and classes != dataset_info(dataset).num_classes:
        raise ValueError(f"checkpoint {first} has {classes} classes but its data set {dataset} has "
                         f"{dataset_info(dataset).num_classes}")
    x, y, raw = load_test_points(dataset, data_root, n=n, verify=verify)
    noise_sets = None
    if raw is not None:
        def noise_sets(group: str, severity: int):
            ns = noise_test_set(dataset, group, severity, data_root, clean=(raw, y), verify=verify)
            return to_model_input(ns.images[:n]), ns.labels[:n].long(), ns.source

    result = evaluate_robustness(model, x, y, suite, overrides, batch_size=batch_size, progress=progress,
                                 source_model=source_model, noise_sets=noise_sets)
    result["checkpoint"] = {"path": [str(c) for c in paths], "dataset": dataset, "preset": meta.get("preset"),
                            "epoch": meta.get("epoch"), "weights_sha256": meta.get("weights_sha256")}
    return result, write_report(result, directory)


def _report_is_current(run_dir: Path, suite: str) -> bool:
    """Whether ``run_dir`` already has a report of ``suite`` for the weights now in its checkpoint."""
    from stablenets.checkpoint import read_meta

    path = run_dir / f"robustness-{suite}.json"
    if not path.is_file():
        return False
    try:
        done = json.loads(path.read_text()).get("checkpoint", {})
    except (OSError, ValueError):
        return False
    return done.get("weights_sha256") is not None and done.get("weights_sha256") == \
        read_meta(run_dir).get("weights_sha256")


def train_and_evaluate(cfg: TrainConfig, run_dir, *, device="auto", resume: bool = False, fallback: str = "",
                       log=_say) -> dict:
    """Train ``cfg`` into ``run_dir``, then evaluate its checkpoint with ``cfg.eval`` (when a suite is set).

    The summary gains ``robustness`` (:func:`headline_numbers`) when the suite ran. A report already
    made for exactly these weights is kept; a report of earlier weights is replaced, and the log says so.
    """
    run_dir = Path(run_dir)
    summary = train(cfg, run_dir, device=device, resume=resume, fallback=fallback, log=log)
    ctx = D.setup(device)
    if not (cfg.eval.suite and ctx.is_main):
        return summary
    dataset = summary["dataset"]
    if dataset_info(dataset).kind != "image":
        log(f"evaluation suite {cfg.eval.suite!r} skipped: it needs images, {dataset} is not")
        return summary
    json_path = run_dir / f"robustness-{cfg.eval.suite}.json"
    if _report_is_current(run_dir, cfg.eval.suite):
        log(f"robustness ({cfg.eval.suite}) of these weights already in {json_path}")
        result = json.loads(json_path.read_text())
    else:
        result, (json_path, _) = evaluate_checkpoints(
            [run_dir], suite=cfg.eval.suite, overrides=dict(cfg.eval.overrides), n=cfg.eval.n,
            data_root=cfg.data.root, verify=cfg.data.verify, device=ctx.device, batch_size=cfg.data.eval_batch_size,
            progress=cfg.run.progress, overwrite=True, replace_note=log)
        log(f"robustness ({cfg.eval.suite}) -> {json_path}")
    summary["robustness"] = headline_numbers(result)
    write_text_atomic(run_dir / "summary.json", json.dumps(summary, indent=2, default=float) + "\n")
    return summary


def run_seeds(cfg: TrainConfig, out_dir, seeds: list[int], *, device="auto", resume: bool = False,
              fallback: str = "", log=_say) -> dict:
    """One run per seed into ``out_dir/seed-<s>``; write and return mean ± std of their numbers.

    A seed whose training diverges (:class:`NonFiniteLossError`) is recorded under ``diverged``
    with its epoch and step, and the next seed runs; the statistics are over the finished seeds.
    With ``resume``, finished seeds are kept, interrupted ones continued and missing ones started.
    """
    out_dir = Path(out_dir)
    if len(set(seeds)) != len(seeds) or not seeds:
        raise ValueError(f"--seeds {seeds}: give distinct seeds")
    for seed in seeds:
        c = copy.deepcopy(cfg)
        c.run.seed = seed
        check_settings(c)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out {out_dir} is a file, not a folder")
    if not resume and (out_dir / "seeds.json").exists():
        raise ValueError(f"{out_dir} already holds a seed sweep (seeds.json); pass --resume to finish it, "
                         f"or choose another --out")
    runs, diverged = [], []
    for seed in seeds:
        c = copy.deepcopy(cfg)
        c.run.seed = seed
        run_dir = out_dir / f"seed-{seed}"
        has_run = (run_dir / "config.json").is_file() or (run_dir / "train_state.pt").is_file()
        if resume and not has_run:
            check_out_dir(run_dir, resume=False)
        try:
            runs.append(train_and_evaluate(c, run_dir, device=device, resume=resume and has_run,
                                           fallback=fallback, log=log))
        except NonFiniteLossError as err:
            log(f"seed {seed} diverged: {err}")
            diverged.append({"seed": seed, "run_dir": str(run_dir), "epoch": err.epoch, "step": err.step,
                             "what": err.what, "last_good": err.checkpoint})
    numbers: dict[str, list[float]] = {}
    for r in runs:
        final = r.get("final") or {}
        for key in ("test_acc", "train_acc", "loss"):
            if key in final:
                numbers.setdefault(key, []).append(final[key])
        for key, value in (r.get("robustness") or {}).items():
            if value is not None:
                numbers.setdefault(key, []).append(value)
    stats = {k: {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, "n": len(v),
                 "values": v} for k, v in numbers.items()}
    summary = {"seeds": list(seeds), "runs": [r["run_dir"] for r in runs], "diverged": diverged, "stats": stats}
    if D.setup(device).is_main:
        write_text_atomic(out_dir / "seeds.json", json.dumps(summary, indent=2) + "\n")
    return summary


def format_stats(stats: dict) -> str:
    """Lines "key  mean ± std (n)" with accuracies in percent."""
    lines = []
    for key, s in stats.items():
        scale = 1.0 if key == "loss" else 100.0
        lines.append(f"{key:<32} {scale * s['mean']:8.2f} ± {scale * s['std']:.2f}  (n={s['n']})")
    return "\n".join(lines)
