"""The command line: train (smoke scale, seeds, resume), evaluate a trained checkpoint, models, errors."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from stablenets.cli import main
from stablenets.reproduce.registry import demo_entries


@pytest.fixture(autouse=True)
def _no_data_root(monkeypatch):
    monkeypatch.delenv("STABLENETS_DATA", raising=False)
    yield


def test_train_smoke_then_evaluate_the_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "e-cifar10-zerosnet-opt-110", "--scale", "smoke", "--device", "cpu", "--out", str(out),
                 "optim.lr=0.05", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "done: test accuracy" in text and f"stablenets evaluate {out}/model.safetensors" in text
    assert "its accuracy means nothing" in text, "smoke scale says plainly what its number is"
    config = json.loads((out / "config.json").read_text())
    assert config["optim"]["lr"] == 0.05 and config["model"]["name"] == "zerosnet-opt-8"
    assert main(["evaluate", str(out / "model.safetensors"), "--suite", "quick", "--n", "32", "--device", "cpu",
                 "--no-progress", "--set", "diagnostics.n=8", "--set", "diagnostics.strong_restarts=1"]) == 0
    report = json.loads((out / "robustness-quick.json").read_text())
    assert report["n"] == 32 and report["checkpoint"]["dataset"] == "embedded-mnist"
    # resume of a finished run trains nothing more and keeps the weights
    before = (out / "model.safetensors").read_bytes()
    assert main(["train", "e-cifar10-zerosnet-opt-110", "--scale", "smoke", "--device", "cpu", "--out", str(out),
                 "optim.lr=0.05", "--resume", "--no-progress"]) == 0
    assert (out / "model.safetensors").read_bytes() == before


def test_seeds_report_mean_and_std(tmp_path, capsys):
    assert main(["train", "b-moons-mlp-h0.1", "--scale", "smoke", "--device", "cpu", "--out", str(tmp_path),
                 "--seeds", "0", "1", "2", "--no-progress"]) == 0
    assert "test_acc" in capsys.readouterr().out
    stats = json.loads((tmp_path / "seeds.json").read_text())["stats"]["test_acc"]
    values = stats["values"]
    assert len(values) == 3 and stats["mean"] == pytest.approx(sum(values) / 3)
    mean = sum(values) / 3
    assert stats["std"] == pytest.approx((sum((v - mean) ** 2 for v in values) / 2) ** 0.5)
    assert all((tmp_path / f"seed-{s}" / "model.safetensors").is_file() for s in (0, 1, 2))


@pytest.mark.parametrize("argv, words", [
    (["train", "no-such-experiment"], "unknown experiment 'no-such-experiment'"),
    (["train", "b-moons-mlp-h0.1", "optim.lrr=1"], "unknown setting 'optim.lrr'"),
    (["train", "b-moons-mlp-h0.1", "run.epochs=many"], "expects int"),
    (["train", "missing.toml"], "not found"),
    (["evaluate", "missing.safetensors"], "not found"),
    (["train", "E-table1/alpha2.0", "--scale", "small"], "run `stablenets reproduce E-table1 --scale small`"),
    (["train", "b-moons-mlp-h0.1", "--scale", "demo"], "run `stablenets reproduce ENTRY --scale demo`"),
    (["train", "list", "no-such-thing"], "no experiment matches 'no-such-thing'"),
])
def test_bad_input_is_exit_2_with_one_line(argv, words, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err and err.startswith("stablenets ")


def test_models_and_experiment_list(capsys):
    """`list` is the listing word of every command (`train --list` its documented alias); FILTER is a
    substring, as in `reproduce list FILTER` and `models FILTER`."""
    assert main(["models", "in-resnet"]) == 0
    listed = capsys.readouterr().out
    assert "in-resnet-8" in listed
    assert main(["models", "IN-ResNet"]) == 0
    assert capsys.readouterr().out == listed
    assert main(["train", "list"]) == 0
    everything = capsys.readouterr().out
    assert "a-cifar10-in-resnet-110" in everything and "E-table1/alpha2.0" in everything
    assert main(["train", "--list"]) == 0
    assert capsys.readouterr().out == everything
    assert main(["train", "list", "E-table1/"]) == 0
    some = capsys.readouterr().out.split()
    assert some and all(n.startswith("E-table1/") for n in some) and "E-table1/alpha2.0" in some
    assert main(["train", "--list", "E-table1/"]) == 0
    assert capsys.readouterr().out.split() == some


def test_help_names_only_what_exists(capsys):
    """Each command's --help exits 0, and what it names is real: the experiments in train's examples are
    packaged, its example overrides are accepted settings, and evaluate offers exactly the registered suites."""
    import dataclasses
    import re

    from stablenets.evaluation import list_suites
    from stablenets.training import TrainConfig, apply_overrides
    from stablenets.experiments import list_experiments

    helps = {}
    for cmd in ("train", "evaluate"):
        with pytest.raises(SystemExit) as info:
            main([cmd, "--help"])
        out = capsys.readouterr().out
        assert info.value.code == 0 and out.startswith("usage: stablenets " + cmd)
        helps[cmd] = " ".join(out.split())  # argparse wraps lines
    train = helps["train"]
    named = {n for n in re.findall(r"stablenets(?:\.cli)? train ([a-z0-9][\w.-]*)", train)
             if not n.endswith(".toml") and n != "list"}
    assert named and named <= set(list_experiments()), named - set(list_experiments())
    sections = "|".join(f.name for f in dataclasses.fields(TrainConfig))
    overrides = [f"{k}={v}" for k, v in re.findall(rf"\b((?:{sections})\.[\w.]+)=(\[[^\]]*\]|[^\s`,)]+)", train)]
    assert len(overrides) >= 4, overrides
    apply_overrides(TrainConfig(), overrides).validate()  # every example override is a valid setting
    offered = re.search(r"--suite \{([^}]*)\}", helps["evaluate"]).group(1).split(",")
    assert sorted(offered) == sorted(list_suites())
    done = subprocess.run([sys.executable, "-m", "stablenets.cli", "demo", "--help"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and "usage: stablenets demo" in done.stdout and "--out" in done.stdout
    assert all(entry in done.stdout for entry in demo_entries())  # the help names what the demo reproduces
