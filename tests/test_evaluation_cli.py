"""``stablenets evaluate``: the sub-command parses, loads through the checkpoint stage, and writes the
report into the run directory. In the first test the loader is a stand-in for any model."""
from __future__ import annotations

import argparse
import json

import pytest
import torch
from torch import nn

from stablenets.commands.evaluate import register



def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="stablenets")
    register(p.add_subparsers(dest="command"))
    return p


def test_evaluate_command_writes_the_report_into_the_run_directory(tmp_path, monkeypatch):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))
    loaded = []

    def load_model(path, device="cpu"):
        loaded.append((str(path), str(device)))
        return model, {"dataset": "embedded-mnist", "preset": "linear-test"}

    import stablenets.pipeline

    monkeypatch.setattr(stablenets.pipeline, "load_model", load_model)
    run = tmp_path / "run"
    run.mkdir()
    ckpt = run / "model.safetensors"
    ckpt.write_bytes(b"")
    args = parser().parse_args(["evaluate", str(ckpt), "--suite", "quick", "--n", "24", "--device", "cpu",
                                "--no-progress", "--set", "diagnostics.enabled=false",
                                "--set", "attacks.pgd.steps=2", "--set", "noise.cifar10c.severities=[1]"])
    assert args.func(args) == 0
    assert loaded == [(str(ckpt), "cpu")]
    report = json.loads((run / "robustness-quick.json").read_text())
    assert report["n"] == 24 and report["suite"]["attacks"]["pgd"]["steps"] == 2
    assert report["checkpoint"]["dataset"] == "embedded-mnist"
    assert report["noise"]["cifar10c"]["source"] == "generated"
    assert (run / "robustness-quick.md").is_file()


def test_evaluate_command_rejects_unknown_suites_and_missing_checkpoints(tmp_path):
    with pytest.raises(SystemExit):
        parser().parse_args(["evaluate", "x.pt", "--suite", "nope"])
    args = parser().parse_args(["evaluate", str(tmp_path / "missing.pt")])
    with pytest.raises(FileNotFoundError, match="not found"):
        args.func(args)


def test_stablenets_evaluate_end_to_end_on_a_real_checkpoint(tmp_path, capsys):
    import stablenets
    from stablenets.cli import main
    from stablenets.checkpoint import save_model

    torch.manual_seed(0)
    model = stablenets.create_model("resnet-8", num_classes=10, in_channels=1, image_size=28,
                                    mean=(0.1307,), std=(0.3081,))
    save_model(tmp_path / "model.safetensors", model, {"dataset": "embedded-mnist"})
    rc = main(["evaluate", str(tmp_path), "--suite", "A", "--n", "8", "--device", "cpu", "--no-progress",
               "--set", "diagnostics.enabled=false", "--set", "attacks.ifgsm.steps=2", "--set", "attacks.pgd.steps=2",
               "--set", "attacks.pgd_ours.steps=2", "--set", "attacks.pgd_margin_ours.steps=2",
               "--set", "attacks.fgsm.eps=[0.1]", "--set", "noise.cifar10c.severities=[5]"])
    assert rc == 0
    report = json.loads((tmp_path / "robustness-A.json").read_text())
    assert report["checkpoint"]["preset"] == "resnet-8" and report["n"] == 8
    assert set(report["attacks"]) == {"fgsm", "ifgsm", "pgd", "pgd_ours", "pgd_margin_ours"}
    assert len(report["attacks"]["pgd"]["accuracy"]) == 3   # A-table3's three radii, set once for the suite
    for res in report["attacks"].values():
        for key, size in res["max_perturbation"].items():
            assert size <= float(key) + 1e-6
    printed = capsys.readouterr().out
    assert "robustness-A.md" in printed and "robustness-A.html" in printed
    # the printed table: clean, each attack at each radius, the worst case
    assert f"{100 * report['clean']:.2f}" in printed and "WORST CASE" in printed
    assert all(f"{100 * acc:.2f}" in printed for acc in report["attacks"]["pgd"]["accuracy"].values())


def test_several_checkpoints_are_evaluated_as_one_ensemble(tmp_path):
    import stablenets
    from stablenets.cli import main
    from stablenets.checkpoint import save_model

    for seed in (0, 1):
        torch.manual_seed(seed)
        model = stablenets.create_model("resnet-8", in_channels=1, mean=(0.1307,), std=(0.3081,))
        save_model(tmp_path / f"m{seed}" / "model.safetensors", model, {"dataset": "embedded-mnist"})
    out = tmp_path / "ensemble"
    rc = main(["evaluate", str(tmp_path / "m0"), str(tmp_path / "m1"), "--suite", "quick", "--n", "8",
               "--device", "cpu", "--no-progress", "--out", str(out), "--set", "diagnostics.enabled=false"])
    assert rc == 0
    report = json.loads((out / "robustness-quick.json").read_text())
    assert report["checkpoint"]["preset"] == "ensemble of resnet-8, resnet-8"
    assert len(report["checkpoint"]["path"]) == 2


def test_evaluate_off_a_terminal_prints_progress_lines_and_no_progress_silences_them(tmp_path, capsys,
                                                                                     monkeypatch):
    """Issue 20, 'No long work in silence': `stablenets evaluate` with stderr not a terminal (as under pytest's
    capture, a log or CI) prints the stage, done/total, the rate and the ETA; --no-progress prints none."""
    import stablenets
    from stablenets.cli import main
    from stablenets.checkpoint import save_model

    monkeypatch.setenv("STABLENETS_PROGRESS_EVERY", "0")  # a line at every step: the interval is tested elsewhere
    torch.manual_seed(0)
    model = stablenets.create_model("resnet-8", in_channels=1, mean=(0.1307,), std=(0.3081,))
    save_model(tmp_path / "model.safetensors", model, {"dataset": "embedded-mnist"})
    common = ["evaluate", str(tmp_path), "--suite", "quick", "--n", "8", "--device", "cpu",
              "--set", "diagnostics.enabled=false", "--set", "attacks.pgd.steps=2",
              "--set", "noise.cifar10c.severities=[1]"]
    assert main(common) == 0
    err = capsys.readouterr().err.splitlines()
    stage = [line for line in err if line.startswith("robustness: ")]
    assert stage and stage[0].endswith("tasks to do"), err
    assert any("ETA" in line and "tasks/min" in line for line in stage), err
    assert stage[-1].startswith("robustness: finished"), err
    assert main([*common, "--overwrite", "--no-progress"]) == 0
    assert not [line for line in capsys.readouterr().err.splitlines() if line.startswith("robustness: ")]
