"""PGD-AT and TRADES buy PGD robustness that natural training with the same budget does not."""
from __future__ import annotations

import pytest
import torch

from stablenets.attacks import pgd
from stablenets.data import load
from stablenets.checkpoint import load_model
from stablenets.training import TrainConfig, apply_overrides, train
from stablenets.training.modes import trades_adversary



def _pgd_accuracy(mode: str, tmp_path) -> float:
    cfg = apply_overrides(TrainConfig(), [
        "data.dataset=embedded-mnist", "data.augment=false", "model.name=resnet-8",
        "model.overrides.widths=[8, 16, 16]", "data.batch_size=32", "data.train_subset=1500", "data.test_subset=100",
        "run.epochs=1", "optim.lr=0.05", "schedule.kind=constant", "run.progress=false", f"mode.kind={mode}",
        "mode.eps=0.2", "mode.alpha=0.1", "mode.steps=2", "mode.beta=6.0"])
    train(cfg, tmp_path / mode, device="cpu", log=lambda *_: None)
    model, _ = load_model(tmp_path / mode)
    x, y = load("embedded-mnist", split="test")
    x, y = x[:200].float() / 255, y[:200]
    x_adv = pgd(model, x, y, eps=0.1, alpha=0.025, steps=10, seed=1)
    with torch.no_grad():
        return float((model(x_adv).argmax(1) == y).float().mean())


@pytest.fixture(scope="module")
def natural_accuracy(tmp_path_factory):
    return _pgd_accuracy("natural", tmp_path_factory.mktemp("natural"))


@pytest.mark.parametrize("mode", ["pgd", "trades"])
def test_adversarial_training_beats_natural_under_pgd(mode, natural_accuracy, tmp_path):
    robust = _pgd_accuracy(mode, tmp_path)
    # same model, data order, optimiser and number of steps; PGD-10 at ε = 0.1 on 200 test digits
    assert robust > natural_accuracy + 0.05, (mode, robust, natural_accuracy)


def test_trades_adversary_stays_in_the_ball_and_raises_the_kl():
    import torch.nn.functional as F
    from stablenets import create_model

    model = create_model("resnet-8", dataset="mnist", widths=(4, 8, 8)).eval()
    x = torch.rand(8, 1, 28, 28)
    x_adv = trades_adversary(model, x, eps=0.1, alpha=0.05, steps=3, seed=0)
    assert (x_adv - x).abs().max() <= 0.1 + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
    with torch.no_grad():
        p = F.softmax(model(x), 1)
        kl = lambda z: F.kl_div(F.log_softmax(model(z), 1), p, reduction="sum")  # noqa: E731
        assert kl(x_adv) > kl((x + 0.001 * torch.randn_like(x)).clamp(0, 1))
    assert torch.equal(x_adv, trades_adversary(model, x, eps=0.1, alpha=0.05, steps=3, seed=0))


def test_noisy_mode_puts_sigma_on_every_normalised_pixel():
    """B appendix F: "we inject Gaussian noise at every normalized pixel with zero mean" and std σ: after the
    model's own normalisation the added noise has std σ in every channel (not clipped), so σ·std in pixels."""
    from stablenets import create_model
    from stablenets.models import input_normalization
    from stablenets.training.config import ModeConfig
    from stablenets.training.modes import noisy_inputs

    model = create_model("resnet-8")  # CIFAR-10 statistics
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in input_normalization(model))
    x = torch.rand(64, 3, 32, 32)
    noisy = noisy_inputs(model, x, ModeConfig(kind="noisy", sigma=0.4), seed=5)
    added = (noisy - mean) / std - (x - mean) / std
    assert added.std(dim=(0, 2, 3)).tolist() == pytest.approx([0.4] * 3, rel=0.01)
    assert abs(added.mean().item()) < 0.005
    assert (noisy < 0).any() and (noisy > 1).any()  # σ = 0.4 normalised is ≈ 0.1 in pixels: not clipped
    assert torch.equal(noisy, noisy_inputs(model, x, ModeConfig(kind="noisy", sigma=0.4), seed=5))
