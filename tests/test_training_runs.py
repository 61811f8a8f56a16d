"""Runs that survive crashes: resume = uninterrupted, atomic checkpoints, divergence, ensembles."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from stablenets.checkpoint import Ensemble, load_ensemble, load_model
from stablenets.checkpoint import files as ckpt
from stablenets.training import NonFiniteLossError, TrainConfig, apply_overrides, train
from stablenets.training import trainer



def tiny(*extra: str) -> TrainConfig:
    return apply_overrides(TrainConfig(), [
        "data.dataset=embedded-mnist", "model.name=in-resnet-8", "model.overrides.widths=[4, 8, 8]",
        "data.batch_size=16", "data.train_subset=96", "data.test_subset=64", "run.epochs=3",
        "schedule.milestones=[2]", "run.progress=false", "run.log_norms=true", *extra])


def quiet(*_):
    pass


def test_resume_gives_the_same_final_weights_as_an_uninterrupted_run(tmp_path):
    full = train(tiny("data.augment=true", "mode.kind=noisy", "mode.sigma=0.1"), tmp_path / "full", device="cpu",
                 log=quiet)
    part = tiny("data.augment=true", "mode.kind=noisy", "mode.sigma=0.1", "run.epochs=1")
    train(part, tmp_path / "cut", device="cpu", log=quiet)
    # the run is continued with the full epoch count, as after a crash in epoch 2
    resumed = train(tiny("data.augment=true", "mode.kind=noisy", "mode.sigma=0.1"), tmp_path / "cut",
                    device="cpu", resume=True, log=quiet)
    a = load_file(str(tmp_path / "full" / ckpt.MODEL_FILE))
    b = load_file(str(tmp_path / "cut" / ckpt.MODEL_FILE))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert full["final"]["loss"] == resumed["final"]["loss"]
    rows = [json.loads(line) for line in (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    keys = {"epoch", "step", "lr", "loss", "train_acc", "test_acc", "test_top5", "test_loss", "seconds",
            "coefficients", "weight_norms", "grad_norms"}
    assert keys <= rows[-1].keys()
    assert all(r["test_acc"] <= r["test_top5"] <= 1 for r in rows)
    lam = rows[-1]["coefficients"]["lambda"]
    assert lam["min"] <= lam["mean"] <= lam["max"] and lam["n"] == 3
    assert all(v > 0 for v in rows[-1]["grad_norms"].values())
    with pytest.raises(ValueError, match="already holds stablenets files"):
        train(tiny(), tmp_path / "cut", device="cpu", log=quiet)


def test_checkpoint_round_trip_and_metadata(tmp_path):
    train(tiny("run.epochs=1"), tmp_path, device="cpu", log=quiet)
    model, meta = load_model(tmp_path / ckpt.MODEL_FILE, "cpu")
    assert not model.training
    assert meta["dataset"] == "embedded-mnist" and meta["preset"] == "in-resnet-8" and meta["epoch"] == 1
    assert meta["config"]["model"]["overrides"]["widths"] == [4, 8, 8]
    x = torch.rand(3, 1, 28, 28)
    again, _ = load_model(tmp_path, "cpu")  # the run folder works too
    assert torch.equal(model(x), again(x))
    state = torch.load(tmp_path / ckpt.STATE_FILE, weights_only=True)
    assert {"model", "optimizer", "scheduler", "rng", "epoch", "step", "sha256"} <= state.keys()
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "nothing.safetensors")


def test_an_interrupted_checkpoint_write_leaves_the_previous_one_loadable(tmp_path, monkeypatch):
    train(tiny("run.epochs=1"), tmp_path, device="cpu", log=quiet)
    before = load_file(str(tmp_path / ckpt.MODEL_FILE))

    def crash(tensors, path, metadata=None):
        with open(path, "wb") as f:
            f.write(b"half a file")
        raise KeyboardInterrupt("killed while writing")

    monkeypatch.setattr(ckpt, "save_file", crash)
    with pytest.raises(KeyboardInterrupt):
        train(tiny("run.epochs=2"), tmp_path, device="cpu", resume=True, log=quiet)
    monkeypatch.undo()
    after = load_file(str(tmp_path / ckpt.MODEL_FILE))
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert load_model(tmp_path)[1]["epoch"] == 1
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temporary left behind


def test_a_planted_nan_stops_the_run_naming_epoch_step_and_checkpoint(tmp_path, monkeypatch):
    real = trainer.training_loss
    calls = {"n": 0}

    def poisoned(model, attack_model, x, y, cfg, seed):
        loss, logits = real(model, attack_model, x, y, cfg, seed)
        calls["n"] += 1
        return (loss * float("nan") if calls["n"] == 6 + 2 else loss), logits  # epoch 2, step 2

    monkeypatch.setattr(trainer, "training_loss", poisoned)
    with pytest.raises(NonFiniteLossError) as info:
        train(tiny("run.finite_check_every=4"), tmp_path, device="cpu", log=quiet)
    err = info.value
    assert (err.epoch, err.step) == (2, 2)
    assert err.checkpoint == str(tmp_path / ckpt.MODEL_FILE)
    assert "epoch 2, step 2" in str(err) and str(tmp_path / ckpt.MODEL_FILE) in str(err)
    assert load_model(tmp_path)[1]["epoch"] == 1  # the last good checkpoint was not overwritten


def test_ensemble_averages_logits_and_is_attackable(tmp_path):
    from stablenets.attacks import pgd

    for seed in (0, 1):
        train(tiny("run.epochs=1", f"run.seed={seed}"), tmp_path / f"s{seed}", device="cpu", log=quiet)
    ens, metas = load_ensemble([tmp_path / "s0", tmp_path / "s1"])
    a, b = (load_model(tmp_path / f"s{s}")[0] for s in (0, 1))
    x, y = torch.rand(4, 1, 28, 28), torch.arange(4)
    assert torch.allclose(ens(x), (a(x) + b(x)) / 2, atol=1e-6)
    x_adv = pgd(ens, x, y, eps=0.1, alpha=0.05, steps=2)
    assert (x_adv - x).abs().max() <= 0.1 + 1e-6 and not torch.equal(x_adv, x)
    assert len(metas) == 2 and isinstance(ens, Ensemble)


def test_top5_accuracy_on_constructed_logits():
    """Sample i's label is outranked by exactly i classes: top-1 counts sample 0, top-5 samples 0 … 4
    (E-table5 reports both); a tie counts for the label; with five classes or fewer top-5 is 1."""
    from stablenets.training.metrics import topk_correct
    from stablenets.training.trainer import evaluate_accuracy

    n, classes = 8, 10
    y = torch.arange(n) % classes
    logits = torch.zeros(n, classes)
    for i in range(n):
        order = [c for c in range(classes) if c != y[i]]
        logits[i, order[:i]] = 2.0 + torch.arange(i, dtype=torch.float)  # i classes above the label
        logits[i, y[i]] = 1.0

    class Fixed(torch.nn.Module):  # sample i's logits, whatever batch it arrives in
        def forward(self, x):
            return logits[x[:, 0].long()]

    acc, loss, top5 = evaluate_accuracy(Fixed(), torch.arange(n, dtype=torch.float).view(n, 1), y, 3, "cpu")
    assert (acc, top5) == (1 / n, 5 / n)
    assert loss == pytest.approx(float(torch.nn.functional.cross_entropy(logits, y)))
    tied = torch.tensor([[1.0, 1.0, 0.0]])
    assert topk_correct(tied, torch.tensor([1]), 1) == 1  # tied with the top: counts
    torch.manual_seed(0)
    random_logits, labels = torch.randn(500, 7), torch.randint(0, 7, (500,))
    assert topk_correct(random_logits, labels, 5) >= (random_logits.argmax(1) == labels).sum()
    assert topk_correct(random_logits[:, :5], labels % 5, 5) == 500
