"""Faults: poisoned weights are never called good, damaged files are named, nothing is written over,
a resume cannot silently change what a run is, and a full or read-only disk is one clear message."""
from __future__ import annotations

import json
import os
import subprocess

import pytest
import torch
from safetensors.torch import load_file, save_file

from stablenets.checkpoint import CheckpointError, NonFiniteWeightsError, load_model, load_train_state, save_model
from stablenets.checkpoint import files as ckpt
from stablenets.training import NonFiniteLossError, TrainConfig, apply_overrides, train
from stablenets.training import trainer

SETTINGS = ["data.dataset=embedded-mnist", "model.name=resnet-8", "model.overrides.widths=[4, 4, 8]",
            "data.batch_size=16", "data.train_subset=48", "data.test_subset=16", "run.epochs=2",
            "run.progress=false"]


def tiny(*extra: str) -> TrainConfig:
    return apply_overrides(TrainConfig(), [*SETTINGS, *extra])


def quiet(*_):
    pass


def poison_after(monkeypatch, step: int, target: str = "weight"):
    """From optimiser step ``step`` (1-based, counted over the run) on, one tensor of the model becomes NaN."""
    real = torch.optim.SGD.step
    calls = {"n": 0}

    def step_then_poison(self, *args, **kwargs):
        out = real(self, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] == step:
            model = poison_after.model
            with torch.no_grad():
                if target == "weight":
                    next(model.parameters()).view(-1)[0] = float("nan")
                else:  # a BatchNorm running statistic: a buffer, not a parameter
                    next(b for n, b in model.named_buffers() if n.endswith("running_var")).fill_(float("inf"))
        return out

    monkeypatch.setattr(torch.optim.SGD, "step", step_then_poison)
    real_build = trainer.build_model

    def remember(cfg, dataset):
        poison_after.model = real_build(cfg, dataset)
        return poison_after.model

    monkeypatch.setattr(trainer, "build_model", remember)


@pytest.mark.parametrize("target", ["weight", "buffer"])
def test_non_finite_weights_with_a_finite_loss_are_never_saved_nor_named_good(tmp_path, monkeypatch, target):
    poison_after(monkeypatch, 6, target)  # the last step of epoch 2 (3 steps per epoch): the loss stayed finite
    with pytest.raises(NonFiniteLossError) as info:
        train(tiny(), tmp_path, device="cpu", log=quiet)
    err = info.value
    assert err.what == "weights" and err.epoch == 2 and err.checkpoint == str(tmp_path / ckpt.MODEL_FILE)
    model, meta = load_model(tmp_path)  # the last good checkpoint: epoch 1, finite
    assert meta["epoch"] == 1 and all(torch.isfinite(t).all() for t in model.state_dict().values())
    assert load_train_state(tmp_path / ckpt.STATE_FILE)["epoch"] == 1


def test_a_run_poisoned_in_its_first_epoch_names_no_checkpoint(tmp_path, monkeypatch):
    poison_after(monkeypatch, 3)
    with pytest.raises(NonFiniteLossError, match="none \\(no epoch had completed\\)"):
        train(tiny(), tmp_path, device="cpu", log=quiet)
    assert not (tmp_path / ckpt.MODEL_FILE).exists() and not (tmp_path / ckpt.STATE_FILE).exists()


def test_save_model_refuses_non_finite_parameters_and_buffers(tmp_path):
    import stablenets

    model = stablenets.create_model("resnet-8", dataset="embedded-mnist")
    with torch.no_grad():
        next(b for n, b in model.named_buffers() if n.endswith("running_mean")).fill_(float("nan"))
    with pytest.raises(NonFiniteWeightsError, match="running_mean"):
        save_model(tmp_path / "m.safetensors", model, {"dataset": "embedded-mnist"})
    assert not list(tmp_path.iterdir())


def _trained(tmp_path):
    train(tiny("run.epochs=1"), tmp_path, device="cpu", log=quiet)
    return tmp_path / ckpt.MODEL_FILE, tmp_path / ckpt.STATE_FILE


