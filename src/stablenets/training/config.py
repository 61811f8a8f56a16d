"""One dataclass holds every training setting; experiments are TOML files of it.

    cfg = load_config("a-cifar10-in-resnet-110")               # a packaged experiment, or a path
    cfg = apply_overrides(cfg, ["optim.lr=0.05", "run.epochs=10", "schedule.milestones=[5, 8]"])
    cfg = smoke(cfg)                                        # seconds on a CPU

Sections: ``model`` (preset and its overrides), ``data``, ``optim``, ``schedule``, ``mode``
(natural / pgd / trades / noisy), ``run`` (epochs, seed, logging, devices) and ``eval`` (the
evaluation suite run after training). An override is ``section.key=value``; the value is
read as a TOML value (``0.1``, ``true``, ``[30, 60]``, ``"sgd"``; bare words are strings),
never evaluated as code, and checked against the field's type. An unknown key or a value
of the wrong type is one ValueError naming the key and what it expects.
"""
from __future__ import annotations

import copy
import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["TrainConfig", "ModelConfig", "DataConfig", "OptimConfig", "ScheduleConfig", "ModeConfig",
           "RunConfig", "EvalConfig", "load_config", "apply_overrides", "config_from_dict", "config_to_dict",
           "list_experiments", "experiment_path"]

MODES = ("natural", "pgd", "trades", "noisy")
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("multistep", "cosine", "constant")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


@dataclass
class ModelConfig:
    name: str = "resnet-20"
    overrides: dict = field(default_factory=dict)  # passed to create_model (e.g. lambda_init, h, widths)


@dataclass
class DataConfig:
    dataset: str = "cifar10"
    root: str | None = None        # default $STABLENETS_DATA
    verify: bool = True            # md5-check official files
    batch_size: int = 128
    eval_batch_size: int = 500
    augment: bool = True           # random crop (pad 4) + flip, images only
    train_subset: int = 0          # first n training samples (0: all)
    test_subset: int = 0           # first n test samples for the per-epoch test accuracy (0: all)


@dataclass
class OptimConfig:
    name: str = "sgd"              # sgd | adam
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4
    scheme_weight_decay: bool = False  # decay λ, h, k too (biases them; see training/optim.py)
    betas: list = field(default_factory=lambda: [0.9, 0.999])
    grad_clip: float = 0.0         # max global grad norm (0: off)


@dataclass
class ScheduleConfig:
    kind: str = "multistep"        # multistep | cosine | constant
    milestones: list = field(default_factory=list)  # epochs at which lr *= gamma
    gamma: float = 0.1
    warmup_epochs: float = 0.0     # linear warm-up from 0, in (fractional) epochs
    min_lr: float = 0.0            # cosine floor


@dataclass
class ModeConfig:
    kind: str = "natural"          # natural | pgd | trades | noisy
    eps: float = 8 / 255           # pgd / trades radius (L∞, pixel units)
    alpha: float = 2 / 255         # pgd / trades step size
    steps: int = 10                # pgd / trades inner steps
    beta: float = 6.0              # trades: β = 1/λ
    sigma: float = 0.0             # noisy, images: Gaussian noise level
    replace_p: float = 0.0         # noisy, text: fraction of characters replaced


@dataclass
class RunConfig:
    epochs: int = 200
    seed: int = 0
    max_steps_per_epoch: int = 0   # stop an epoch after this many steps (0: whole epoch)
    log_norms: bool = False        # per-layer weight and gradient norms in metrics.jsonl
    finite_check_every: int = 20   # steps between host checks of the loss (one sync each)
    amp: bool = True               # bf16 autocast for training on CUDA (never for evaluation)
    channels_last: bool = True     # channels_last memory format on CUDA
    compile: bool = False          # torch.compile the training forward
    compile_backend: str = "inductor"  # torch.compile backend ("eager" checks the plumbing only)
    compile_mode: str = "default"  # inductor's mode; "reduce-overhead" = CUDA graphs
    progress: bool = True          # tqdm bars (quiet when not on a terminal)


@dataclass
class EvalConfig:
    suite: str = ""                # evaluation suite after training ("" : none); see evaluation/suites.py
    n: int = 1000                  # first n test points
    overrides: dict = field(default_factory=dict)  # suite settings, e.g. {"attacks.pgd.steps" = 50}


