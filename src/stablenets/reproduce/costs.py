"""Estimated paper-scale GPU-hours of an entry, from measured throughput and a documented rule.

The rule (inputs in ``papers/costs.toml``, each with its source):

* A training step of the reference model (PreResNet-20, batch 512, eager) takes
  ``t_ref = batch / images_per_s`` on the reference GPU; it is host-bound (an eager step costs
  the same from batch 64 to 1024, docs/benchmarks), so its time is the kernels' launch cost.
* A model's host-bound step time scales with its number of weight layers (convolutions and
  linear maps, counted on the model built on the meta device): ``t_host = t_ref · L / L_ref``.
* Its compute-bound step time is ``3 · batch · FLOPs / train_tflops`` (forward + backward ≈ 3
  forwards; FLOPs counted by ``torch.utils.flop_counter`` on one input of the data set).
* A step takes the larger of the two, times the objective's passes: 1 (natural, noisy),
  1 + k (PGD-k adversarial training), 2 + k (TRADES with k inner steps).
* ODE blocks: FLOPs of one Euler evaluation times the solver's evaluations (fixed step: its
  stages; adaptive: ``adaptive_evaluations``).
* Evaluation: every attack iteration of every test point costs one forward + backward at
  ``eval_tflops`` (or the host-bound time per batch of 500, whichever is larger).

It is an estimate for planning a cluster allocation, not a measurement; the reports record the
measured time of each run.
"""
from __future__ import annotations

import functools
import json
import math
import tomllib
from importlib import resources

__all__ = ["entry_gpu_hours", "run_gpu_hours", "cost_facts"]

_STAGES = {"euler": 1, "rk4": 4, "midpoint": 2}


@functools.cache
def cost_facts() -> dict:
    text = (resources.files("stablenets.reproduce") / "papers" / "costs.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def _cache_path():
    import os
    from pathlib import Path

    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "stablenets" / "model-sizes.json"


@functools.cache
def _disk_cache() -> dict:
    try:
        return json.loads(_cache_path().read_text())
    except (OSError, ValueError):
        return {}


@functools.lru_cache(maxsize=1024)
def _model_size(name: str, overrides_json: str, dataset: str) -> tuple[float, int, bool]:
    """(forward FLOPs of one input, number of weight layers, has ODE blocks), cached on disk."""
    import torch

    key = f"{name}|{overrides_json}|{dataset}|{torch.__version__}"
    cache = _disk_cache()
    if key not in cache:
        cache[key] = list(_measure(name, overrides_json, dataset))
        try:
            from stablenets.atomic import write_text_atomic

            write_text_atomic(_cache_path(), json.dumps(cache))
        except OSError:
            pass  # a read-only home: the sizes are recounted next time
    flops, layers, ode = cache[key]
    return float(flops), int(layers), bool(ode)


def _measure(name: str, overrides_json: str, dataset: str) -> tuple[float, int, bool]:
    import warnings

    import torch
    from torch import nn
    from torch.utils.flop_counter import FlopCounterMode

    from stablenets.data import dataset_info
    from stablenets.models import create_model

    info = dataset_info(dataset)
    kwargs = dict(json.loads(overrides_json))
    if info.kind == "image":
        kwargs = dict(in_channels=info.in_channels, image_size=info.image_size, mean=info.mean, std=info.std) | kwargs
    ode = name.startswith(("sonet", "soblock", "odenet"))
    if ode:
        kwargs.update(solver="euler", step_size=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for device in ("meta", "cpu"):
            try:
                with torch.device(device):
                    model = create_model(name, info.num_classes, **kwargs).eval()
                    if info.kind == "text":
                        x = torch.ones(1, info.image_size, dtype=torch.long)
                    elif info.kind == "points":
                        x = torch.zeros(1, info.in_channels)
                    else:
                        size = min(info.image_size, 224)
                        x = torch.rand(1, info.in_channels, size, size) if device == "cpu" else \
                            torch.zeros(1, info.in_channels, size, size)
                    with FlopCounterMode(display=False) as counter:
                        model(x)
                layers = sum(isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)) for m in model.modules())
                return float(counter.get_total_flops()), max(layers, 1), ode
            except (RuntimeError, NotImplementedError):
                continue
    raise ValueError(f"cannot count the FLOPs of {name!r}")


def _evaluations(overrides: dict) -> int:
    solver = overrides.get("solver", "dopri5")
    if solver in _STAGES:
        return _STAGES[solver]
    return int(cost_facts()["assumptions"]["adaptive_evaluations"])


def _step_seconds(flops: float, layers: int, batch: int, tflops: float) -> float:
    ref = cost_facts()["reference"]
    ref_flops, ref_layers, _ = _model_size(ref["model"], "{}", "cifar10")
    t_ref = ref["batch"] / ref["images_per_s"]
    host = t_ref * layers / ref_layers
    compute = 3.0 * batch * flops / (tflops * 1e12)
    return max(host, compute)


def run_gpu_hours(config: dict, protocol: dict | None = None) -> float:
    """Estimated GPU-hours of one run (training + its evaluation) at the config's own settings."""
    facts = cost_facts()
    dataset = config.get("data", {}).get("dataset", "cifar10")
    sizes = facts["datasets"].get(dataset, facts["datasets"]["cifar10"])
    overrides = config["model"].get("overrides", {})
    name = config["model"]["name"]
    from stablenets.models import list_models

    known = list_models()
    if name not in known:  # a preset not added yet: its closest existing relative stands in
        import difflib

        family = [k for k in known if k.split("-")[0] == name.split("-")[0]] or known
        name = (difflib.get_close_matches(name, family, n=1, cutoff=0.0) or ["resnet-20"])[0]
        overrides = {}
    flops, layers, ode = _model_size(name, json.dumps(overrides, sort_keys=True), dataset)
    if ode:
        flops *= _evaluations(overrides)
    batch = int(config.get("data", {}).get("batch_size", 128))
    mode = config.get("mode", {})
    kind = mode.get("kind", "natural")
    k = int(mode.get("steps", 10))
    passes = {"pgd": 1 + k, "trades": 2 + k}.get(kind, 1)
    epochs = int(config.get("run", {}).get("epochs", 1))
    steps = epochs * math.ceil(sizes["train"] / batch)
    seconds = steps * _step_seconds(flops, layers, batch, facts["assumptions"]["train_tflops"]) * passes
    if protocol and protocol.get("suite"):
        n = int(protocol.get("n", 0)) or sizes["test"]
        iterations = 0
        for name, spec in (protocol.get("overrides") or {}).items():
            if isinstance(spec, dict):
                iterations += int(spec.get("steps", 1)) * int(spec.get("restarts", 1)) * \
                    (2 * int(spec.get("samples", 1)) if spec.get("attack") == "spsa" else 1) * len(spec.get("eps", [1]))
        batches = math.ceil(n / 500)
        seconds += iterations * batches * _step_seconds(flops, layers, 500, facts["assumptions"]["eval_tflops"])
    return seconds / 3600.0


def entry_gpu_hours(entry) -> float:
    """Estimated paper-scale GPU-hours of every run of ``entry`` (0 for paper-only and analysis-only)."""
    from stablenets.reproduce.registry import expand_runs, protocol_of
    from stablenets.reproduce.runner import _trains

    if not _trains(entry):
        return 0.0
    protocol = protocol_of(entry, "paper")
    seen, total = set(), 0.0
    for run in expand_runs(entry, "paper"):
        key = json.dumps(run.config, sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        try:
            total += run_gpu_hours(run.config, protocol)
        except ValueError:
            return float("nan")
    return total
