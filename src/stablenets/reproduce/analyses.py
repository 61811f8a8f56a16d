"""The analysis part of an entry: numbers computed from a model's definition or a trained run.

``model_metric(run, name)`` needs no training (a preset's characteristic roots, zero stability,
parameter count); ``run_analysis(entry, kind, runs, ...)`` computes an entry's ``analysis`` on its
trained runs (learned coefficients, loss landscapes, feature flow, weight dynamics, solver steps)
or, for analysis-only entries, directly (the IVP of papers B and C). Each returns flat numbers by
run label, which the report aggregates like any other metric, plus the data to draw.
"""
from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np

from stablenets.progress import Progress

__all__ = ["model_metric", "run_analysis", "ANALYSES", "build_model_for", "step_shift"]

ANALYSES = ("roots", "params", "ivp", "coefficients", "landscape", "flow", "dynamics", "solver_steps",
            "noisy_inputs")


@functools.lru_cache(maxsize=256)
def _built(name: str, overrides_json: str, dataset: str):
    import json

    from stablenets.data import dataset_info
    from stablenets.models import create_model

    info = dataset_info(dataset)
    kwargs = {}
    if info.kind == "image":
        kwargs = dict(in_channels=info.in_channels, image_size=info.image_size, mean=info.mean, std=info.std)
    kwargs.update(json.loads(overrides_json))
    return create_model(name, info.num_classes, **kwargs)


def build_model_for(config: dict):
    """The untrained model of a run's config (cached; for definitions, not for training)."""
    import json
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # non-zero-stable coefficients warn: the entries mean them
        return _built(config["model"]["name"], json.dumps(config["model"].get("overrides", {}), sort_keys=True),
                      config.get("data", {}).get("dataset", "cifar10"))


def _roots(config: dict) -> dict:
    from stablenets.analysis.stability import model_roots, root_report

    model = build_model_for(config)
    try:
        reports = model_roots(model)
    except ValueError:  # a plain ResNet: α = (1,)
        reports = [root_report((1.0,), 1.0, "resnet")]
    report = reports[-1]  # blocks share one set of coefficients in these entries; the last is a regular block
    moduli = sorted((float(m) for m in report["moduli"]), reverse=True)
    out = {"zero_stable": 1.0 if report["zero_stable"] else 0.0, "consistent": report["consistent"]}
    for i, m in enumerate(moduli, 1):
        out[f"modulus_{i}"] = m
    return out


def model_metric(config: dict, name: str) -> float | None:
    """``model:<name>`` of a run: zero_stable, modulus_<i>, params_millions."""
    if name == "params_millions":
        return sum(p.numel() for p in build_model_for(config).parameters()) / 1e6
    value = _roots(config).get(name)
    return None if value is None else float(value)


def _ivp(spec: dict) -> tuple[dict, dict]:
    from stablenets.stability import ivp_example

    data = ivp_example(hs=tuple(spec.get("hs", (0.1, 0.5, 1.0))), t_end=float(spec.get("t_end", 5.0)),
                       rate=float(spec.get("lam", -2.3)))
    numbers = {}
    for run in data["runs"]:
        numbers[f"h={run['h']:g}"] = {"explicit_error": float(run["explicit_error"]),
                                      "implicit_error": float(run["implicit_error"]),
                                      "explicit_final": float(abs(run["explicit"][-1])),
                                      "implicit_final": float(abs(run["implicit"][-1])),
                                      "h": float(run["h"])}
    return numbers, {"kind": "ivp", "data": data}


def _load(run_dir: Path):
    import torch

    from stablenets.checkpoint import load_model

    return load_model(Path(run_dir) / "model.safetensors", torch.device("cpu"))


def step_shift(before: list[float], after: list[float]) -> float:
    """max |Δt| over the interior accepted step times two solves share (D-table3: 0.262 → 0.244 is 0.018).

    A list is [0, t₁, …, T]; the shared interior is t₁ … up to the shorter list's last interior
    time, so a step that appears or vanishes counts in the number of steps, not here (0 when none).
    """
    inner = min(len(before), len(after)) - 2
    return max((abs(a - b) for a, b in zip(before[1:1 + inner], after[1:1 + inner])), default=0.0)


