"""One dataclass holds every training setting; experiments are TOML files of it.

    cfg = read_config("my-experiment.toml")                 # a TOML file of these settings
    cfg = apply_overrides(cfg, ["optim.lr=0.05", "run.epochs=10", "schedule.milestones=[5, 8]"])
    cfg = smoke(cfg)                                        # seconds on a CPU

Sections: ``model`` (preset and its overrides), ``data``, ``optim``, ``schedule``, ``mode``
(natural / pgd / trades / noisy), ``run`` (epochs, seed, logging, devices) and ``eval`` (the
evaluation suite the pipeline runs on the finished checkpoint; training itself never evaluates). An override is ``section.key=value``; the value is
read with the one override grammar (:mod:`stablenets.overrides`: TOML values, bare words are
strings, ``none`` is None), never evaluated as code, and checked against the field's type and
its range (each field is a :func:`stablenets.settings.setting`, which also writes ``--help``).
An unknown key or a bad value is one :class:`~stablenets.settings.SettingError` naming the key
and what it accepts, before any data is loaded.
"""
from __future__ import annotations

import copy
import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stablenets.overrides import parse_pairs
from stablenets.settings import SettingError, check, setting, validate

__all__ = ["TrainConfig", "ModelConfig", "DataConfig", "OptimConfig", "ScheduleConfig", "ModeConfig",
           "RunConfig", "EvalConfig", "read_config", "apply_overrides", "config_from_dict", "config_to_dict"]

MODES = ("natural", "pgd", "trades", "noisy")
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("multistep", "cosine", "constant")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
_COUNT = dict(integer=True, ge=0)


@dataclass
class ModelConfig:
    name: str = setting("resnet-20", "model preset (stablenets models lists them)", nonempty=True)
    overrides: dict = setting(default_factory=dict, help="create_model arguments, e.g. lambda_init, h, widths")


@dataclass
class DataConfig:
    dataset: str = setting("cifar10", "data set (stablenets data list)", nonempty=True)
    root: str | None = setting(None, "data folder (default $STABLENETS_DATA)", optional=True)
    verify: bool = setting(True, "md5-check official files")
    batch_size: int = setting(128, "training batch size (per process)", integer=True, ge=1)
    eval_batch_size: int = setting(500, "batch size of the per-epoch test accuracy", integer=True, ge=1)
    augment: bool = setting(True, "random crop (pad augment_pad) + flip, images only")
    augment_pad: int = setting(4, "padding of the random crop, pixels per side", integer=True, ge=0)
    augment_pad_mode: str = setting("zeros", "padding of the random crop: zeros, or reflect (paper A's code)",
                                    choices=("zeros", "reflect"))
    train_subset: int = setting(0, "first n training samples (0: all)", **_COUNT)
    test_subset: int = setting(0, "first n test samples for the per-epoch test accuracy (0: all)", **_COUNT)


@dataclass
class OptimConfig:
    name: str = setting("sgd", "optimiser", choices=OPTIMIZERS)
    lr: float = setting(0.1, "base learning rate", gt=0)
    momentum: float = setting(0.9, "SGD momentum", ge=0, lt=1)
    nesterov: bool = setting(False, "Nesterov momentum (SGD, momentum > 0)")
    weight_decay: float = setting(5e-4, "L2 weight decay", ge=0)
    scheme_weight_decay: bool = setting(False, "decay λ, h, k too (biases them; see training/optim.py)")
    betas: list = setting(default_factory=lambda: [0.9, 0.999], help="Adam (β1, β2)",
                          each=dict(ge=0, lt=1))
    grad_clip: float = setting(0.0, "max global gradient norm (0: off)", ge=0)


@dataclass
class ScheduleConfig:
    kind: str = setting("multistep", "learning-rate schedule", choices=SCHEDULES)
    milestones: list = setting(default_factory=list, help="epochs (0-based) from which lr *= gamma, e.g. [80, 120]",
                               each=dict(integer=True, ge=1))
    gamma: float = setting(0.1, "multistep factor", gt=0)
    warmup_epochs: float = setting(0.0, "linear warm-up from 0, in (fractional) epochs", ge=0)
    min_lr: float = setting(0.0, "cosine floor", ge=0)


