"""``--scale smoke``: any experiment shrunk to a few seconds on a CPU.

Smoke scale keeps the experiment's objective, optimiser, schedule kind and evaluation
suite, and shrinks everything with a size: 1 epoch of 2 steps of 8 samples, 16 test
points, PGD/TRADES inner steps ≤ 2, the suite's attacks ≤ 2 steps with one restart, no
masking diagnostics and no AutoAttack, and the model to the smallest preset of its family
(the preset of the same family with the fewest layers, read from the presets' facts, e.g.
in-resnet-110 → in-resnet-8; other families by the table below; ODE blocks integrate with one Euler step). When the data set is not on
disk the run falls back to the embedded MNIST (images), generated moons (points) or
synthetic character codes (text), and the log says so.
It checks that the experiment runs end to end, not what it measures.
"""
from __future__ import annotations

import copy

from stablenets.training.config import TrainConfig

__all__ = ["smoke", "smoke_model", "SMOKE_FALLBACK"]

SMOKE_FALLBACK = "embedded-mnist"
# Families without a small depth in their name.
_CONTINUOUS = ("sonet", "soblock", "odenet")
_SMALL = {"wrn-34-10": "resnet-8", "ie-wrn-34-10": "ie-resnet-1-8", "resnext-29": "resnet-8",
          "in-resnext-29": "in-resnet-8", "resnet10": "resnet-8", "sonet-64": "sonet-32",
          "soblock-64": "soblock-32", "odenet": "odenet-32"}


def smoke_model(name: str) -> str:
    """The smallest preset of ``name``'s family."""
    from stablenets.models.registry import get_preset, smallest_of_family

    get_preset(name)  # an unknown name is an error, not silently another family member
    if name in _SMALL:
        return _SMALL[name]
    return smallest_of_family(name)


def _shrink_suite(cfg: TrainConfig) -> dict:
    from stablenets.evaluation import get_suite

    suite = get_suite(cfg.eval.suite, dict(cfg.eval.overrides))
    out = dict(cfg.eval.overrides)
    out["diagnostics.enabled"] = False
    for name, entry in suite["attacks"].items():
        for key, cap in (("steps", 2), ("restarts", 1), ("samples", 8), ("binary_search_steps", 1)):
            if key in entry and isinstance(entry[key], int):
                out[f"attacks.{name}.{key}"] = min(entry[key], cap)
        if entry["attack"] == "autoattack":  # thousands of queries per point: not at smoke scale
            out[f"attacks.{name}.eps"] = []
        elif len(entry.get("eps", [])) > 1:
            out[f"attacks.{name}.eps"] = entry["eps"][-1:]
    c10 = suite["noise"].get("cifar10c")
    if c10:
        out["noise.cifar10c.severities"] = c10["severities"][-1:]
    return out


def smoke(cfg: TrainConfig) -> TrainConfig:
    """A copy of ``cfg`` that runs in seconds on a CPU (see the module docstring)."""
    cfg = copy.deepcopy(cfg)
    cfg.model.name = smoke_model(cfg.model.name)
    cfg.model.overrides = {k: v for k, v in cfg.model.overrides.items() if k not in ("depth", "widths")}
    if cfg.model.name.startswith(_CONTINUOUS):  # an adaptive solver takes minutes on random weights
        cfg.model.overrides.update(solver="euler", step_size=1.0)
    cfg.run.epochs = 1
    cfg.run.max_steps_per_epoch = 2
    cfg.run.finite_check_every = 1
    cfg.data.batch_size = min(cfg.data.batch_size, 8)
    cfg.data.train_subset = 16
    cfg.data.test_subset = 16
    cfg.data.eval_batch_size = 16
    cfg.mode.steps = min(cfg.mode.steps, 2)
    cfg.schedule.milestones = []
    cfg.schedule.warmup_epochs = 0.0
    if cfg.eval.suite:
        cfg.eval.n = 16
        cfg.eval.overrides = _shrink_suite(cfg)
    return cfg.validate()
