"""Attack arguments are typed, registered and checked before any work (issues 13 and 14).

Every registered attack declares its threat model and a settings dataclass that mirrors its
keyword defaults; a value that cannot mean what the user wants is refused with a message
naming the setting, in the API and in a suite, before the clean and noise runs.
"""
from __future__ import annotations

import dataclasses
import inspect
import math

import pytest
import torch
from hypothesis import given, settings as hsettings, strategies as st
from torch import nn

from stablenets.attacks import ATTACKS, fgsm, get_attack_spec, ifgsm, pgd, spsa
from stablenets.attacks.base import Norm
from stablenets.evaluation import evaluate_robustness
from stablenets.settings import SettingError


def linear():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 3))


X, Y = torch.rand(4, 3, 2, 2), torch.zeros(4, dtype=torch.long)


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_settings_mirror_the_function_defaults(name):
    spec = ATTACKS[name]
    params = inspect.signature(spec.fn).parameters
    for f in dataclasses.fields(spec.settings):
        assert params[f.name].default == f.default, (name, f.name)
    assert spec.norm is not None or "norm" in {f.name for f in dataclasses.fields(spec.settings)}
    assert spec.summary


@pytest.mark.parametrize("alpha", [-2 / 255, float("nan"), 0.0, float("inf")])
def test_a_step_that_cannot_mean_ascent_is_refused(alpha):
    with pytest.raises(SettingError, match="alpha"):
        pgd(linear(), X, Y, 0.1, alpha, 3)
    with pytest.raises(SettingError, match="alpha"):
        ifgsm(linear(), X, Y, 0.1, alpha, 3)


def test_radius_steps_and_scalars():
    with pytest.raises(SettingError, match="eps"):
        pgd(linear(), X, Y, 1.5, 0.1, 3)            # L∞ ε > 1 is more than the pixel box
    with pytest.raises(SettingError, match="eps"):
        fgsm(linear(), X, Y, float("nan"))
    with pytest.raises(SettingError, match="steps"):
        pgd(linear(), X, Y, 0.1, 0.01, -1)
    with pytest.raises(SettingError, match="samples"):
        spsa(linear(), X, Y, 0.1, samples=0)
    with pytest.raises(SettingError, match=r"fgsm\.eps = \[0\.1, 0\.2\]: must be a number"):
        fgsm(linear(), X, Y, [0.1, 0.2])
    # an L2 radius may exceed 1 (the L2 diameter of the box is √d)
    assert pgd(linear(), X, Y, 1.5, 0.5, 2, norm="l2").shape == X.shape


@hsettings(max_examples=40, deadline=None)
@given(value=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5)))
def test_every_pgd_setting_is_checked_against_its_range(value):
    spec = get_attack_spec("pgd")
    for f in dataclasses.fields(spec.settings):
        if f.name in ("norm", "loss", "random_start", "keep_best"):
            continue
        good = dict(eps=0.1, alpha=0.01, steps=3, restarts=1)
        good[f.name] = value
        r = f.metadata["range"]
        ok = (isinstance(value, int) or not r.get("integer")) and math.isfinite(value) and \
            (r.get("ge") is None or value >= r["ge"]) and (r.get("gt") is None or value > r["gt"]) and \
            (f.name != "eps" or value <= 1)
        if ok:
            spec.make(good)
        else:
            with pytest.raises(SettingError, match=f.name):
                spec.make(good)


def test_suite_typos_and_bad_values_are_refused_before_any_work():
    calls = []

    class Counting(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = linear()

        def forward(self, x):
            calls.append(x.shape[0])
            return self.net(x)

    m = Counting()
    for overrides, where in (({"attacks.fgsm.epz": [0.1]}, "attacks.fgsm.epz"),
                             ({"attacks.pgd.alpha": -0.01}, "attacks.pgd.alpha"),
                             ({"attacks.pgd.steps": -1}, "attacks.pgd.steps"),
                             ({"eps.linf": [2.0]}, "eps.linf"),
                             ({"attacks.nope": {"attack": "fgsmm"}}, "unknown attack"),
                             ({"noise.cifar10c.severities": [7]}, "severities"),
                             ({"solver.rtol": -1.0}, "solver.rtol")):
        with pytest.raises(SettingError, match=where.replace(".", r"\.")):
            evaluate_robustness(m, X, Y, "quick", overrides, progress=False)
    assert calls == []   # no forward pass: refused before the clean and noise runs
    r = evaluate_robustness(m, X, Y, "quick", {"eps.linf": 0.05, "diagnostics.enabled": False,
                                               "noise.cifar10c.severities": [1]}, progress=False)
    assert list(r["attacks"]["pgd"]["accuracy"]) == ["0.05"]   # a scalar ε is one radius


def test_threat_models_are_declared_not_switched_on_names():
    assert get_attack_spec("cw_l2").norm is Norm.L2 and get_attack_spec("cw_l2").radius == "bound"
    assert get_attack_spec("spsa").gradient == "gradient-free"
    assert get_attack_spec("autoattack").whole_set
    spec = get_attack_spec("pgd")
    assert spec.norm_of(spec.make({"norm": "l2", "eps": 2.0})) is Norm.L2