def _solver_steps(entry, spec: dict, scale: str, trained: dict, data_root, verify: bool) -> tuple[dict, dict]:
    """D-table3: the accepted DOPRI5 step times of each run's ``block``-th ODE block after k PGD steps.

    Per run: ``t1_<k>`` the first accepted step time and ``accepted_<k>`` the number of accepted
    steps after k L∞ PGD steps (ε ``eps``, step ``alpha``, from x) on the first ``points`` test
    points solved as one batch, and ``shift`` = :func:`step_shift` between the first and the last
    count. ``k`` is named by the paper's count (``entry.analysis["iterations"]``): a scale with
    fewer iterations measures its own counts in their place. Smoke takes 1, 2, 3 steps on 8 points.
    """
    from stablenets.analysis.solver import solver_steps
    from stablenets.reproduce.jobs import load_test_set
    from stablenets.schemes.continuous import ode_blocks

    paper_its = [int(k) for k in entry.analysis["iterations"]]
    its = [int(k) for k in spec["iterations"]]
    points = int(spec.get("points", 100))
    if scale == "smoke":
        its, points = list(range(1, len(its) + 1)), min(points, 8)
    if len(its) != len(paper_its) or its != sorted(set(its)) or its[0] < 0:
        raise ValueError(f"{entry.id}: analysis iterations {its} must be {len(paper_its)} increasing counts ≥ 0, "
                         f"one per count of the paper's {paper_its}")
    numbers: dict = {}
    draw: dict = {}
    for label, dirs in trained.items():
        per_seed = []
        for d in dirs:
            model, meta = _load(d)
            blocks = ode_blocks(model)
            if spec.get("solver"):  # the table is about this solver's steps (smoke trains with Euler)
                for b in blocks:
                    b.settings = dataclasses.replace(b.settings, solver=spec["solver"])
            x, y = load_test_set(meta.get("dataset"), data_root, points, verify)
            data = solver_steps(model, x, y, float(spec["eps"]), float(spec["alpha"]), its[-1], tolerances=(),
                                record_at=its)
            block = int(spec.get("block", 0))
            steps = {e["iteration"]: [0.0] + [float(t) for t in e["blocks"][block]["step_times"]]
                     for e in data["pgd"]}
            seed = {f"t1_{p}": steps[k][1] for k, p in zip(its, paper_its)}
            seed.update({f"accepted_{p}": float(len(steps[k]) - 1) for k, p in zip(its, paper_its)})
            seed["shift"] = step_shift(steps[its[0]], steps[its[-1]])
            per_seed.append(seed)
            paper = entry.paper_values.get(label) or {}
            draw.setdefault(label, {"iterations": its, "steps": steps, "paper_iterations": paper_its,
                                    "paper": {p: paper[f"steps_{p}"] for p in paper_its if f"steps_{p}" in paper},
                                    "solver": blocks[block].settings.solver, "rtol": blocks[block].settings.rtol,
                                    "points": int(x.shape[0])})
        numbers[label] = {k: [s[k] for s in per_seed] for k in per_seed[0]} if per_seed else {}
    return numbers, draw


SMOKE_TEXT = ("Stocks rally as oil prices fall: markets closed higher on Tuesday after a week of losses, "
              "analysts said, while the dollar held steady against the euro and the yen.")


def _noisy_inputs(spec: dict, scale: str, data_root, verify: bool) -> tuple[dict, dict]:
    """B-fig17: paper B's training noise on CIFAR-10 test images per σ and AG-NEWS test texts per p
    (:func:`stablenets.analysis.noisy.noisy_samples`); one row per level. Smoke draws the embedded
    MNIST digits in three channels (with CIFAR-10's statistics) and one built-in sentence instead."""
    import torch

    from stablenets.analysis.noisy import noisy_samples
    from stablenets.data import dataset_info
    from stablenets.data.text import quantize
    from stablenets.reproduce.jobs import load_test_set

    n = int(spec.get("points", 256))
    if scale == "smoke":
        images = load_test_set("embedded-mnist", None, 64)[0].repeat(1, 3, 1, 1)
        codes = torch.from_numpy(quantize(SMOKE_TEXT)).repeat(64, 1)
        source = "smoke: embedded MNIST test digits in three channels, one built-in sentence"
    else:
        images = load_test_set("cifar10", data_root, n, verify)[0]
        codes = load_test_set("ag_news", data_root, n, verify)[0]
        source = f"the first {n} CIFAR-10 and AG-NEWS test points"
    info = dataset_info("cifar10")
    data = noisy_samples(images, info.std, spec["sigmas"], codes, spec["replace"],
                         seed=int(spec.get("seed", 0)))
    data["source"] = source
    numbers = {f"CIFAR-10 σ={e['sigma']:g}": {"level": e["sigma"], "normalised_std": e["normalised_std"],
                                             "pixel_std": e["pixel_std"], "noise_mean": e["noise_mean"]}
               for e in data["images"]}
    numbers.update({f"AG-NEWS p={e['p']:g}": {"level": e["p"], "changed": e["changed"], "expected": e["expected"]}
                    for e in data["text"]})
    return numbers, {"kind": "noisy_inputs", "data": data}


