"""Training settings: typed overrides, experiment files, schedules, weight-decay groups."""
from __future__ import annotations

import math

import pytest
import torch

from stablenets.experiments import list_experiments, load_config
from stablenets.training.config import TrainConfig, apply_overrides, config_from_dict, read_config
from stablenets.training.optim import build_optimizer, learning_rate


def test_overrides_are_typed_and_parsed_as_toml_values():
    cfg = apply_overrides(TrainConfig(), ["optim.lr=0.05", "run.epochs=7", "schedule.milestones=[3, 5]",
                                          "optim.nesterov=true", "mode.kind=pgd", "optim.weight_decay=0",
                                          "model.overrides.lambda_init=[0.2, 0.25]", 'data.root="/x y"'])
    assert cfg.optim.lr == 0.05 and cfg.run.epochs == 7 and cfg.schedule.milestones == [3, 5]
    assert cfg.optim.nesterov is True and cfg.mode.kind == "pgd" and cfg.data.root == "/x y"
    assert isinstance(cfg.optim.weight_decay, float)  # int 0 widened to float
    assert cfg.model.overrides == {"lambda_init": [0.2, 0.25]}
    assert TrainConfig().optim.lr == 0.1  # the default object is untouched


@pytest.mark.parametrize("pair, words", [
    ("optim.lrr=0.1", "unknown setting 'optim.lrr'"),
    ("run.epochs=ten", "expects int"),
    ("run.epochs=1.5", "expects int"),
    ("optim.nesterov=1", "expects bool"),
    ("optim=3", "is a section"),
    ("mode.kind=fgsm", "mode.kind = 'fgsm'"),
    ("optim.lr", "must look like"),
    ("__import__('os').system('true')=1", "unknown setting"),
])
def test_bad_overrides_raise_one_clear_error(pair, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        apply_overrides(TrainConfig(), [pair])


def test_every_experiment_file_parses_with_a_description():
    names = list_experiments()
    assert len(names) >= 10 and {n[0] for n in names} >= set("abcde")  # papers A-E
    for name in names:
        cfg = load_config(name)
        assert cfg.description and cfg.experiment == name
    with pytest.raises(ValueError, match="unknown experiment"):
        load_config("no-such-experiment")
    with pytest.raises(ValueError, match="unknown setting 'optim.foo'"):
        config_from_dict({"optim": {"foo": 1}})


def test_the_training_stage_reads_files_and_leaves_names_to_the_experiments_above_it(tmp_path):
    """training.config reads a TOML file; a packaged name is resolved by stablenets.experiments, which is
    the same file's settings when the registry run is written out as TOML."""
    path = tmp_path / "mine.toml"
    path.write_text('description = "mine"\n[optim]\nlr = 0.05\n[run]\nepochs = 3\n')
    cfg = read_config(path)
    assert cfg.experiment == "mine" and cfg.optim.lr == 0.05 and cfg.run.epochs == 3
    assert load_config(str(path)) == cfg
    with pytest.raises(FileNotFoundError, match="experiment file E-table1/alpha2.0 not found"):
        read_config("E-table1/alpha2.0")
    assert load_config("E-table1/alpha2.0").experiment == "E-table1/alpha2.0"
    assert list_experiments("E-TABLE1/") == [n for n in list_experiments() if n.startswith("E-table1/")]
    assert list_experiments("E-table1/") and list_experiments("no-such-thing") == []


def test_schedules_match_their_formulas():
    # learning_rate(lr0, schedule, epoch, step, steps per epoch, epochs); the step completes at t = e + (s+1)/S
    cfg = apply_overrides(TrainConfig(), ["schedule.milestones=[2, 4]", "schedule.gamma=0.5"]).schedule
    assert [learning_rate(1.0, cfg, e, s, 10, 6) for e, s in ((0, 4), (2, 0), (3, 8), (4, 0))] == [1.0, 0.5, 0.5,
                                                                                                   0.25]
    cos = apply_overrides(TrainConfig(), ["schedule.kind=cosine", "schedule.min_lr=0.1"]).schedule
    assert learning_rate(1.0, cos, 4, 9, 10, 10) == pytest.approx(0.1 + 0.9 * (1 + math.cos(math.pi / 2)) / 2)
    assert learning_rate(1.0, cos, 9, 9, 10, 10) == pytest.approx(0.1)
    warm = apply_overrides(TrainConfig(), ["schedule.kind=constant", "schedule.warmup_epochs=2"]).schedule
    assert learning_rate(1.0, warm, 0, 4, 10, 10) == pytest.approx(0.25)
    assert learning_rate(1.0, warm, 2, 9, 10, 10) == 1.0


@pytest.mark.parametrize("milestones, epochs", [([1], 3), ([80, 120], 160), ([150, 250], 350)])
def test_milestones_divide_by_ten_from_the_first_step_of_their_epoch_and_not_before(milestones, epochs):
    """"Divide by 10 at epochs 80 and 120": every step of epoch e runs at lr0 / 10^{#{m <= e}}."""
    cfg = apply_overrides(TrainConfig(), [f"schedule.milestones={milestones}"]).schedule
    steps = 4
    for e in range(epochs):
        expected = 0.1 * 0.1 ** sum(m <= e for m in milestones)
        for s in range(steps):
            assert learning_rate(0.1, cfg, e, s, steps, epochs) == pytest.approx(expected, rel=1e-12), (e, s)


def test_the_training_loop_runs_each_step_at_its_scheduled_lr(tmp_path, monkeypatch):
    from stablenets.training import train
    from stablenets.training.fastpath import StepRunner

    seen = []
    real = StepRunner._set_lr
    monkeypatch.setattr(StepRunner, "_set_lr", lambda self, lr: (seen.append(lr), real(self, lr)))
    cfg = apply_overrides(TrainConfig(), [
        "data.dataset=embedded-mnist", "model.name=resnet-8", "model.overrides.widths=[4, 4, 4]",
        "data.batch_size=16", "data.train_subset=64", "data.test_subset=16", "run.epochs=2",
        "schedule.milestones=[1]", "run.progress=false"])
    train(cfg, tmp_path, device="cpu", log=lambda *_: None)
    assert seen == pytest.approx([0.1] * 4 + [0.01] * 4)   # the case: epoch 0 was [.1, .1, .1, .01]


def test_scheme_coefficients_get_no_weight_decay_unless_asked():
    from stablenets import create_model
    from stablenets.models import scheme_parameters

    model = create_model("in-resnet-8")
    lam = {id(p) for p in scheme_parameters(model)}
    assert lam
    for flag, expected in ((False, 0.0), (True, 5e-4)):
        cfg = apply_overrides(TrainConfig(), [f"optim.scheme_weight_decay={str(flag).lower()}"]).optim
        opt = build_optimizer(model, cfg)
        scheme = [g for g in opt.param_groups if {id(p) for p in g["params"]} == lam]
        assert len(scheme) == 1 and scheme[0]["weight_decay"] == expected
        assert sum(len(g["params"]) for g in opt.param_groups) == len(list(model.parameters()))
    # one SGD step with zero gradient: decay moves λ only when asked
    for flag in (False, True):
        opt = build_optimizer(model, apply_overrides(TrainConfig(), [
            f"optim.scheme_weight_decay={str(flag).lower()}", "optim.momentum=0"]).optim)
        before = [p.detach().clone() for p in scheme_parameters(model)]
        for p in model.parameters():
            p.grad = torch.zeros_like(p)
        opt.step()
        moved = any(not torch.equal(b, p) for b, p in zip(before, scheme_parameters(model)))
        assert moved is flag
