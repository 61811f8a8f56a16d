"""Named presets and ``create_model`` (timm-style).

A preset is a builder (a backbone function) plus fixed arguments, including
its scheme and the scheme's settings, and the facts about it (like timm's
default configs): family, backbone, depth, width, data set, paper and table,
and its plain-ResNet twin. Nothing reads a preset's name to learn these.

``create_model(name, **overrides)`` merges the overrides over the preset: a key
the builder takes goes to the builder; a key that is a setting (a dataclass
field) of the preset's scheme (``h``, ``alphas``, ``iterations``,
``lambda_init`` …) goes to the scheme; ``scheme=`` swaps the scheme (its
settings then start empty). Anything else is an error naming the valid keys.
None-valued overrides are dropped, so defaults win.

The data set is a named default of the preset (``Preset.dataset``, shown by
``stablenets models``): an image model normalises its input with that data
set's mean/std (:mod:`stablenets.data.info`) unless ``mean``/``std`` are given,
and ``dataset=`` picks another data set's channels, statistics and size.
Changing ``in_channels`` without saying which statistics to use is refused.

The model remembers how it was made (``model.stablenets_config``), so a
checkpoint needs only that dict and the weights to rebuild it.
"""
from __future__ import annotations

import dataclasses
import difflib
import inspect
from dataclasses import dataclass, field
from typing import Callable

from torch import nn

from stablenets.data.info import dataset_info
from stablenets.schemes import SCHEMES
from stablenets.settings import SettingError, check, check_arguments


@dataclass(frozen=True)
class Preset:
    """A named model: how to build it and the facts about it.

    ``family`` is the model family without its size ("in-resnet", "zerosnet-lam2",
    "ie-resnet-1"); ``backbone`` the backbone kind ("cifar-preact", "imagenet-layout", …);
    ``depth`` and ``width`` (channels of the first stage) as the backbone builds them;
    ``dataset`` the default data set; ``table`` the paper tables and figures it appears in
    ("A-table1 A-table2"); ``twin`` the plain-ResNet preset with the same backbone, width and
    input layout (the preset itself for a ResNet).
    """

    name: str
    builder: Callable[..., nn.Module]
    args: dict = field(default_factory=dict)
    description: str = ""
    paper: str = ""
    family: str = ""
    backbone: str = ""
    depth: int | None = None
    width: int | None = None
    dataset: str = "cifar10"
    table: str = ""
    twin: str = ""


_PRESETS: dict[str, Preset] = {}


def register_model(name: str, builder: Callable[..., nn.Module], description: str = "", paper: str = "", *,
                   facts: dict | None = None, **args):
    """Register a preset; ``facts`` are the :class:`Preset` fields beyond the builder. A duplicate is an error."""
    if name in _PRESETS:
        raise ValueError(f"model preset {name!r} is registered twice")
    facts = dict(facts or {})
    facts.setdefault("twin", name)
    _PRESETS[name] = Preset(name, builder, args, description, paper, **facts)


def list_models(pattern: str | None = None) -> list[str]:
    """Preset names, sorted; ``pattern`` is a case-insensitive substring filter."""
    _ensure_presets()
    return sorted(n for n in _PRESETS if pattern is None or pattern.lower() in n.lower())


def get_preset(name: str) -> Preset:
    _ensure_presets()
    if name not in _PRESETS:
        close = difflib.get_close_matches(name, _PRESETS, n=5)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown model {name!r}.{hint} `stablenets models` lists all {len(_PRESETS)} presets.")
    return _PRESETS[name]


def smallest_of_family(name: str) -> str:
    """The preset of ``name``'s family with the fewest layers (itself when it has no depth or no smaller kin)."""
    preset = get_preset(name)
    if preset.depth is None:
        return name
    kin = [p for p in _PRESETS.values() if p.family == preset.family and p.depth is not None]
    return min(kin, key=lambda p: (p.depth, p.name != name, p.name)).name


