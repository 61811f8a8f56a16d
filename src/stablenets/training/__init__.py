"""Training: natural, PGD-AT, TRADES and noisy-input objectives; runs that survive crashes.

    from stablenets.training import load_config, apply_overrides, train
    cfg = apply_overrides(load_config("a-cifar10-in-resnet-110"), ["run.epochs=10"])
    summary = train(cfg, "runs/in-resnet-110", device="cuda")      # resume=True continues it
    model, meta = load_model("runs/in-resnet-110/model.safetensors", "cuda")
    ens, metas = load_ensemble(["runs/a", "runs/b"])

See ``trainer.py`` (the loop, divergence), ``checkpoint.py`` (files), ``metrics.py``
(metrics.jsonl keys), ``optim.py`` (schedules; why scheme coefficients get no weight
decay by default), ``modes.py`` (objectives), ``distributed.py`` (torchrun / DDP).
"""
from stablenets.training.checkpoint import load_model, read_meta, save_model
from stablenets.training.config import (TrainConfig, apply_overrides, config_to_dict, list_experiments,
                                        load_config)
from stablenets.training.ensemble import Ensemble, load_ensemble
from stablenets.training.scale import smoke
from stablenets.training.trainer import NonFiniteLossError, train, train_seeds

__all__ = ["TrainConfig", "load_config", "apply_overrides", "config_to_dict", "list_experiments", "smoke",
           "train", "train_seeds", "NonFiniteLossError", "load_model", "read_meta", "save_model", "Ensemble",
           "load_ensemble"]
