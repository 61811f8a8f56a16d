"""Training: natural, PGD-AT, TRADES and noisy-input objectives; runs that survive crashes.

    from stablenets.experiments import load_config       # names of the papers' runs (above this stage)
    from stablenets.training import apply_overrides, train
    cfg = apply_overrides(load_config("a-cifar10-in-resnet-110"), ["run.epochs=10"])
    summary = train(cfg, "runs/in-resnet-110", device="cuda")      # resume=True continues it

Training ends at the checkpoint (:mod:`stablenets.checkpoint` reads it back); evaluation and
several seeds are chained by :mod:`stablenets.pipeline`. See ``trainer.py`` (the loop,
divergence, progress), ``rundir.py`` (what a run folder may hold, resume rules, the lock),
``metrics.py`` (metrics.jsonl keys), ``optim.py`` (schedules; why scheme coefficients get no
weight decay by default), ``modes.py`` (objectives), ``distributed.py`` (torchrun / DDP),
``scale.py`` (smoke scale).
"""
from stablenets.training.config import TrainConfig, apply_overrides, config_to_dict, read_config
from stablenets.training.scale import smoke

# Loaded on first use (PEP 562): the command line starts without torch.
_LAZY = {
    "NonFiniteLossError": "stablenets.training.trainer",
    "check_settings": "stablenets.training.trainer",
    "train": "stablenets.training.trainer",
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'stablenets.training' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


__all__ = ["TrainConfig", "read_config", "apply_overrides", "config_to_dict", "smoke",
           "train", "check_settings", "NonFiniteLossError"]
