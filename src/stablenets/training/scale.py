"""``--scale smoke``: any experiment shrunk to a few seconds on a CPU.

Smoke scale keeps the experiment's objective, optimiser, schedule kind and evaluation
suite, and shrinks everything with a size: 1 epoch of 2 steps of 8 samples, 16 test
points, PGD/TRADES inner steps ≤ 2, and the model to the smallest preset of its family
(the preset of the same family with the fewest layers, read from the presets' facts, e.g.
in-resnet-110 → in-resnet-8; other families by the table below; ODE blocks integrate with
one Euler step). When the data set is not on
disk the run falls back to the embedded MNIST (images), generated moons (points) or
synthetic character codes (text), and the log says so.
The suite itself is shrunk by the evaluation package
(:func:`stablenets.evaluation.smoke.smoke_overrides`), which the pipeline applies.
It checks that the experiment runs end to end, not what it measures.
"""
from __future__ import annotations

import copy

from stablenets.training.config import TrainConfig

__all__ = ["smoke", "smoke_model", "SMOKE_FALLBACK", "SCALES"]

SCALES = ("paper", "smoke")  # of one run; an entry's "small" and "demo" budgets are `stablenets reproduce`'s
SMOKE_FALLBACK = "embedded-mnist"
# Families of ODE-block models, and the small stand-ins of families without a smaller member.
_CONTINUOUS = ("sonet", "soblock", "soblock-wrn", "odenet", "odenet-wrn")
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


def smoke(cfg: TrainConfig) -> TrainConfig:
    """A copy of ``cfg`` that runs in seconds on a CPU (see the module docstring)."""
    cfg = copy.deepcopy(cfg)
    cfg.model.name = smoke_model(cfg.model.name)
    cfg.model.overrides = {k: v for k, v in cfg.model.overrides.items() if k not in ("depth", "widths")}
    from stablenets.models.registry import get_preset

    if get_preset(cfg.model.name).family in _CONTINUOUS:  # an adaptive solver takes minutes on random weights
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
    cfg.eval.n = min(cfg.eval.n, 16)
    return cfg.validate()