def run_analysis(entry, scale: str, trained: dict[str, list[Path]], data_root=None,
                 verify: bool = True) -> tuple[dict, dict]:
    """({label: {metric: value or [values over seeds]}}, data to draw) for ``entry.analysis``.

    ``trained`` maps a run label to its finished run directories (one per seed).
    """
    spec = dict(entry.analysis)
    spec.update(entry.budget(scale).get("analysis") or {})
    kind = spec.get("kind")
    if kind is None or kind in ("roots", "params"):
        return {}, {}
    if kind == "ivp":
        return _ivp(spec)
    if kind == "noisy_inputs":
        return _noisy_inputs(spec, scale, data_root, verify)
    numbers: dict = {}
    draw: dict = {}
    runs = sum(len(dirs) for dirs in trained.values())
    bar = Progress(runs, f"{entry.id} analysis ({kind})", unit="run",
                   enabled=runs > 0 and kind in ("coefficients", "flow", "dynamics"))
    if kind == "coefficients":
        from stablenets.analysis.coefficients import coefficient_summary

        for label, dirs in trained.items():
            per_seed = []
            for d in dirs:
                model, _ = _load(d)
                summary = coefficient_summary(model, threshold=float(spec.get("threshold", 0.01)))
                lam = summary.get("lambda") or next(iter(summary.values()))
                values = np.maximum(lam["values"], 0.0)
                per_seed.append({"fraction_above": float(np.mean(lam["values"] > lam["threshold"])),
                                 "fraction_in_0_1": float(np.mean(values <= 1.0)),
                                 "fraction_above_2": float(np.mean(values > 2.0))})
                draw.setdefault(label, summary)
                bar.step(label)
            numbers[label] = {k: [s[k] for s in per_seed] for k in per_seed[0]} if per_seed else {}
    elif kind == "flow":
        from stablenets.analysis.flow import feature_flow
        from stablenets.data import load

        x, y = load("moons", split="test", n=int(spec.get("test_points", 300)))
        for label, dirs in trained.items():
            steps = []
            for d in dirs:
                model, _ = _load(d)
                flow = feature_flow(model, x, y)
                steps.append(float(np.mean(flow["step_lengths"])))
                draw.setdefault(label, flow)
                bar.step(label)
            numbers[label] = {"mean_step_length": steps}
    elif kind == "dynamics":
        from stablenets.analysis.dynamics import training_dynamics

        layer = spec.get("layer")
        for label, dirs in trained.items():
            weights, everything = [], []
            for d in dirs:
                dyn = training_dynamics(d, max_layers=1000)
                w = dyn["weight_norms"]
                if layer is not None:
                    weights.append(float(np.mean(w[:, min(int(layer) - 1, w.shape[1] - 1)])))
                everything.append(float(np.mean(w)))
                draw.setdefault(label, training_dynamics(d))
                bar.step(label)
            numbers[label] = {"mean_weight_norm": weights, "mean_weight_norm_all": everything}
    elif kind == "landscape":
        from stablenets.analysis.landscape import compare_landscapes
        from stablenets.reproduce.jobs import load_test_set

        # One landscape per seed (the amplitude is a per-seed number, mean ± std over seeds like any
        # column); the figure draws the first seed's.
        seeds = max((len(dirs) for dirs in trained.values()), default=0)
        amplitudes: dict = {label: [] for label, dirs in trained.items() if dirs}
        images = spec.get("images") or [{"corruption": "gaussian_noise", "index": 0}]
        x = y = None
        bar = Progress(seeds * len(images), f"{entry.id} analysis (landscape)", unit="landscape", enabled=seeds > 0)
        for s_index in range(seeds):
            models, dataset = {}, None
            for label, dirs in trained.items():
                if s_index < len(dirs):
                    models[label], meta = _load(dirs[s_index])
                    dataset = meta.get("dataset") or dataset
            if x is None:
                x, y = load_test_set(dataset, data_root, 0, verify)
            per_image: dict = {label: [] for label in models}
            for image in images:
                i = int(image.get("index", 0))
                land = compare_landscapes(models, x[i:i + 1], y[i:i + 1], image.get("corruption"),
                                          int(image.get("severity", 5)), radius=float(spec.get("radius", 8.0)),
                                          n=int(spec.get("points", 21)))
                if s_index == 0:
                    draw[f"{image.get('corruption')} #{i}"] = land
                for label, m in land["models"].items():
                    per_image[label].append(float(np.max(m["loss"]) - np.min(m["loss"])))
                bar.step(f"seed {s_index + 1}/{seeds}, image {i}")
            for label, values in per_image.items():
                amplitudes[label].append(float(np.mean(values)))
        numbers = {label: {"amplitude": values} for label, values in amplitudes.items() if values}
    elif kind == "solver_steps":
        numbers, draw = _solver_steps(entry, spec, scale, trained, data_root, verify)
    else:
        numbers = {"_": {"not_implemented": f"analysis {kind!r} is not run by reproduce yet"}}
    bar.close()
    return numbers, {"kind": kind, "data": draw}
