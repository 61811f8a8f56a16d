"""Every setting's valid range, written once next to its definition, and checked before any work.

A setting is a dataclass field made with :func:`setting`; its metadata holds the range and a
one-line help text. :func:`validate` walks a dataclass (recursively) and raises one
:class:`SettingError` naming the first bad setting by its dotted path, what it got and what it
accepts. The command line turns a :class:`SettingError` into one line on stderr and exit status 2.

    @dataclass
    class PGDSettings:
        eps: float = setting(8 / 255, "radius in pixel units", ge=0, le=1)
        steps: int = setting(10, "iterations", ge=0, integer=True)

    validate(PGDSettings(steps=-1), "attack.pgd")   # SettingError: attack.pgd.steps = -1: must be ≥ 0

Plain values (outside a dataclass) are checked with :func:`check`, which takes the same
keywords. Ranges: ``ge``/``gt``/``le``/``lt`` bounds, ``integer`` (an int, not a bool or a float),
``number`` (an int or a float, not a bool), ``finite`` (default on for numbers: NaN and ±inf are
refused), ``choices`` (a value among these), ``nonempty`` (a sequence or string with at least one
element), ``each`` (a dict of these keywords applied to every element of a list or tuple),
``broadcast`` (a single number also stands for every element, and is checked by ``each``).

The keyword arguments of a function (a model builder) declare their ranges with :func:`ranges`,
the same keywords per argument, and are checked with :func:`check_arguments`:

    @ranges(width=dict(integer=True, ge=1), dropout=dict(ge=0, lt=1))
    def wide_resnet(width=10, dropout=0.0): ...

    check_arguments(wide_resnet, {"width": 0})   # SettingError: width = 0: must be ≥ 1 (accepted: …)
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

__all__ = ["SettingError", "setting", "check", "validate", "describe", "range_text", "ranges", "argument_ranges",
           "check_arguments"]

_RANGE_KEYS = ("ge", "gt", "le", "lt", "integer", "number", "finite", "choices", "nonempty", "each", "broadcast",
               "optional")


class SettingError(ValueError):
    """A setting whose value cannot mean what the user wants; the message names the setting."""


def setting(default: Any = dataclasses.MISSING, help: str = "", *, default_factory: Any = dataclasses.MISSING,
            **range_: Any) -> Any:
    """A dataclass field carrying its help text and valid range (see the module docstring)."""
    unknown = set(range_) - set(_RANGE_KEYS)
    if unknown:
        raise TypeError(f"unknown range keyword(s) {sorted(unknown)}; valid: {list(_RANGE_KEYS)}")
    metadata = {"help": help, "range": range_}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def range_text(**range_: Any) -> str:
    """The accepted values in words, as error messages and ``--help`` show them."""
    parts = []
    if range_.get("choices") is not None:
        parts.append("one of " + ", ".join(repr(c) for c in range_["choices"]))
    if range_.get("integer"):
        parts.append("an integer")
    elif range_.get("number"):
        parts.append("a finite number" if range_.get("finite", True) else "a number")
    for key, symbol in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
        if range_.get(key) is not None:
            parts.append(f"{symbol} {range_[key]:g}" if isinstance(range_[key], float) else f"{symbol} {range_[key]}")
    if range_.get("nonempty"):
        parts.append("not empty")
    if range_.get("each"):
        parts.append("each element " + range_text(**range_["each"]))
    if range_.get("broadcast"):
        parts.append("or one number for every element")
    if range_.get("optional"):
        parts.append("or None")
    return ", ".join(parts) if parts else "any value"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check(name: str, value: Any, *, ge: Any = None, gt: Any = None, le: Any = None, lt: Any = None,
          integer: bool = False, number: bool = False, finite: bool = True, choices: Sequence | None = None,
          nonempty: bool = False, each: dict | None = None, broadcast: bool = False, optional: bool = False) -> Any:
    """Return ``value`` if it lies in the range, else raise one :class:`SettingError` naming ``name``."""
    if value is None and optional:
        return value
    if broadcast and _is_number(value):  # one number for every element
        return check(name, value, **dict(each or {}, number=True))
    range_ = dict(ge=ge, gt=gt, le=le, lt=lt, integer=integer, number=number, finite=finite, choices=choices,
                  nonempty=nonempty, each=each, broadcast=broadcast, optional=optional)

    def fail(why: str) -> SettingError:
        return SettingError(f"{name} = {value!r}: {why} (accepted: {range_text(**range_)})")

    if choices is not None and value not in choices:
        raise fail("not an accepted value")
    if integer and not (isinstance(value, int) and not isinstance(value, bool)):
        raise fail("must be an integer")
    bounded = any(b is not None for b in (ge, gt, le, lt))
    if bounded or integer or number:
        if not _is_number(value):
            raise fail("must be a number")
    if _is_number(value) and finite and not math.isfinite(value):
        raise fail("must be finite")
    if ge is not None and not value >= ge:
        raise fail(f"must be ≥ {ge}")
    if gt is not None and not value > gt:
        raise fail(f"must be > {gt}")
    if le is not None and not value <= le:
        raise fail(f"must be ≤ {le}")
    if lt is not None and not value < lt:
        raise fail(f"must be < {lt}")
    if nonempty and (not isinstance(value, (str, Sequence)) or len(value) == 0):
        raise fail("must not be empty")
    if each is not None:
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise fail("must be a list")
        for i, element in enumerate(value):
            check(f"{name}[{i}]", element, **each)
    return value


def validate(obj: Any, prefix: str = "") -> Any:
    """Check every :func:`setting` field of a dataclass (and of nested dataclasses); return ``obj``."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        name = f"{prefix}.{f.name}" if prefix else f.name
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            validate(value, name)
            continue
        range_ = f.metadata.get("range")
        if range_ is not None:
            check(name, value, **range_)
    return obj


