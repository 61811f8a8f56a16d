"""Every setting of TrainConfig, with valid, boundary and invalid values: an invalid one is refused
before any data is loaded, by one SettingError naming the setting; valid and boundary values pass.

The values are generated from each setting's own declared range (its ``setting(...)`` metadata),
so a new setting is walked as soon as it exists, and a range written down wrongly shows up here.
"""
from __future__ import annotations

import dataclasses
import json
import math
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stablenets.settings import SettingError
from stablenets.training import TrainConfig, apply_overrides, check_settings, train
from stablenets.training import trainer


def fields():
    """(dotted name, default, range, type) of every TrainConfig setting."""
    out = []
    for section in dataclasses.fields(TrainConfig):
        default = section.default_factory() if section.default_factory is not dataclasses.MISSING else None
        if dataclasses.is_dataclass(default):
            hints = {f.name: f.type for f in dataclasses.fields(default)}
            for f in dataclasses.fields(default):
                out.append((f"{section.name}.{f.name}", getattr(default, f.name), f.metadata["range"], hints[f.name]))
        else:
            out.append((section.name, section.default, section.metadata["range"], section.type))
    return out


FIELDS = fields()
NAMES = [name for name, *_ in FIELDS]


def toml(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value == math.inf else "-inf" if value == -math.inf
                                                else repr(value))
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _numbers(r: dict, integer: bool):
    """Values outside the numeric range r, and valid values on and inside its bounds."""
    bad, good = [], []
    num = st.integers if integer else (lambda **k: st.floats(allow_nan=False, allow_infinity=False, **k))
    if r.get("ge") is not None:
        bad.append(num(max_value=r["ge"] - 1) if integer else num(max_value=r["ge"], exclude_max=True))
        good.append(st.just(r["ge"]))
    if r.get("gt") is not None:
        bad.append(num(max_value=r["gt"]) if integer else num(max_value=r["gt"]))
        good.append(st.just(r["gt"] + (1 if integer else 1e-6)))
    if r.get("le") is not None:
        bad.append(num(min_value=r["le"] + 1) if integer else num(min_value=r["le"], exclude_min=True))
        good.append(st.just(r["le"]))
    if r.get("lt") is not None:
        bad.append(num(min_value=r["lt"]) if integer else num(min_value=r["lt"]))
    if integer:
        bad += [st.just(1.5), st.just(True), st.just("3")]
    elif bad:
        bad += [st.just(math.nan), st.just(math.inf), st.just("0.1x")]
    lo = r.get("ge", r.get("gt"))
    hi = r.get("le", r.get("lt"))
    if integer:
        good.append(st.integers(min_value=(lo if r.get("ge") is not None else (lo or 0) + 1) if lo is not None
                                else -5, max_value=hi if hi is not None else 10 ** 6).filter(
            lambda v: r.get("lt") is None or v < r["lt"]))
    else:
        good.append(st.floats(min_value=lo if lo is not None else -1e6, max_value=hi if hi is not None else 1e6,
                              allow_nan=False).filter(lambda v: (r.get("gt") is None or v > r["gt"])
                                                      and (r.get("lt") is None or v < r["lt"])))
    return bad, good


def cases(name, default, r, hint):
    """(invalid-value strategy, valid-value strategy) for one setting."""
    if r.get("choices"):
        return (st.sampled_from(["nope", "", 3]),
                st.sampled_from(list(r["choices"])))
    if isinstance(default, bool):
        return st.sampled_from(["maybe", 2, [True]]), st.booleans()
    if r.get("each"):
        inner_bad, inner_good = _numbers(r["each"], bool(r["each"].get("integer")))
        length = 2 if name == "optim.betas" else None
        good = st.lists(st.one_of(inner_good), min_size=length or 0, max_size=length or 4)
        bad = st.one_of(st.just("word"), st.just(0.5),
                        st.lists(st.one_of(inner_bad), min_size=length or 1, max_size=length or 3))
        return bad, good
    if isinstance(default, dict):
        return st.sampled_from([[1, 2], "word", 3]), st.just({})
    if isinstance(default, (int, float)) or r.get("integer"):
        bad, good = _numbers(r, bool(r.get("integer")))
        return st.one_of(bad), st.one_of(good)
    # text
    bad = [st.just(5), st.just([1])]
    if r.get("nonempty"):
        bad.append(st.just(""))
    if name == "model.name":
        bad.append(st.just("no-such-model-20"))
        good = st.sampled_from(["resnet-20", "in-resnet-8", "zerosnet-opt-8"])
    elif name == "data.dataset":
        bad.append(st.just("no-such-data"))
        good = st.sampled_from(["cifar10", "mnist", "embedded-mnist"])
    elif name == "data.root":
        good = st.sampled_from([None, "/some/folder"])
    elif name == "run.compile_backend":
        good = st.just("eager")
    else:
        good = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=8)
    return st.one_of(bad), good


