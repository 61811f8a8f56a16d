"""Named presets and ``create_model`` (timm-style).

A preset is a builder (a backbone function) plus fixed arguments, including
its scheme and the scheme's settings. ``create_model(name, **overrides)``
merges the overrides over the preset: a key the builder takes goes to the
builder; a key the preset's scheme takes (``h``, ``alphas``, ``iterations``,
``lambda_init`` …) goes to the scheme's settings; ``scheme=`` swaps the scheme
(its settings then start empty). Anything else is an error naming the valid
keys. None-valued overrides are dropped, so defaults win.

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

from stablenets.schemes import SCHEMES


@dataclass(frozen=True)
class Preset:
    name: str
    builder: Callable[..., nn.Module]
    args: dict = field(default_factory=dict)
    description: str = ""
    paper: str = ""


_PRESETS: dict[str, Preset] = {}


def register_model(name: str, builder: Callable[..., nn.Module], description: str = "", paper: str = "", **args):
    """Register a preset; a duplicate name is a programming error."""
    if name in _PRESETS:
        raise ValueError(f"model preset {name!r} is registered twice")
    _PRESETS[name] = Preset(name, builder, args, description, paper)


def list_models(pattern: str | None = None) -> list[str]:
    """Preset names, sorted; ``pattern`` is a substring filter."""
    _ensure_presets()
    return sorted(n for n in _PRESETS if pattern is None or pattern in n)


def get_preset(name: str) -> Preset:
    _ensure_presets()
    if name not in _PRESETS:
        close = difflib.get_close_matches(name, _PRESETS, n=5)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown model {name!r}.{hint} `stablenets models` lists all {len(_PRESETS)} presets.")
    return _PRESETS[name]


def _parameters(fn) -> set[str]:
    return {p.name for p in inspect.signature(fn).parameters.values()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def _settings_groups(fn) -> dict[str, object]:
    """Parameters whose default is a settings dataclass (``ode=ODESettings()``): name → default.

    Their fields are keys of their own: ``create_model("sonet-32", rtol=0.01)`` sets ``ode.rtol``.
    """
    return {p.name: p.default for p in inspect.signature(fn).parameters.values()
            if dataclasses.is_dataclass(p.default) and not isinstance(p.default, type)}


def _route(fn, target: dict, key: str, value) -> bool:
    """Put ``key=value`` into ``target`` (fn's keyword arguments) if fn, or one of its settings groups, takes it."""
    if key in _parameters(fn):
        target[key] = value
        return True
    for group, default in _settings_groups(fn).items():
        if key in {f.name for f in dataclasses.fields(default)}:
            current = target.get(group, default)
            target[group] = (dataclasses.replace(current, **{key: value}) if dataclasses.is_dataclass(current)
                             else {**current, key: value})
            return True
    return False


def _keys(fn) -> set[str]:
    groups = [{f.name for f in dataclasses.fields(d)} for d in _settings_groups(fn).values()]
    return _parameters(fn).union(*groups)


def resolve_arguments(preset: Preset, num_classes: int, overrides: dict, strict: bool = False) -> dict:
    """The builder's final keyword arguments: preset args, then overrides, scheme keys routed to the scheme."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    args = dict(preset.args)
    builder_keys = _parameters(preset.builder)
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
    scheme = SCHEMES[scheme_name] if "scheme" in builder_keys and scheme_name in SCHEMES else None
    for key, value in overrides.items():
        if not (_route(preset.builder, args, key, value) or (scheme and _route(scheme, scheme_args, key, value))):
            valid = sorted((_keys(preset.builder) | (_keys(scheme) if scheme else set())) - {"scheme_args"})
            raise ValueError(f"model {preset.name!r} has no setting {key!r}; valid settings: {', '.join(valid)}")
    if "scheme" in builder_keys:
        if scheme_name == "multistep":
            scheme_args["strict"] = strict or scheme_args.get("strict", False)
        args["scheme_args"] = scheme_args
    args["num_classes"] = num_classes
    return args


def create_model(name: str, num_classes: int = 10, strict: bool = False, **overrides) -> nn.Module:
    """Build a preset by name.

    Examples::

        create_model("in-resnet-110")
        create_model("resnet-56", scheme="multistep", alphas=(1/3, 5/9, 1/9), beta=16/9)
        create_model("resnet-20", in_channels=1, mean=(0.1307,), std=(0.3081,))  # MNIST
        create_model("zerosnet-opt-20", strict=True)  # refuse coefficients that are not zero-stable
        create_model("sonet-32", solver="rk4", gamma=0.1)

    Multistep coefficients that are not zero-stable give a warning, or with
    ``strict=True`` a ValueError.
    """
    preset = get_preset(name)
    args = resolve_arguments(preset, num_classes, dict(overrides), strict)
    model = preset.builder(**args)
    model.stablenets_config = {"name": name, "num_classes": num_classes, "strict": strict,
                               "overrides": {k: v for k, v in overrides.items() if v is not None}}
    return model


def _ensure_presets() -> None:
    from stablenets.models import presets  # noqa: F401  (registers on import)
