"""The command line under faults and many runs: one line and exit 2 for every user error (130 for
Ctrl-C), reports never replaced silently, run folders that never collide, resume that finds the right
run, seeds that survive one diverging, and progress lines when no terminal is attached."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

import stablenets
from stablenets.checkpoint import save_model
from stablenets.cli import main

SMOKE = ["--scale", "smoke", "--device", "cpu", "--no-progress"]


@pytest.fixture(autouse=True)
def _no_data_root(monkeypatch):
    monkeypatch.delenv("STABLENETS_DATA", raising=False)
    yield


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("stablenets "), err
    return err


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    model = stablenets.create_model("resnet-8", dataset="embedded-mnist")
    save_model(tmp_path / "model.safetensors", model, {"dataset": "embedded-mnist"})
    return tmp_path


QUICK = ["--suite", "quick", "--n", "8", "--device", "cpu", "--no-progress", "--set", "diagnostics.enabled=false",
         "--set", "attacks.pgd.steps=1"]


def test_evaluate_never_replaces_a_report_silently(checkpoint, capsys):
    assert main(["evaluate", str(checkpoint), *QUICK]) == 0
    report = checkpoint / "robustness-quick.json"
    first = report.read_bytes()
    capsys.readouterr()
    assert main(["evaluate", str(checkpoint), *QUICK]) == 2
    assert "already exists" in one_line(capsys) and report.read_bytes() == first
    assert main(["evaluate", str(checkpoint), *QUICK, "--overwrite"]) == 0
    assert f"replacing the earlier report {report}" in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["file", "unwritable"])
def test_evaluate_checks_its_output_before_any_work(checkpoint, tmp_path, capsys, monkeypatch, bad):
    import stablenets.pipeline

    monkeypatch.setattr(stablenets.pipeline, "load_model", lambda *a, **k: pytest.fail("loaded before the check"))
    if bad == "file":
        out = tmp_path / "a-file"
        out.write_text("x")
        words = "is a file"
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes into any folder; the read-only mount case is in test_training_faults")
        out = tmp_path / "ro"
        out.mkdir()
        out.chmod(0o555)
        words = "cannot write the report into"
    assert main(["evaluate", str(checkpoint), *QUICK, "--out", str(out)]) == 2
    assert words in one_line(capsys)


def test_a_damaged_checkpoint_is_one_line_naming_it(checkpoint, capsys):
    path = checkpoint / "model.safetensors"
    path.write_bytes(path.read_bytes()[:100])
    assert main(["evaluate", str(checkpoint), *QUICK]) == 2
    err = one_line(capsys)
    assert str(path) in err and "damaged" in err


def test_ctrl_c_is_one_line_and_exit_130(monkeypatch, capsys, tmp_path):
    from stablenets.training import trainer

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "load_splits", interrupted)
    assert main(["train", "b-moons-mlp-h0.1", *SMOKE, "--out", str(tmp_path / "r")]) == 130
    assert "interrupted" in one_line(capsys)


def test_new_run_folders_never_collide_even_in_the_same_second(tmp_path, monkeypatch):
    from stablenets.commands.train import _new_run_dir

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("time.strftime", lambda *_: "20260101-000000")
    made = [_new_run_dir("exp") for _ in range(3)]
    assert [p.name for p in made] == ["exp-20260101-000000", "exp-20260101-000000-2", "exp-20260101-000000-3"]
    assert all(p.is_dir() for p in made)


def test_resume_without_out_continues_the_run_with_these_settings_not_another_models(tmp_path, monkeypatch,
                                                                                     capsys):
    monkeypatch.chdir(tmp_path)
    exp = "b-moons-mlp-h0.1"
    assert main(["train", exp, *SMOKE, "model.overrides.hidden=8"]) == 0
    assert main(["train", exp, *SMOKE, "model.overrides.hidden=16"]) == 0  # the later run, another model
    runs = sorted(Path("runs").iterdir())
    assert len(runs) == 2
    by_hidden = {json.loads((r / "config.json").read_text())["model"]["overrides"]["hidden"]: r for r in runs}
    capsys.readouterr()
    assert main(["train", exp, *SMOKE, "model.overrides.hidden=8", "--resume"]) == 0
    assert f"run folder {by_hidden[8]}" in capsys.readouterr().out
    assert main(["train", exp, *SMOKE, "model.overrides.hidden=32", "--resume"]) == 2
    assert "no run of 'b-moons-mlp-h0.1' with these settings" in one_line(capsys)


def test_resume_of_a_typo_folder_and_train_into_a_file_are_refused(tmp_path, capsys):
    assert main(["train", "b-moons-mlp-h0.1", *SMOKE, "--resume", "--out", str(tmp_path / "tpyo")]) == 2
    assert "holds no run to continue" in one_line(capsys)
    (tmp_path / "f").write_text("")
    assert main(["train", "b-moons-mlp-h0.1", *SMOKE, "--out", str(tmp_path / "f")]) == 2
    assert "is a file" in one_line(capsys)


def test_one_diverging_seed_is_recorded_and_the_others_still_run(tmp_path, monkeypatch, capsys):
    import stablenets.pipeline
    from stablenets.training import NonFiniteLossError

    real = stablenets.pipeline.train

    def diverge_seed_1(cfg, run_dir, **kwargs):
        if cfg.run.seed == 1:
            raise NonFiniteLossError(1, 2, None)
        return real(cfg, run_dir, **kwargs)

    monkeypatch.setattr(stablenets.pipeline, "train", diverge_seed_1)
    assert main(["train", "b-moons-mlp-h0.1", *SMOKE, "--out", str(tmp_path), "--seeds", "0", "1", "2"]) == 0
    record = json.loads((tmp_path / "seeds.json").read_text())
    assert [d["seed"] for d in record["diverged"]] == [1] and record["diverged"][0]["step"] == 2
    assert record["stats"]["test_acc"]["n"] == 2 and len(record["runs"]) == 2
    assert "diverged: seeds [1]" in capsys.readouterr().out
    # rerunning the sweep with --resume keeps the finished seeds and retries only the diverged one
    before = (tmp_path / "seed-0" / "model.safetensors").read_bytes()
    monkeypatch.setattr(stablenets.pipeline, "train", real)
    assert main(["train", "b-moons-mlp-h0.1", *SMOKE, "--out", str(tmp_path), "--seeds", "0", "1", "2",
                 "--resume"]) == 0
    assert (tmp_path / "seed-0" / "model.safetensors").read_bytes() == before
    assert json.loads((tmp_path / "seeds.json").read_text())["stats"]["test_acc"]["n"] == 3


def test_without_a_terminal_progress_is_a_line_with_steps_speed_loss_and_eta(tmp_path):
    from stablenets.training import TrainConfig, apply_overrides, train

    cfg = apply_overrides(TrainConfig(), [
        "data.dataset=moons", "model.name=mlp-moons", "model.overrides.hidden=8", "data.batch_size=50",
        "run.epochs=2", "run.max_steps_per_epoch=3", "run.log_every=1e-9", "optim.name=adam",
        "schedule.kind=constant"])
    lines = []
    train(cfg, tmp_path, device="cpu", log=lines.append)
    progress = [line for line in lines if "images/s" in line]
    assert len(progress) == 6  # every step, as the interval is tiny
    first = progress[0].split()
    assert first[:4] == ["epoch", "1/2", "step", "1/3"] and "loss" in first and "ETA" in first
    assert progress[-1].split()[1:4] == ["2/2", "step", "3/3"] and progress[-1].endswith("ETA 0m00s")
