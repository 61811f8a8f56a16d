"""Every argument of every backbone and preset has a declared range, checked by create_model before
anything is built (and so by train before any file is written); property-based, like the settings."""
from __future__ import annotations

import dataclasses
import inspect
import math
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stablenets.cli import main
from stablenets.data.info import dataset_info
from stablenets.models import create_model, list_models
from stablenets.models.registry import get_preset, resolve_arguments
from stablenets.settings import SettingError, argument_ranges

# Arguments that are not values a user types: the scheme (checked by name against the schemes, its settings
# by the scheme's own dataclass) and a module that replaces a layer.
NOT_VALUES = {"scheme", "scheme_args", "stem"}


def _builders() -> dict:
    """{builder: the first preset built with it}."""
    out = {}
    for name in list_models():
        out.setdefault(get_preset(name).builder, name)
    return out


BUILDERS = _builders()
CASES = [(preset, arg) for builder, preset in BUILDERS.items() for arg in sorted(argument_ranges(builder))]


def test_every_argument_of_every_builder_has_a_declared_range():
    assert len(BUILDERS) >= 9
    for builder, preset in BUILDERS.items():
        params = inspect.signature(builder).parameters.values()
        values = {p.name for p in params
                  if p.name not in NOT_VALUES and not dataclasses.is_dataclass(p.default)}  # ode=ODESettings: its own
        assert values <= set(argument_ranges(builder)), (builder.__name__, values - set(argument_ranges(builder)))


def test_every_preset_lies_in_its_builders_ranges():
    for name in list_models():
        resolve_arguments(get_preset(name), 10, {})  # raises if a preset's own argument were out of range


def _element_cases(r: dict):
    """(bad, good) strategies for one element of a list range, or for a plain number."""
    if r.get("integer"):
        lo = r.get("ge", 1)
        return (st.one_of(st.integers(max_value=lo - 1), st.sampled_from([1.5, True, "3"])),
                st.integers(min_value=lo, max_value=lo + 64))
    floats = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6)
    bad = [st.sampled_from([math.nan, math.inf, -math.inf, "0.1x", True])]
    if r.get("ge") is not None:
        bad.append(st.floats(max_value=r["ge"], exclude_max=True, allow_nan=False, min_value=-1e6))
        floats = floats.filter(lambda v: v >= r["ge"])
    if r.get("gt") is not None:
        bad.append(st.floats(max_value=r["gt"], allow_nan=False, min_value=-1e6))
        floats = floats.filter(lambda v: v > r["gt"])
    if r.get("lt") is not None:
        bad.append(st.floats(min_value=r["lt"], allow_nan=False, max_value=1e6))
        floats = floats.filter(lambda v: v < r["lt"])
    return st.one_of(bad), floats


def cases(preset: str, arg: str, r: dict):
    """(invalid, valid) value strategies for argument ``arg`` of ``preset``'s builder with range ``r``."""
    if r.get("choices") is not None:
        choices = r["choices"]
        bad = st.sampled_from(["nope", -7, 2.5, [1]]).filter(lambda v: all(v != c for c in choices))
        return bad, st.sampled_from(list(choices))
    if r.get("each") is not None:
        bad_element, good_element = _element_cases(r["each"])
        channels = dataset_info(get_preset(preset).dataset).in_channels
        size = channels if arg in ("mean", "std") else None
        good = st.lists(good_element, min_size=size or 1, max_size=size or 4)
        if r.get("broadcast"):  # one number stands for every element: a bad element alone is bad, a good one good
            bad = st.one_of(st.just([]), st.just("word"), bad_element.filter(lambda v: not isinstance(v, str)),
                            st.lists(bad_element, min_size=size or 1, max_size=size or 3))
            return bad, st.one_of(good, good_element)
        bad = st.one_of(st.just([]), st.just("word"), st.just(0.5),
                        st.lists(bad_element, min_size=size or 1, max_size=size or 3))
        return bad, good
    return _element_cases(r)


@pytest.mark.parametrize("preset, arg", CASES, ids=[f"{p}.{a}" for p, a in CASES])
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_argument_refuses_what_it_cannot_mean_and_accepts_its_range(preset, arg, data):
    r = argument_ranges(get_preset(preset).builder)[arg]
    bad, good = cases(preset, arg, r)
    value = data.draw(bad, label="invalid")
    with pytest.raises(SettingError) as info:
        create_model(preset, **({"num_classes": value} if arg == "num_classes" else {arg: value}))
    assert re.match(rf"{arg}(\[\d+\])? = ", str(info.value)), str(info.value)
    valid = data.draw(good, label="valid")
    if arg == "num_classes":
        assert resolve_arguments(get_preset(preset), valid, {})["num_classes"] == valid
        return
    image = "mean" in argument_ranges(get_preset(preset).builder)  # other channels need their statistics
    extra = {"mean": [0.5] * valid, "std": [0.25] * valid} if arg == "in_channels" and image else {}
    assert resolve_arguments(get_preset(preset), 10, {arg: valid, **extra})[arg] == valid


def test_the_issues_cases_are_one_error_before_any_file(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("STABLENETS_DATA", raising=False)
    with pytest.raises(SettingError, match=r"^width = 0: must be ≥ 1 \(accepted: an integer, ≥ 1\)$"):
        create_model("ie-resnet-1-18-w8", width=0)
    for override, named in (("model.overrides.width=0", "width = 0"), ("model.overrides.mean=[nan]", "mean[0] = nan"),
                            ("model.overrides.std=[inf]", "std[0] = inf"), ("model.overrides.depth=19", "depth = 19")):
        out = tmp_path / override.split("=")[0]
        code = main(["train", "C-table1/ie-resnet-1-18", "--scale", "smoke", "data.dataset=embedded-mnist", override,
                     "--out", str(out), "--device", "cpu"])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1 and named in err, err
        assert not out.exists()