def _parameters(fn) -> set[str]:
    return {p.name for p in inspect.signature(fn).parameters.values()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def _settings_groups(fn) -> dict[str, object]:
    """Builder parameters whose default is a settings dataclass (``ode=ODESettings()``): name → default.

    Their fields are keys of their own: ``create_model("sonet-32", rtol=0.01)`` sets ``ode.rtol``.
    """
    return {p.name: p.default for p in inspect.signature(fn).parameters.values()
            if dataclasses.is_dataclass(p.default) and not isinstance(p.default, type)}


def _input_defaults(preset: Preset, builder_keys: set[str], overrides: dict) -> dict:
    """in_channels, mean, std, image_size of the data set (the preset's or ``dataset=``), where the builder takes them."""
    dataset = overrides.pop("dataset", preset.dataset)
    info = dataset_info(dataset)
    if info.kind != "image" or "mean" not in builder_keys:
        return {}
    given = {k for k in ("mean", "std") if k in overrides}
    channels = overrides.get("in_channels", info.in_channels)
    if channels != info.in_channels and given != {"mean", "std"}:
        raise SettingError(f"model {preset.name!r} normalises its input with the statistics of {dataset!r} "
                           f"({info.in_channels} channels) but in_channels = {channels}: pass dataset=<name> "
                           "or both mean= and std=")
    defaults = {"in_channels": info.in_channels, "mean": info.mean, "std": info.std}
    if "image_size" in builder_keys:
        defaults["image_size"] = info.image_size
    return defaults


def resolve_arguments(preset: Preset, num_classes: int, overrides: dict, strict: bool = False) -> dict:
    """The builder's final keyword arguments: data-set inputs, preset args, then overrides, scheme keys routed to the scheme."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    builder_keys = _parameters(preset.builder)
    check_arguments(preset.builder, {k: v for k, v in overrides.items() if k in builder_keys})
    args = {**_input_defaults(preset, builder_keys, overrides), **preset.args}
    if "scheme" in overrides and "scheme" not in builder_keys:
        raise ValueError(f"model {preset.name!r} is built from continuous ODE blocks and takes no discrete scheme; "
                         "pick a discrete backbone (e.g. resnet10, soblock-64) to pair it with a scheme")
    if overrides.get("scheme", "euler") not in SCHEMES and not hasattr(overrides.get("scheme"), "make_step"):
        raise ValueError(f"unknown scheme {overrides['scheme']!r}; valid schemes: {', '.join(sorted(SCHEMES))}")
    if "scheme" in overrides and overrides["scheme"] != args.get("scheme"):
        args["scheme_args"] = {}
    scheme_args = dict(args.get("scheme_args") or {})
    scheme_args.update(overrides.pop("scheme_args", None) or {})
    scheme_name = overrides.get("scheme", args.get("scheme", "euler"))
    scheme_keys = set()
    if "scheme" in builder_keys and scheme_name in SCHEMES:
        scheme_keys = set(SCHEMES[scheme_name].setting_names())
    group_defaults = _settings_groups(preset.builder)
    groups = {name: {f.name for f in dataclasses.fields(default)} for name, default in group_defaults.items()}
    for key, value in overrides.items():
        group = next((name for name, fields in groups.items() if key in fields), None)
        if key in builder_keys:
            args[key] = value
        elif group is not None:
            args[group] = dataclasses.replace(args.get(group, group_defaults[group]), **{key: value})
        elif key in scheme_keys:
            scheme_args[key] = value
        else:
            valid = sorted((builder_keys | scheme_keys | set().union(*groups.values()) | {"dataset"}) - {"scheme_args"})
            raise ValueError(f"model {preset.name!r} has no setting {key!r}; valid settings: {', '.join(valid)}")
    if "scheme" in builder_keys:
        if strict and "strict" in scheme_keys:
            scheme_args["strict"] = True
        args["scheme_args"] = scheme_args
    args["num_classes"] = num_classes
    return check_arguments(preset.builder, args)


def create_model(name: str, num_classes: int = 10, strict: bool = False, **overrides) -> nn.Module:
    """Build a preset by name.

    Examples::

        create_model("in-resnet-110")
        create_model("resnet-56", scheme="multistep", alphas=(1/3, 5/9, 1/9), beta=16/9)
        create_model("resnet-20", dataset="mnist")               # MNIST's channels, size and statistics
        create_model("resnet-20", dataset="cifar100", num_classes=100)
        create_model("zerosnet-opt-20", strict=True)  # refuse coefficients that are not zero-stable
        create_model("sonet-32", solver="rk4", gamma=0.1)

    Multistep coefficients that are not zero-stable give a warning, or with
    ``strict=True`` a ValueError.
    """
    preset = get_preset(name)
    check("num_classes", num_classes, integer=True, ge=1)
    args = resolve_arguments(preset, num_classes, dict(overrides), strict)
    model = preset.builder(**args)
    model.stablenets_config = {"name": name, "num_classes": num_classes,
                               "overrides": {k: v for k, v in overrides.items() if v is not None}}
    return model


def _ensure_presets() -> None:
    from stablenets.models import presets  # noqa: F401  (registers on import)