@dataclass
class ModeConfig:
    kind: str = setting("natural", "training objective", choices=MODES)
    eps: float = setting(8 / 255, "pgd / trades radius (L∞, pixel units)", ge=0, le=1)
    alpha: float = setting(2 / 255, "pgd / trades step size (pixel units)", ge=0, le=1)
    steps: int = setting(10, "pgd / trades inner steps", **_COUNT)
    beta: float = setting(6.0, "trades: β = 1/λ", ge=0)
    sigma: float = setting(0.0, "noisy: Gaussian noise level (images: on the normalised pixels, B §4.2; points: raw)",
                           ge=0)
    replace_p: float = setting(0.0, "noisy, text: fraction of characters replaced", ge=0, le=1)


@dataclass
class RunConfig:
    epochs: int = setting(200, "training epochs", integer=True, ge=1)
    seed: int = setting(0, "seed of every random draw", **_COUNT)
    max_steps_per_epoch: int = setting(0, "stop an epoch after this many steps (0: whole epoch)", **_COUNT)
    log_norms: bool = setting(False, "per-layer weight and gradient norms in metrics.jsonl")
    finite_check_every: int = setting(20, "steps between host checks of the loss (one sync each)",
                                      integer=True, ge=1)
    amp: bool = setting(True, "bf16 autocast for training on CUDA (never for evaluation)")
    channels_last: bool = setting(True, "channels_last memory format on CUDA")
    cuda_graphs: bool = setting(True, "on CUDA, replay the whole natural training step as a CUDA graph when the "
                                "learning rate is constant within epochs (see training/fastpath.py)")
    fused_optimizer: bool = setting(True, "on CUDA, the optimiser's fused update kernel")
    compile: bool = setting(False, "torch.compile the training forward")
    compile_backend: str = setting("inductor", "torch.compile backend (\"eager\" checks the plumbing only)",
                                   nonempty=True)
    compile_mode: str = setting("default", "inductor's mode; \"reduce-overhead\" = CUDA graphs",
                                choices=COMPILE_MODES)
    progress: bool = setting(True, "progress: tqdm bars on a terminal, else a line every log_every seconds")
    log_every: float = setting(60.0, "seconds between progress lines when not on a terminal", gt=0)


@dataclass
class EvalConfig:
    suite: str = setting("", "evaluation suite after training (\"\": none; see stablenets evaluate --help)")
    n: int = setting(1000, "evaluate the first n test points", integer=True, ge=1)
    overrides: dict = setting(default_factory=dict, help="suite settings, e.g. {\"attacks.pgd.steps\" = 50}")


@dataclass
class TrainConfig:
    experiment: str = setting("", "experiment name")
    description: str = setting("", "the paper, table and its numbers")
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    mode: ModeConfig = field(default_factory=ModeConfig)
    run: RunConfig = field(default_factory=RunConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def validate(self) -> "TrainConfig":
        """Types, then each setting's range, then the rules that tie settings together; returns self."""
        _check_types(self)
        validate(self)
        m, o = self.mode, self.optim
        if m.kind in ("pgd", "trades"):
            for key, value in (("eps", m.eps), ("alpha", m.alpha), ("steps", m.steps)):
                check(f"mode.{key}", value, gt=0)
        if m.kind == "noisy" and not (m.sigma > 0 or m.replace_p > 0):
            raise SettingError(f"mode.kind = 'noisy' needs mode.sigma > 0 (images, points) or mode.replace_p > 0 "
                               f"(text); got sigma {m.sigma}, replace_p {m.replace_p}, which is plain training")
        if o.nesterov and not (o.name == "sgd" and o.momentum > 0):
            raise SettingError(f"optim.nesterov = true needs optim.name = 'sgd' and optim.momentum > 0 "
                               f"(got {o.name!r}, momentum {o.momentum})")
        if len(o.betas) != 2:
            raise SettingError(f"optim.betas = {o.betas!r}: must be two numbers [β1, β2]")
        if self.schedule.kind == "cosine" and self.schedule.min_lr > o.lr:
            raise SettingError(f"schedule.min_lr = {self.schedule.min_lr}: must be ≤ optim.lr = {o.lr}")
        return self


SECTIONS = {"model": ModelConfig, "data": DataConfig, "optim": OptimConfig, "schedule": ScheduleConfig,
            "mode": ModeConfig, "run": RunConfig, "eval": EvalConfig}


def _check_types(cfg: TrainConfig) -> None:
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        hint = _hints(TrainConfig)[f.name]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, hint):
                raise SettingError(f"setting {f.name!r} is a section; expected {hint.__name__}, got {value!r}")
            for g in dataclasses.fields(value):
                name = f"{f.name}.{g.name}"
                setattr(value, g.name, _check_value(name, getattr(value, g.name), _hints(hint)[g.name]))
        else:
            setattr(cfg, f.name, _check_value(f.name, value, hint))


