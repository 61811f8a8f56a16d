"""Experiment names: what ``stablenets train NAME`` accepts, resolved into run settings.

    from stablenets.experiments import list_experiments, load_config
    cfg = load_config("E-table1/alpha2.0")                # a run of the papers' registry (paper scale)
    cfg = load_config("a-cifar10-in-resnet-110")          # a former experiment name (papers/aliases.toml)
    cfg = load_config("my-experiment.toml")               # a TOML file of TrainConfig settings

A name is a run of the papers' registry (``ENTRY/RUN``, :mod:`stablenets.reproduce.registry`) or
a former name standing for one; anything ending in ``.toml``, or an existing path, is a file read by
:func:`stablenets.training.config.read_config`. This lookup sits above the training stage, which
only reads settings: data flows one way (``tests/test_pipeline_imports.py``).
"""
from __future__ import annotations

from pathlib import Path

from stablenets.reproduce.registry import experiment_config, experiment_names
from stablenets.training.config import TrainConfig, config_from_dict, read_config

__all__ = ["list_experiments", "load_config", "is_file_name"]


def list_experiments(pattern: str | None = None) -> list[str]:
    """The former experiment names, then every ``ENTRY/RUN``; ``pattern`` is a case-insensitive substring
    filter (as in ``stablenets reproduce list`` and ``stablenets models``)."""
    names = experiment_names()
    return [n for n in names if pattern is None or pattern.lower() in n.lower()]


def is_file_name(name_or_path: str | Path) -> bool:
    """Whether ``name_or_path`` names a TOML file rather than a packaged experiment."""
    path = Path(name_or_path)
    return path.suffix == ".toml" or path.exists()


def load_config(name_or_path: str | Path) -> TrainConfig:
    """The validated :class:`TrainConfig` of a packaged experiment (``ENTRY/RUN`` at paper scale, its first
    seed, or a former name) or of a TOML file."""
    if is_file_name(name_or_path):
        return read_config(name_or_path)
    return config_from_dict(experiment_config(str(name_or_path))).validate()