def describe(cls: Any, prefix: str = "") -> list[tuple[str, Any, str, str]]:
    """(dotted name, default, help, accepted values) for every setting of a dataclass type, for ``--help``."""
    rows = []
    for f in dataclasses.fields(cls):
        name = f"{prefix}.{f.name}" if prefix else f.name
        if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        else:
            default = f.default
        if dataclasses.is_dataclass(default) and not isinstance(default, type):
            rows.extend(describe(type(default), name))
            continue
        if "range" in f.metadata:
            rows.append((name, default, f.metadata.get("help", ""), range_text(**f.metadata["range"])))
    return rows


def ranges(**declared: dict) -> Any:
    """Declare the valid range of keyword arguments of a function: ``argument=dict(<check keywords>)``."""
    for name, range_ in declared.items():
        unknown = set(range_) - set(_RANGE_KEYS)
        if unknown:
            raise TypeError(f"{name}: unknown range keyword(s) {sorted(unknown)}; valid: {list(_RANGE_KEYS)}")

    def mark(fn):
        import inspect

        unknown = set(declared) - set(inspect.signature(fn).parameters)
        if unknown:
            raise TypeError(f"{fn.__name__} has no argument(s) {sorted(unknown)} to declare a range for")
        fn.__setting_ranges__ = {**getattr(fn, "__setting_ranges__", {}), **declared}
        return fn

    return mark


def argument_ranges(fn: Any) -> dict[str, dict]:
    """{argument: range} declared for ``fn`` with :func:`ranges`."""
    return dict(getattr(fn, "__setting_ranges__", {}))


def check_arguments(fn: Any, args: dict, prefix: str = "") -> dict:
    """Check every argument in ``args`` that ``fn`` declares a range for; return ``args``."""
    declared = argument_ranges(fn)
    for name, value in args.items():
        if name in declared:
            check(f"{prefix}{name}", value, **declared[name])
    return args