def _hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _check_value(key: str, value: Any, hint: Any) -> Any:
    """``value`` converted to ``hint`` (int → float allowed), or a ValueError naming ``key``."""
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _check_value(key, value, option)
            except ValueError as err:
                errors.append(str(err))
        raise SettingError(errors[0])
    base = origin or hint
    if base is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if base is list and isinstance(value, tuple):
        return list(value)
    if not isinstance(value, base) or (base in (int, float) and isinstance(value, bool)):
        raise SettingError(f"setting {key!r} expects {getattr(base, '__name__', base)}, got {value!r} "
                         f"({type(value).__name__})")
    return copy.deepcopy(value)


def config_from_dict(data: dict, cls=TrainConfig, prefix: str = ""):
    """A config of ``cls`` from a nested dict (as read from TOML); unknown keys are errors."""
    hints = _hints(cls)
    kwargs = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if key not in hints:
            raise SettingError(f"unknown setting {name!r}; known: {', '.join(prefix + k for k in hints)}")
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                raise SettingError(f"setting {name!r} is a section; give {name}.<key>=value")
            kwargs[key] = config_from_dict(value, hint, f"{name}.")
        else:
            kwargs[key] = _check_value(name, value, hint)
    return cls(**kwargs)


def config_to_dict(cfg) -> dict:
    """The config as a plain nested dict (JSON/TOML-able; None values dropped)."""
    def clean(d):
        return {k: clean(v) if isinstance(v, dict) and k != "overrides" else v for k, v in d.items() if v is not None}
    return clean(dataclasses.asdict(cfg))


def apply_overrides(cfg: TrainConfig, pairs: list[str]) -> TrainConfig:
    """A copy of ``cfg`` with ``section.key=value`` overrides (TOML values, type-checked).

    ``model.overrides.<key>=value`` and ``eval.overrides.<dotted.key>=value`` set entries of
    those free-form dicts.
    """
    cfg = copy.deepcopy(cfg)
    for key, value in parse_pairs(pairs):
        parts = key.split(".")
        node, cls = cfg, TrainConfig
        for i, part in enumerate(parts):
            hints = _hints(cls)
            if part not in hints:
                raise SettingError(f"unknown setting {'.'.join(parts[:i + 1])!r}; known here: {', '.join(hints)}")
            hint = hints[part]
            if dataclasses.is_dataclass(hint):
                if i == len(parts) - 1:
                    raise SettingError(f"{key!r} is a section; set one of its keys: {', '.join(_hints(hint))}")
                node, cls = getattr(node, part), hint
                continue
            if part == "overrides" and i < len(parts) - 1:
                getattr(node, part)[".".join(parts[i + 1:])] = value
            elif i < len(parts) - 1:
                raise SettingError(f"{'.'.join(parts[:i + 1])!r} is a setting, not a section")
            else:
                setattr(node, part, _check_value(key, value, hint))
            break
    return cfg.validate()


def read_config(path: str | Path) -> TrainConfig:
    """Read an experiment's TOML file into a validated :class:`TrainConfig` (its name, when the file
    sets none, is the file's stem). Packaged names (the papers' ENTRY/RUN) are resolved above the
    training stage, by :func:`stablenets.experiments.load_config`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"experiment file {path} not found")
    with path.open("rb") as f:
        try:
            data = tomllib.load(f)
        except tomllib.TOMLDecodeError as err:
            raise SettingError(f"{path}: not valid TOML: {err}") from None
    data.setdefault("experiment", path.name.removesuffix(".toml"))
    return config_from_dict(data).validate()