# Settings that other settings must agree with for a value to be valid (checked by the cross-setting rules).
CONTEXT = {"mode.kind": ["mode.sigma=0.1"]}


def refusal(name: str, value) -> str:
    with pytest.raises(SettingError) as info:
        check_settings(apply_overrides(TrainConfig(), [f"{name}={toml(value)}"]))
    return str(info.value)


@pytest.mark.parametrize("name, default, r, hint", FIELDS, ids=NAMES)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_setting_refuses_what_it_cannot_mean_and_accepts_its_range(name, default, r, hint, data):
    bad, good = cases(name, default, r, hint)
    value = data.draw(bad, label="invalid")
    message = refusal(name, value)
    assert name in message, (name, value, message)
    valid = data.draw(good, label="valid")
    cfg = check_settings(apply_overrides(TrainConfig(), [*CONTEXT.get(name, []), f"{name}={toml(valid)}"]))
    section, _, key = name.partition(".")
    got = getattr(getattr(cfg, section), key) if key else getattr(cfg, section)
    assert got == valid or (isinstance(valid, float) and got == pytest.approx(valid))


def test_the_walk_covers_every_setting():
    from stablenets.settings import describe

    assert {row[0] for row in describe(TrainConfig)} == set(NAMES) and len(NAMES) >= 45


@pytest.mark.parametrize("overrides, named", [
    (["data.eval_batch_size=0"], "data.eval_batch_size"),
    (["run.max_steps_per_epoch=-1"], "run.max_steps_per_epoch"),
    (["mode.kind=noisy", "mode.sigma=0"], "mode.sigma"),
    (["mode.kind=noisy", "mode.sigma=-0.1"], "mode.sigma"),
    (["optim.weight_decay=-1e-4"], "optim.weight_decay"),
    (["schedule.warmup_epochs=-1"], "schedule.warmup_epochs"),
    (["data.train_subset=-5"], "data.train_subset"),
    (["data.test_subset=-1"], "data.test_subset"),
    (["schedule.milestones=eighty"], "schedule.milestones"),
    (["schedule.gamma=nan"], "schedule.gamma"),
    (["optim.lr=inf"], "optim.lr"),
    (["mode.kind=pgd", "mode.alpha=-0.01"], "mode.alpha"),
    (["mode.kind=pgd", "mode.eps=2"], "mode.eps"),
    (["mode.kind=trades", "mode.steps=0"], "mode.steps"),
    (["optim.nesterov=true", "optim.momentum=0"], "optim.nesterov"),
    (["optim.betas=[0.9]"], "optim.betas"),
    (["model.name=resnet-21"], "model.name"),
    (["eval.suite=nope"], "eval.suite"),
])
def test_the_issues_cases_are_refused_before_any_data_is_loaded(overrides, named, tmp_path, capsys):
    """Through ``stablenets train`` and through ``train()``: one line naming the setting, no data read."""
    from stablenets.cli import main

    with mock.patch.object(trainer, "load_splits", side_effect=AssertionError("data loaded before the check")):
        assert main(["train", "b-moons-mlp-h0.1", "--out", str(tmp_path / "r"), *overrides]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and named in err, err
        if named != "eval.suite":
            cfg = TrainConfig()
            for pair in overrides:  # bypass the override parser: the API path checks too
                key, _, raw = pair.partition("=")
                section, _, leaf = key.partition(".")
                from stablenets.overrides import parse_value

                setattr(getattr(cfg, section), leaf, parse_value(raw))
            with pytest.raises(SettingError, match=named.replace(".", r"\.")):
                train(cfg, tmp_path / "api", device="cpu")
    assert not (tmp_path / "r").exists() and not (tmp_path / "api").exists()
