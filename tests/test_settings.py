"""The one place that says which values a setting accepts (stablenets.settings)."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import pytest

from stablenets.settings import SettingError, check, describe, setting, validate


@dataclass
class Inner:
    alpha: float = setting(2 / 255, "step size", gt=0)


@dataclass
class Outer:
    steps: int = setting(10, "iterations", ge=0, integer=True)
    kind: str = setting("pgd", "attack", choices=("pgd", "fgsm"))
    eps: list = setting(default_factory=lambda: [8 / 255], help="radii", nonempty=True, each=dict(ge=0, le=1))
    inner: Inner = field(default_factory=Inner)


def test_valid_values_pass_unchanged():
    value = Outer(steps=0, kind="fgsm", eps=[0.0, 1.0], inner=Inner(alpha=1e-6))
    assert validate(value, "attack") is value
    assert (value.steps, value.kind, value.eps, value.inner.alpha) == (0, "fgsm", [0.0, 1.0], 1e-6)


@pytest.mark.parametrize("kwargs, name", [
    (dict(steps=-1), "steps"), (dict(steps=2.5), "steps"), (dict(steps=True), "steps"),
    (dict(kind="cw"), "kind"), (dict(eps=[]), "eps"), (dict(eps=[0.1, 2.0]), "eps[1]"),
    (dict(eps="0.1"), "eps"), (dict(inner=Inner(alpha=-0.1)), "inner.alpha"),
    (dict(inner=Inner(alpha=math.nan)), "inner.alpha"),
])
def test_invalid_value_names_the_setting(kwargs, name):
    with pytest.raises(SettingError, match="^" + re.escape(f"attack.{name} = ")):
        validate(Outer(**kwargs), "attack")


def test_boundaries_are_inclusive_or_exclusive_as_declared():
    assert check("x", 0, ge=0) == 0
    with pytest.raises(SettingError):
        check("x", 0, gt=0)
    with pytest.raises(SettingError, match="finite"):
        check("x", math.inf, ge=0)
    assert check("x", None, ge=0, optional=True) is None


def test_describe_lists_every_setting_with_its_range():
    rows = {name: accepted for name, _, _, accepted in describe(Outer)}
    assert rows["steps"] == "an integer, ≥ 0"
    assert rows["inner.alpha"] == "> 0"
    assert "one of 'pgd', 'fgsm'" in rows["kind"]
