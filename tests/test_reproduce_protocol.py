"""The ``code`` protocol (what the authors' public code ran): every difference is data with its source, each
changes what it says it changes, and reports record final- and best-epoch accuracy under either protocol."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from torch import nn

from stablenets.models.layers import Normalize, input_normalization
from stablenets.reproduce.registry import (code_differences, expand_runs, get_entry, list_entries, report_settings)
from stablenets.reproduce.runner import epoch_accuracy, plan_tasks, reproduce
from stablenets.training.config import config_from_dict
from stablenets.training.trainer import build_model

SRC = str(Path(__file__).resolve().parents[1] / "src")
REPOSITORIES = {"A": "minicheshire/InResNet", "B": "zjfheart/Robust-ResNet", "C": "homles11/IE-ResNet",
                "D": "yao-lab/SONet", "E": "LongJin-lab/ZeroSNet"}


@pytest.fixture(autouse=True)
def _no_data_root(monkeypatch):
    monkeypatch.delenv("STABLENETS_DATA", raising=False)
    monkeypatch.setenv("PYTHONPATH", SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))


def _model(entry_id: str, label: str, protocol: str, scale: str = "small") -> nn.Module:
    run = next(r for r in expand_runs(get_entry(entry_id), scale, protocol=protocol) if r.label == label)
    cfg = config_from_dict(run.config).validate()
    return build_model(cfg, cfg.data.dataset), cfg


def _count(model: nn.Module, kind) -> int:
    return sum(isinstance(m, kind) for m in model.modules())


def test_every_code_difference_names_its_source_and_every_entry_plans_under_code():
    from stablenets.models import list_models
    from stablenets.reproduce.runner import _check_model

    known = set(list_models())
    for entry_id in list_entries():
        entry = get_entry(entry_id)
        repository = REPOSITORIES[entry.paper]
        assert entry.code["repository"] == repository
        for d in code_differences(entry):
            assert d["source"].startswith(repository), (entry_id, d["id"])  # repository, file, function
            assert d.get("built", True) or d.get("why"), (entry_id, d["id"])
        seen = set()
        for run in expand_runs(entry, "paper", protocol="code"):
            if not run.differences:
                continue
            config = {k: v for k, v in run.config.items() if k not in ("experiment", "description", "run")}
            key = json.dumps(config, sort_keys=True, default=str)
            if key in seen or run.model not in known:
                continue
            seen.add(key)  # every setting a difference names exists and is in range: configs validate, models resolve
            config_from_dict(run.config).validate()
            _check_model(run.config)
    # Entries no released code trains run as the paper states.
    for entry_id in ("C-table1", "E-table1", "E-table2", "B-fig6"):
        entry = get_entry(entry_id)
        assert not entry.code["released"] and not code_differences(entry)
        assert [r.config for r in expand_runs(entry, "paper", protocol="code")] == \
               [r.config for r in expand_runs(entry, "paper")]


def test_c_code_networks_have_group_norm_no_input_normalisation_and_a_detached_inner_loop():
    paper, _ = _model("C-table2", "IE-ResNet-1-50", "paper")
    code, _ = _model("C-table2", "IE-ResNet-1-50", "code")
    plain, _ = _model("C-table2", "ResNet-50", "code")
    assert _count(paper, nn.BatchNorm2d) > 0 and _count(paper, nn.GroupNorm) == 0
    for model in (code, plain):  # the IE model and its plain baseline alike
        assert _count(model, nn.BatchNorm2d) == 0 and _count(model, nn.GroupNorm) > 0
        assert all(m.num_groups == 1 for m in model.modules() if isinstance(m, nn.GroupNorm))
        mean, std = input_normalization(model)
        assert set(mean) == {0.0} and set(std) == {1.0}
    assert input_normalization(paper)[1] != (1.0,) * len(input_normalization(paper)[1])
    assert code.scheme.create_graph is False and paper.scheme.create_graph is True
    # The last stage's inner loops take the code's sign; the paper's network is Algorithm 1 throughout.
    assert code.scheme.flip_last_stage is True and paper.scheme.flip_last_stage is False
    signs = [step.sign for step in code.trunk.steps]
    assert signs[-1] == -1.0 and signs[0] == 1.0 and set(step.sign for step in paper.trunk.steps) == {1.0}
    assert "flip_last_stage" not in plain.scheme.settings()
    # PyTorch's initialisation and, in the plain baseline, 3×3 dimension-changing shortcuts (models/sResNet.py).
    plain_cfg = _model("C-table2", "ResNet-50", "code")[1]
    assert plain_cfg.model.overrides["init"] == "torch" and plain_cfg.model.overrides["shortcut_kernel"] == 3
    kernels = {m.kernel_size for b in plain.trunk.blocks if b.shortcut is not None
               for m in b.shortcut.modules() if isinstance(m, nn.Conv2d)}
    assert kernels == {(3, 3)}
    # Detached: the loss's gradient reaches the branch weights only through the explicit step.
    x = torch.rand(2, *([1, 28, 28] if code.in_channels == 1 else [3, 32, 32]), requires_grad=True)
    code.train()
    code(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_b_code_cifar_networks_are_post_activation():
    """B's code protocol: every CIFAR block ends with a ReLU after h·f is added, BN or not; the paper's (and the
    character networks under B's CIFAR difference) have none."""
    for entry_id, label in (("B-fig3", "CIFAR-10 h=0.1 depth 8"), ("B-fig5", "no BN h=0.1 depth 8")):
        paper, _ = _model(entry_id, label, "paper")
        code, _ = _model(entry_id, label, "code")
        assert all(isinstance(b.after, nn.ReLU) for b in code.trunk.blocks)
        assert all(b.after is None for b in paper.trunk.blocks)
        assert code.trunk.steps[0].h == paper.trunk.steps[0].h == 0.1
        run = {r.label: r for r in expand_runs(get_entry(entry_id), "small", protocol="code")}[label]
        assert run.config["model"]["overrides"]["init"] == "torch"  # cifar-10_torch/run.py re-initialises nothing


def test_b_code_agnews_networks_have_the_vdcnn_layout_batch_64_and_no_weight_decay():
    for entry_id, label in (("B-fig3", "AG-NEWS h=0.1 depth 9"), ("B-fig5", "AG-NEWS no BN h=0.1 depth 9"),
                            ("B-fig8", "AG-NEWS h=0.1 p 0.1")):
        run = {r.label: r for r in expand_runs(get_entry(entry_id), "paper", protocol="code")}[label]
        cfg = config_from_dict(run.config).validate()
        assert cfg.data.batch_size == 64 and cfg.optim.weight_decay == 0.0
        assert {"agnews-layout", "agnews-batch"} <= set(run.differences)
        code = build_model(cfg, cfg.data.dataset)
        changes = [b for b in code.trunk.blocks if not b.same_shape]
        assert changes and all(isinstance(b.branch[0], nn.MaxPool1d) and isinstance(b.shortcut[0], nn.MaxPool1d)
                               for b in changes)
        assert all(isinstance(b.after, nn.ReLU) for b in code.trunk.blocks)
        assert [m.out_features for m in code.head if isinstance(m, nn.Linear)][:2] == [1024, 1024]
        paper_run = {r.label: r for r in expand_runs(get_entry(entry_id), "paper")}[label]
        paper = build_model(config_from_dict(paper_run.config).validate(), "ag_news")
        assert not any(isinstance(m, nn.MaxPool1d) for m in paper.modules())
        assert paper_run.config["data"]["batch_size"] == 128


def test_e_code_epochs_and_weight_decay_follow_each_data_sets_script():
    """train_cifar_ZeroSNet.py forces 160 epochs on CIFAR-10 and 300 on CIFAR-100 and loops range(1, epoch): 159 and
    299; its hard-coded 5e-4 is the CIFAR script's, the ImageNet script keeps 4e-5 (E-table5)."""
    runs = expand_runs(get_entry("E-table4"), "paper", protocol="code")
    epochs = {r.config["data"]["dataset"]: r.config["run"]["epochs"] for r in runs}
    assert epochs == {"cifar10": 159, "cifar100": 299}
    assert {r.config["optim"]["weight_decay"] for r in runs} == {5e-4}
    for r in runs:
        assert ("epochs" in r.differences) == (r.config["data"]["dataset"] == "cifar10")
        assert ("epochs-cifar100" in r.differences) == (r.config["data"]["dataset"] == "cifar100")
    imagenet = expand_runs(get_entry("E-table5"), "paper", protocol="code")
    paper = expand_runs(get_entry("E-table5"), "paper")
    assert [r.config["optim"] for r in imagenet] == [r.config["optim"] for r in paper]
    assert [r.config["run"]["epochs"] for r in imagenet] == [r.config["run"]["epochs"] for r in paper]


def test_d_code_networks_take_raw_pixels_two_blocks_per_stage_and_the_code_classifier():
    paper, _ = _model("D-table1", "SONet 32", "paper", "paper")
    code, _ = _model("D-table1", "SONet 32", "code", "paper")
    norm = next(m for m in code.modules() if isinstance(m, Normalize))
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(norm(x), x)  # no input normalisation: the identity on [0, 1] pixels
    assert not torch.equal(next(m for m in paper.modules() if isinstance(m, Normalize))(x), x)
    assert len(code.blocks) == 1 + 2 * 4 and len(paper.blocks) == 1 + 4
    assert code.classifier.z0 == 0.1 and code.classifier.field.sigma_first
    assert paper.classifier.z0 == 1.0 and not paper.classifier.field.sigma_first


def test_plain_odeint_steps_past_t1_and_interpolates_back():
    from stablenets.schemes.continuous import ODESettings, SkewODEBlock

    x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    ends, outputs = {}, {}
    for land in (True, False):
        torch.manual_seed(0)  # the same weights
        block = SkewODEBlock(3, 8, 1, settings=ODESettings(record_steps=True, land_on_t1=land))
        outputs[land] = block(x)
        ends[land] = block.last_solve()["step_times"][-1]
    assert ends[True] == pytest.approx(1.0, abs=1e-6)
    assert ends[False] > 1.0  # plain odeint's last accepted step passes T
    assert not torch.allclose(outputs[True], outputs[False])
    # D's code protocol sets it on the ODE blocks of its runs, and only there.
    runs = {r.label: r for r in expand_runs(get_entry("D-table1"), "paper", protocol="code")}
    assert runs["SONet 64"].config["model"]["overrides"]["land_on_t1"] is False
    assert runs["SOBlock 64"].config["model"]["overrides"]["land_on_t1"] is False
    assert "land_on_t1" not in runs["ResNet10-TRADES (1/λ = 6.0) 64"].config["model"]["overrides"]


def test_code_weight_decay_pulls_lambda_as_the_authors_parametrisation_does():
    from stablenets.models.network import scheme_steps
    from stablenets.schemes.damped import DampedStep, PlainStep
    from stablenets.training.optim import build_optimizer

    def decayed(label, protocol):
        model, cfg = _model("A-table2", label, protocol)
        cfg.optim.lr, cfg.optim.weight_decay, cfg.optim.momentum = 1.0, 0.1, 0.0
        steps = [s for s in scheme_steps(model) if isinstance(s, DampedStep)]
        before = torch.stack([s.lam_value.detach().clone() for s in steps])
        optimizer = build_optimizer(model, cfg.optim)
        for p in model.parameters():
            p.grad = torch.zeros_like(p)  # only the weight decay moves the parameters
        optimizer.step()
        after = torch.stack([s.lam_value.detach() for s in steps])
        return model, before, after

    model, before, after = decayed("In-ResNet-110 (CIFAR-10)", "paper")
    assert torch.equal(before, after)  # the paper protocol: scheme coefficients are not decayed
    assert (before > 0.15).all() and (before < 0.3).all()  # the same λ_n ~ U[0.2, 0.25] under either protocol
    model, before, after = decayed("In-ResNet-110 (CIFAR-10)", "code")
    assert (before > 0.15).all() and (before < 0.3).all()
    assert torch.allclose(after, before + 0.1 * (1 - before))  # k <- 0.9 k: λ = 1 − k moves toward 1
    # λ only on the same-shape blocks from the second on: ResNet-20 has 9 blocks, 2 change shape.
    kinds = [type(s) for s in scheme_steps(model)]
    assert kinds == [PlainStep] + [DampedStep] * 2 + [PlainStep] + [DampedStep] * 2 + [PlainStep] + [DampedStep] * 2
    _, before, after = decayed("λ-In-ResNet-110 (CIFAR-10)", "code")
    assert torch.allclose(after, 0.9 * before)  # λ itself decays toward 0


def test_best_epoch_accuracy_is_the_maximum_over_epochs_and_code_reads_it(tmp_path):
    rows = [{"epoch": 0, "test_acc": 0.5}, {"epoch": 1, "test_acc": 0.8}, {"epoch": 2, "test_acc": 0.7}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert epoch_accuracy(tmp_path) == {"final": 0.7, "best": 0.8, "best_epoch": 1}
    assert report_settings(get_entry("E-table3"), "code")["accuracy"] == "best"
    assert report_settings(get_entry("E-table3"), "paper")["accuracy"] == "final"
    assert report_settings(get_entry("B-fig3"), "code") == {"accuracy": "best", "stat": "median"}


def test_reflect_pad_crop_mirrors_the_border():
    from stablenets.data.batcher import random_crop_flip

    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.uint8).view(2, 3, 6, 6)
    zero = torch.zeros(2, dtype=torch.long)
    out = random_crop_flip(x, zero, zero, torch.zeros(2, dtype=torch.bool), pad=2, pad_mode="reflect")
    assert torch.equal(out[:, :, 2:, 2:], x[:, :, :4, :4])
    assert torch.equal(out[:, :, 0, 2:], x[:, :, 2, :4]) and torch.equal(out[:, :, 1, 2:], x[:, :, 1, :4])
    zeros = random_crop_flip(x, zero, zero, torch.zeros(2, dtype=torch.bool), pad=2)
    assert (zeros[:, :, :2] == 0).all()


def test_reproduce_both_protocols_side_by_side_at_smoke_scale(tmp_path):
    result = reproduce("A-table1", "smoke", launcher="inline", out=tmp_path, log=lambda *_: None, protocol="both")
    paper, code = result["parts"]["paper"]["report"], result["parts"]["code"]["report"]
    assert paper["protocol"] == "paper" and code["protocol"] == "code" and result["report"]["protocol"] == "both"
    assert {p.name for p in tmp_path.iterdir()} >= {"A-table1", "A-table1.code", "A-table1.both", "runs"}
    for report in (paper, code):  # final- and best-epoch accuracy of every trained row, whatever the protocol
        for row in report["rows"]:
            acc = row["accuracy"]
            assert acc["final"]["n"] == 1 and acc["best"]["mean"] >= acc["final"]["mean"]
    # The In-ResNet rows train differently under code, so in their own run folders; the report names the sources.
    _, paper_tasks = plan_tasks(get_entry("A-table1"), "smoke", out=tmp_path)
    _, code_tasks = plan_tasks(get_entry("A-table1"), "smoke", out=tmp_path, run_protocol="code")
    assert {t.run_dir for t in paper_tasks}.isdisjoint({t.run_dir for t in code_tasks})
    text = (tmp_path / "A-table1.code" / "table.md").read_text()
    assert "## Protocol: code" in text and "minicheshire/InResNet, InResNet.py" in text
    assert "best-epoch test acc" in (tmp_path / "A-table1" / "table.md").read_text()
    both = (tmp_path / "A-table1.both" / "table.md").read_text()
    assert "[paper]" in both and "[code]" in both
    assert "## Protocol: both" in both and "[code] " in both  # the claims of each protocol, marked
    index = (tmp_path / "index.md").read_text()  # each protocol's report is listed and linked to its own folder
    for link in ("(A-table1/report.html)", "(A-table1.code/report.html)", "(A-table1.both/report.html)"):
        assert link in index, link
    assert "A-table1 (code protocol)" in index and "A-table1 (paper and code protocols)" in index


# One entry per paper besides A (above), each cut to one run that the entry's code differences change.
ONE_RUN = {"B-fig4": None, "C-table2": "IE-ResNet-1-50", "D-table1": "SOBlock 32", "E-table3": None}


@pytest.mark.parametrize("entry_id", list(ONE_RUN))
def test_code_protocol_runs_end_to_end_at_smoke_scale(entry_id, tmp_path, monkeypatch):
    entry = get_entry(entry_id)
    runs = expand_runs(entry, "smoke", protocol="code")
    label = ONE_RUN[entry_id] or next(r.label for r in runs if r.differences)
    monkeypatch.setattr(entry, "small", dict(entry.small, runs=[label]))
    result = reproduce(entry_id, "smoke", launcher="inline", out=tmp_path, log=lambda *_: None, protocol="code")
    report = json.loads(result["paths"]["table.json"].read_text())
    assert report["protocol"] == "code" and result["paths"]["table.md"].parent.name == f"{entry_id}.code"
    assert {d["id"] for d in report["code"]["differences"]} == {d["id"] for d in code_differences(entry)}
    changed = [d for d in report["code"]["differences"] if d["rows"]]
    assert changed and all(d["built"] and d["rows"] == [label] for d in changed)
    assert "## Protocol: code" in result["paths"]["table.md"].read_text()
    row = next(r for r in report["rows"] if r["label"] == label)
    assert row["accuracy"]["final"]["n"] == 1 and row["accuracy"]["best"]["n"] == 1