@dataclass
class TrainConfig:
    experiment: str = ""
    description: str = ""          # the paper, table and its numbers
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    mode: ModeConfig = field(default_factory=ModeConfig)
    run: RunConfig = field(default_factory=RunConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def validate(self) -> "TrainConfig":
        checks = [(self.mode.kind in MODES, f"mode.kind must be one of {MODES}, got {self.mode.kind!r}"),
                  (self.optim.name in OPTIMIZERS, f"optim.name must be one of {OPTIMIZERS}, got {self.optim.name!r}"),
                  (self.schedule.kind in SCHEDULES,
                   f"schedule.kind must be one of {SCHEDULES}, got {self.schedule.kind!r}"),
                  (self.run.epochs >= 1, f"run.epochs must be >= 1, got {self.run.epochs}"),
                  (self.data.batch_size >= 1, f"data.batch_size must be >= 1, got {self.data.batch_size}"),
                  (self.optim.lr > 0, f"optim.lr must be > 0, got {self.optim.lr}"),
                  (self.mode.steps >= 0, f"mode.steps must be >= 0, got {self.mode.steps}"),
                  (self.run.compile_mode in COMPILE_MODES,
                   f"run.compile_mode must be one of {COMPILE_MODES}, got {self.run.compile_mode!r}")]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        return self


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
        raise ValueError(errors[0])
    base = origin or hint
    if base is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if base is list and isinstance(value, tuple):
        return list(value)
    if not isinstance(value, base) or (base in (int, float) and isinstance(value, bool)):
        raise ValueError(f"setting {key!r} expects {getattr(base, '__name__', base)}, got {value!r} "
                         f"({type(value).__name__})")
    return copy.deepcopy(value)


def config_from_dict(data: dict, cls=TrainConfig, prefix: str = ""):
    """A config of ``cls`` from a nested dict (as read from TOML); unknown keys are errors."""
    hints = _hints(cls)
    kwargs = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if key not in hints:
            raise ValueError(f"unknown setting {name!r}; known: {', '.join(prefix + k for k in hints)}")
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                raise ValueError(f"setting {name!r} is a section; give {name}.<key>=value")
            kwargs[key] = config_from_dict(value, hint, f"{name}.")
        else:
            kwargs[key] = _check_value(name, value, hint)
    return cls(**kwargs)


def config_to_dict(cfg) -> dict:
    """The config as a plain nested dict (JSON/TOML-able; None values dropped)."""
    def clean(d):
        return {k: clean(v) if isinstance(v, dict) and k != "overrides" else v for k, v in d.items() if v is not None}
    return clean(dataclasses.asdict(cfg))


def _parse_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw  # a bare word is a string


def apply_overrides(cfg: TrainConfig, pairs: list[str]) -> TrainConfig:
    """A copy of ``cfg`` with ``section.key=value`` overrides (TOML values, type-checked).

    ``model.overrides.<key>=value`` and ``eval.overrides.<dotted.key>=value`` set entries of
    those free-form dicts.
    """
    cfg = copy.deepcopy(cfg)
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"override {pair!r} must look like section.key=value, e.g. optim.lr=0.05")
        key, raw = (s.strip() for s in pair.split("=", 1))
        value = _parse_value(raw)
        parts = key.split(".")
        node, cls = cfg, TrainConfig
        for i, part in enumerate(parts):
            hints = _hints(cls)
            if part not in hints:
                raise ValueError(f"unknown setting {'.'.join(parts[:i + 1])!r}; known here: {', '.join(hints)}")
            hint = hints[part]
            if dataclasses.is_dataclass(hint):
                if i == len(parts) - 1:
                    raise ValueError(f"{key!r} is a section; set one of its keys: {', '.join(_hints(hint))}")
                node, cls = getattr(node, part), hint
                continue
            if part == "overrides" and i < len(parts) - 1:
                getattr(node, part)[".".join(parts[i + 1:])] = value
            elif i < len(parts) - 1:
                raise ValueError(f"{'.'.join(parts[:i + 1])!r} is a setting, not a section")
            else:
                setattr(node, part, _check_value(key, value, hint))
            break
    return cfg.validate()


def _experiments_dir():
    return resources.files("stablenets") / "experiments"


def list_experiments() -> list[str]:
    """Names of the packaged experiment files (without .toml)."""
    return sorted(p.name[:-5] for p in _experiments_dir().iterdir() if p.name.endswith(".toml"))


def experiment_path(name_or_path: str | Path):
    """A packaged experiment by name, or an existing TOML file path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise FileNotFoundError(f"experiment file {path} not found")
        return path
    candidate = _experiments_dir() / f"{name_or_path}.toml"
    if not candidate.is_file():
        import difflib

        close = difflib.get_close_matches(str(name_or_path), list_experiments(), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown experiment {str(name_or_path)!r}.{hint} Known: {', '.join(list_experiments())}")
    return candidate


def load_config(name_or_path: str | Path) -> TrainConfig:
    """Read an experiment (packaged name or TOML path) into a validated :class:`TrainConfig`."""
    path = experiment_path(name_or_path)
    with path.open("rb") as f:
        try:
            data = tomllib.load(f)
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"{path}: not valid TOML: {err}") from None
    data.setdefault("experiment", Path(str(path)).name.removesuffix(".toml"))
    return config_from_dict(data).validate()