def _garble(path, where: float):
    data = bytearray(path.read_bytes())
    i = int(len(data) * where)
    data[i:i + 16] = bytes(255 - b for b in data[i:i + 16])
    path.write_bytes(bytes(data))


def test_garbled_or_truncated_weights_are_one_error_naming_the_file(tmp_path):
    model_path, _ = _trained(tmp_path)
    original = model_path.read_bytes()
    _garble(model_path, 0.9)  # inside the tensor bytes: the header still parses
    with pytest.raises(CheckpointError, match="checksum") as info:
        load_model(tmp_path)
    assert str(model_path) in str(info.value)
    model_path.write_bytes(original[: len(original) // 2])
    with pytest.raises(CheckpointError, match="damaged") as info:
        load_model(tmp_path)
    assert str(model_path) in str(info.value)
    model_path.write_bytes(original)
    load_model(tmp_path)  # the intact file loads


def test_garbled_or_truncated_resume_state_is_refused_before_training(tmp_path, monkeypatch):
    _, state_path = _trained(tmp_path)
    original = state_path.read_bytes()
    for damage in ("garble", "truncate"):
        if damage == "garble":
            tensors = torch.load(state_path, weights_only=True)
            _garble(state_path, 0.5)
            if torch.load(state_path, weights_only=True).keys() != tensors.keys():
                pytest.skip("garbling hit the zip directory")
        else:
            state_path.write_bytes(original[: len(original) // 3])
        monkeypatch.setattr(trainer, "load_splits", lambda *a, **k: pytest.fail("data loaded before the check"))
        with pytest.raises(CheckpointError) as info:
            train(tiny("run.epochs=2"), tmp_path, device="cpu", resume=True, log=quiet)
        assert str(state_path) in str(info.value)
        monkeypatch.undo()
        state_path.write_bytes(original)


def test_a_nan_checkpoint_is_refused_by_evaluate(tmp_path, capsys):
    from stablenets.cli import main

    model_path, _ = _trained(tmp_path)
    tensors = load_file(str(model_path))
    from safetensors import safe_open

    with safe_open(str(model_path), "pt") as f:
        header = f.metadata()
    key = next(k for k, v in tensors.items() if v.is_floating_point())
    tensors[key][...] = float("nan")
    header.pop("weights_sha256")  # as a tool other than stablenets would write it
    save_file(tensors, str(model_path), metadata=header)
    assert main(["evaluate", str(tmp_path), "--n", "8", "--device", "cpu", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not finite" in err and key in err
    assert not (tmp_path / "robustness-quick.json").exists()


def test_a_folder_with_any_stablenets_file_is_not_written_over(tmp_path):
    import stablenets

    save_model(tmp_path / ckpt.MODEL_FILE, stablenets.create_model("resnet-8", dataset="embedded-mnist"), {})
    before = (tmp_path / ckpt.MODEL_FILE).read_bytes()
    with pytest.raises(ValueError, match="already holds stablenets files.*model.safetensors.*--resume"):
        train(tiny(), tmp_path, device="cpu", log=quiet)
    assert (tmp_path / ckpt.MODEL_FILE).read_bytes() == before
    (tmp_path / "only-mine.txt").write_text("a user's notes")  # other files do not make a folder a run
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("x")
    train(tiny("run.epochs=1"), other, device="cpu", log=quiet)
    assert (other / "notes.txt").read_text() == "x"


def test_resume_of_a_folder_without_a_run_is_refused(tmp_path):
    with pytest.raises(ValueError, match="holds no run to continue"):
        train(tiny(), tmp_path / "typo", device="cpu", resume=True, log=quiet)
    assert not (tmp_path / "typo").exists()


def test_resume_with_changed_settings_is_refused_naming_them_and_allowed_changes_are_recorded(tmp_path):
    train(tiny(), tmp_path, device="cpu", log=quiet)
    before = (tmp_path / ckpt.MODEL_FILE).read_bytes()
    for extra, keys in ((["optim.name=adam"], ["optim.name"]),
                        (["model.overrides.widths=[4, 8, 8]", "optim.lr=0.05"], ["model.overrides.widths", "optim.lr"]),
                        (["run.seed=3"], ["run.seed"])):
        with pytest.raises(ValueError, match="settings differ") as info:
            train(tiny(*extra), tmp_path, device="cpu", resume=True, log=quiet)
        assert all(k in str(info.value) for k in keys), str(info.value)
    with pytest.raises(ValueError, match="completed 2 epochs"):
        train(tiny("run.epochs=1"), tmp_path, device="cpu", resume=True, log=quiet)
    assert (tmp_path / ckpt.MODEL_FILE).read_bytes() == before  # refused runs changed nothing
    train(tiny("run.epochs=3", "data.eval_batch_size=7"), tmp_path, device="cpu", resume=True, log=quiet)
    history = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()]
    assert [(h["resume"], h["start_epoch"], h["epochs"]) for h in history] == [(False, 0, 2), (True, 2, 3)]
    assert history[-1]["changed"] == {"run.epochs": [2, 3], "data.eval_batch_size": [500, 7]}
    assert json.loads((tmp_path / "config.json").read_text())["run"]["epochs"] == 3
    assert load_model(tmp_path)[1]["epoch"] == 3


def test_stale_temporary_files_are_removed_at_the_next_start(tmp_path):
    train(tiny("run.epochs=1"), tmp_path, device="cpu", log=quiet)
    stale = [tmp_path / ".model.safetensors.abc123.tmp", tmp_path / ".train_state.pt.x9.tmp"]
    for p in stale:
        p.write_bytes(b"\0" * 4096)  # what kill -9 inside a write leaves
    lines = []
    train(tiny("run.epochs=2"), tmp_path, device="cpu", resume=True, log=lines.append)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert any("removed 2 temporary" in line for line in lines)


def test_a_second_writer_of_one_run_folder_is_refused(tmp_path):
    """Another process holds the run's lease: train refuses, naming it; once it is gone the run goes ahead."""
    import sys

    code = ("import sys; from stablenets.training.lease import Lease; "
            f"Lease({str(tmp_path)!r}).hold(); print('held', flush=True); sys.stdin.readline()")
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ValueError, match=f"another process \\(pid {holder.pid} on .*\\) is writing"):
            train(tiny(), tmp_path, device="cpu", log=quiet)
        assert not (tmp_path / "config.json").exists()
    finally:
        holder.kill()
        holder.wait()
    train(tiny("run.epochs=1"), tmp_path, device="cpu", log=quiet)  # its process is gone: the run goes ahead


@pytest.fixture
def small_fs(tmp_path):
    """A mounted tmpfs (root only): mount(size, read_only) -> its folder; unmounted afterwards."""
    mounts = []

    def mount(size: str, read_only: bool = False):
        path = tmp_path / f"fs{len(mounts)}"
        path.mkdir()
        opts = f"size={size}" + (",ro" if read_only else "")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip() or 'not root'})")
        mounts.append(path)
        return path

    yield mount
    for path in mounts:
        subprocess.run(["umount", str(path)], capture_output=True)


def test_a_read_only_output_is_one_message_naming_the_path_before_any_work(tmp_path, small_fs, capsys):
    from stablenets.cli import main

    if os.geteuid() == 0:
        folder = small_fs("64k", read_only=True)
    else:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o555)
    out = folder / "run"
    rc = main(["train", "b-moons-mlp-h0.1", "--scale", "smoke", "--device", "cpu", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and str(out) in err and "nothing was started" in err and "the run" in err


def test_a_full_disk_is_one_message_naming_the_file_and_what_was_saved(small_fs, capsys):
    from stablenets.cli import main

    folder = small_fs("40k")
    rc = main(["train", "b-moons-mlp-h0.1", "--scale", "smoke", "--device", "cpu", "--out", str(folder / "run"),
               "--no-progress", "model.overrides.hidden=256", "model.overrides.blocks=2"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert "no space left" in err.lower() and str(folder / "run") in err and "no complete checkpoint" in err
    assert not [p for p in (folder / "run").iterdir() if p.name.endswith(".tmp")]
