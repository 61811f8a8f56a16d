"""A packed run (training/packed.py) is the same run trained alone: same seed, same batches, same weights.

The stack shares no parameter between runs, so each run's gradient and optimiser update are its
own; only float summation order may differ between a grouped and a plain convolution.
"""
from __future__ import annotations

import json
import warnings

import pytest
import torch
from safetensors.torch import load_file

from stablenets.training import TrainConfig, apply_overrides, train
from stablenets.training.packed import pack_key, train_packed

BASE = ["data.dataset=embedded-mnist", "model.name=resnet-8", "model.overrides.widths=[4, 8, 8]",
        "data.batch_size=16", "data.train_subset=64", "data.test_subset=40", "run.epochs=2",
        "schedule.milestones=[1]", "optim.lr=0.05", "run.progress=false"]


def _cfg(*extra):
    return apply_overrides(TrainConfig(), [*BASE, *extra])


def _close(a, b, tol=2e-5):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=tol, rtol=tol), k


def _metrics(path):
    return [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("variant", ["seeds", "alphas"])
def test_packed_runs_equal_solo_runs(variant, tmp_path):
    if variant == "seeds":
        cfgs = [_cfg(f"run.seed={s}") for s in (0, 1, 2)]
    else:  # E-table1's rows: one architecture, different fixed multistep coefficients
        cfgs = [_cfg("run.seed=3", "model.overrides.scheme=multistep", f"model.overrides.alphas=[{a}]",
                     "model.overrides.beta=1.0") for a in (0.5, 1.0, 1.5)]
    assert len({pack_key(c) for c in cfgs}) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # α = 1.5 is not zero-stable: the warning is the point of E-table1
        results = train_packed(cfgs, [tmp_path / f"pack{i}" for i in range(3)], device="cpu", log=lambda *_: None)
        for i, cfg in enumerate(cfgs):
            train(cfg, tmp_path / f"solo{i}", device="cpu", log=lambda *_: None)
    for i in range(3):
        assert results[i]["packed"] == 3
        solo, packed = tmp_path / f"solo{i}", tmp_path / f"pack{i}"
        _close(load_file(str(solo / "model.safetensors")), load_file(str(packed / "model.safetensors")))
        ms, mp = _metrics(solo), _metrics(packed)
        assert [m["epoch"] for m in ms] == [m["epoch"] for m in mp] == [1, 2]
        for a, b in zip(ms, mp):
            assert a["step"] == b["step"] and a["lr"] == b["lr"]
            assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
            assert a["test_acc"] == pytest.approx(b["test_acc"], abs=1 / 40 + 1e-9)  # one test point at most
        opt_s = torch.load(solo / "train_state.pt", weights_only=False)["optimizer"]["state"]
        opt_p = torch.load(packed / "train_state.pt", weights_only=False)["optimizer"]["state"]
        assert opt_s.keys() == opt_p.keys()
        for k in opt_s if variant == "seeds" else ():  # accumulated gradients: the rounding differences of a
            # grouped against a plain convolution grow through BatchNorm, most at α = 0.5 (each block halves
            # the signal); that they are rounding only is test_stacked_gradients_are_the_solo_gradients
            a, b = opt_s[k]["momentum_buffer"], opt_p[k]["momentum_buffer"]
            assert (a - b).norm() <= 1e-3 * a.norm() + 1e-6, k
    # the runs differ from each other (a stack that trained one model R times would pass the above too)
    w = [load_file(str(tmp_path / f"pack{i}" / "model.safetensors")) for i in range(3)]
    convs = [k for k in w[0] if k.endswith(".weight") and w[0][k].dim() == 4]
    assert convs and not any(torch.allclose(w[0][k], w[1][k]) for k in convs)


def test_packed_resume_continues_like_an_uninterrupted_pack(tmp_path):
    cfgs = [_cfg(f"run.seed={s}") for s in (0, 1)]
    whole = train_packed(cfgs, [tmp_path / "a0", tmp_path / "a1"], device="cpu", log=lambda *_: None)
    first = [_cfg(f"run.seed={s}", "run.epochs=1") for s in (0, 1)]
    train_packed(first, [tmp_path / "b0", tmp_path / "b1"], device="cpu", log=lambda *_: None)
    again = train_packed(cfgs, [tmp_path / "b0", tmp_path / "b1"], device="cpu", resume=True, log=lambda *_: None)
    for i in range(2):
        assert again[i]["final"]["epoch"] == whole[i]["final"]["epoch"] == 2
        _close(load_file(str(tmp_path / f"a{i}" / "model.safetensors")),
               load_file(str(tmp_path / f"b{i}" / "model.safetensors")), tol=1e-6)


def test_what_cannot_be_packed_is_refused_before_any_file(tmp_path):
    assert pack_key(_cfg("mode.kind=pgd")) is None
    assert pack_key(_cfg("optim.grad_clip=1.0")) is None
    assert pack_key(_cfg("model.overrides.widths=[4, 8, 16]")) != pack_key(_cfg())
    with pytest.raises(ValueError, match="cannot be packed"):
        train_packed([_cfg(), _cfg("data.batch_size=8")], [tmp_path / "x", tmp_path / "y"], device="cpu")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_a_diverging_run_stops_alone_and_the_others_are_untouched(tmp_path, monkeypatch):
    import stablenets.training.packed as packed
    from stablenets.training.trainer import NonFiniteLossError

    real = packed.build_model

    def poisoned(cfg, dataset):  # run with seed 1 starts from a NaN weight: its loss is NaN at once
        model = real(cfg, dataset)
        if cfg.run.seed == 1:
            next(model.parameters()).data.fill_(float("nan"))
        return model

    monkeypatch.setattr(packed, "build_model", poisoned)
    cfgs = [_cfg("run.seed=0"), _cfg("run.seed=1")]
    results = train_packed(cfgs, [tmp_path / "ok", tmp_path / "bad"], device="cpu", log=lambda *_: None)
    assert isinstance(results[1], NonFiniteLossError) and results[1].epoch == 1 and results[1].step == 1
    assert not (tmp_path / "bad" / "model.safetensors").exists()  # no checkpoint holds a NaN weight
    assert isinstance(results[0], dict) and results[0]["final"]["epoch"] == 2
    monkeypatch.setattr(packed, "build_model", real)
    train(cfgs[0], tmp_path / "solo", device="cpu", log=lambda *_: None)
    _close(load_file(str(tmp_path / "solo" / "model.safetensors")), load_file(str(tmp_path / "ok" / "model.safetensors")))


def test_stacked_gradients_are_the_solo_gradients():
    """One float64 step: the stack's gradient of each run is that run's own, to rounding (1e-12)."""
    import copy

    import torch.nn.functional as F
    from torch.func import functional_call, stack_module_state, vmap

    import stablenets

    models = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for a in (0.5, 1.0, 1.5):
            torch.manual_seed(3)
            models.append(stablenets.create_model("resnet-8", 10, in_channels=1, mean=(0.13,), std=(0.3,),
                                                  widths=[4, 8, 8], scheme="multistep", alphas=[a],
                                                  beta=1.0).double())
    solo = [copy.deepcopy(m) for m in models]
    for m in models:
        for module in m.modules():
            if hasattr(module, "coefficients_to_buffers"):
                module.coefficients_to_buffers()
    params, buffers = stack_module_state(models)
    x, y = torch.rand(3, 16, 1, 28, 28, dtype=torch.float64), torch.randint(0, 10, (3, 16))
    logits = vmap(lambda p, b, xb: functional_call(models[0], (p, b), (xb,)))(params, buffers, x)
    F.cross_entropy(logits.transpose(1, 2), y, reduction="none").mean(1).sum().backward()
    for i, m in enumerate(solo):
        F.cross_entropy(m(x[i]), y[i]).backward()
        for name, p in m.named_parameters():
            assert torch.allclose(params[name].grad[i], p.grad, rtol=1e-9, atol=1e-12), name
        for name, b in m.named_buffers():  # BatchNorm's running statistics moved the same way
            assert torch.allclose(buffers[name][i].double(), b.double(), rtol=1e-9, atol=1e-12), name
