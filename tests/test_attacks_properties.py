"""Properties every attack must keep, over random models and inputs.

- ‖x_adv − x‖ ≤ ε + 1e-6 per sample (L∞ and L2), x_adv ∈ [0, 1];
- the model's per-module train/eval modes and its parameters are unchanged, no .grad appears;
- same seed, same output; restarts never make PGD weaker.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

import stablenets
from stablenets.attacks import cw_l2, cw_linf, fgsm, ifgsm, pgd, spsa, transfer
from stablenets.attacks.base import margin



def conv_net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.Dropout(0.3),
                         nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(24, 5))


def linear_net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 5))


def resnet8(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return stablenets.create_model("resnet-8", num_classes=5, image_size=8)


ATTACKS = {
    "fgsm-linf": (lambda m, x, y, e: fgsm(m, x, y, e), "linf"),
    "fgsm-l2": (lambda m, x, y, e: fgsm(m, x, y, e, norm="l2"), "l2"),
    "ifgsm": (lambda m, x, y, e: ifgsm(m, x, y, e, alpha=e / 2, steps=4), "linf"),
    "pgd-linf-ce": (lambda m, x, y, e: pgd(m, x, y, e, alpha=e, steps=4, restarts=2), "linf"),
    "pgd-linf-margin": (lambda m, x, y, e: pgd(m, x, y, e, alpha=e, steps=4, loss="margin"), "linf"),
    "pgd-l2": (lambda m, x, y, e: pgd(m, x, y, 20 * e, alpha=10 * e, steps=4, norm="l2", restarts=2), "l2"),
    "cw_linf": (lambda m, x, y, e: cw_linf(m, x, y, e, steps=6, lr=0.5), "linf"),
    "cw_l2": (lambda m, x, y, e: cw_l2(m, x, y, c=10.0, steps=10, lr=0.05, binary_search_steps=2,
                                       eps=20 * e), "l2"),
    "spsa": (lambda m, x, y, e: spsa(m, x, y, e, steps=3, samples=4, lr=0.05), "linf"),
    "transfer": (lambda m, x, y, e: transfer(linear_net(9), m, x, y, "pgd", eps=e, alpha=e, steps=3), "linf"),
}
RADIUS = {"linf": 1.0, "l2": 20.0}


@pytest.mark.parametrize("name", sorted(ATTACKS))
@pytest.mark.parametrize("make", [conv_net, linear_net, resnet8])
@pytest.mark.parametrize("seed", [0, 1])
def test_attack_stays_in_ball_and_box_and_leaves_model_alone(name, make, seed):
    attack, norm = ATTACKS[name]
    model = make(seed)
    model.train()
    list(model.modules())[-1].eval()  # a mixed-mode model: each module must get its own mode back
    modes = [m.training for m in model.modules()]
    params = [p.detach().clone() for p in model.parameters()]
    gen = torch.Generator().manual_seed(100 + seed)
    # pixels at the box edges too, so clipping is exercised
    x = torch.rand(6, 3, 8, 8, generator=gen).mul(1.4).sub(0.2).clamp(0, 1)
    y = torch.randint(0, 5, (6,), generator=gen)
    eps = [0.03, 0.1][seed]
    x_adv = attack(model, x, y, eps)
    assert x_adv.shape == x.shape and x_adv.dtype == x.dtype
    assert torch.isfinite(x_adv).all()
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    delta = (x_adv - x).flatten(1)
    size = delta.abs().amax(1) if norm == "linf" else delta.norm(dim=1)
    assert (size <= eps * RADIUS[norm] + 1e-6).all(), size.max()
    assert [m.training for m in model.modules()] == modes
    for p, p0 in zip(model.parameters(), params):
        assert torch.equal(p, p0) and p.grad is None


def test_attacks_change_something_and_respect_the_seed():
    model = conv_net(0)
    x = torch.rand(8, 3, 8, 8)
    y = model.eval()(x).argmax(1)
    a = pgd(model, x, y, 0.05, 0.02, 5, seed=3)
    b = pgd(model, x, y, 0.05, 0.02, 5, seed=3)
    c = pgd(model, x, y, 0.05, 0.02, 5, seed=4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    s1, s2 = spsa(model, x, y, 0.05, steps=2, samples=4, seed=1), spsa(model, x, y, 0.05, steps=2, samples=4, seed=1)
    assert torch.equal(s1, s2)
    # the attack increases the margin it maximises on every sample
    assert (margin(model(a), y) > margin(model(x), y)).all()


def test_pgd_restarts_keep_the_worst_case_per_sample():
    model = conv_net(1).eval()
    x = torch.rand(16, 3, 8, 8)
    y = model(x).argmax(1)
    one = margin(model(pgd(model, x, y, 0.05, 0.01, 3, restarts=1, seed=7)), y)
    many = margin(model(pgd(model, x, y, 0.05, 0.01, 3, restarts=4, seed=7)), y)
    assert (many >= one - 1e-6).all()


def test_pgd_ball_is_centred_on_the_clean_input_not_on_the_start():
    # large steps from a random start: a start-centred ball would let ‖δ‖∞ reach 2ε
    model = linear_net(2)
    x = torch.full((4, 3, 8, 8), 0.5)
    y = torch.zeros(4, dtype=torch.long)
    x_adv = pgd(model, x, y, 0.1, alpha=0.1, steps=3, random_start=True)
    assert (x_adv - x).abs().max() <= 0.1 + 1e-6


def test_bad_inputs_raise_one_clear_error():
    model = linear_net(0)
    x = torch.rand(2, 3, 8, 8)
    with pytest.raises(ValueError, match="long tensor"):
        pgd(model, x, torch.zeros(2), 0.1, 0.01, 1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fgsm(model, x * 255, torch.zeros(2, dtype=torch.long), 0.1)
    with pytest.raises(ValueError, match="norm"):
        fgsm(model, x, torch.zeros(2, dtype=torch.long), 0.1, norm="l3")
    with pytest.raises(ValueError, match="different"):
        transfer(model, model, x, torch.zeros(2, dtype=torch.long), "fgsm", eps=0.1)


def test_autoattack_without_the_package_says_how_to_install(monkeypatch):
    import sys

    from stablenets.attacks import autoattack

    monkeypatch.setitem(sys.modules, "pyautoattack", None)
    with pytest.raises(ImportError, match=r"pip install 'stablenets\[autoattack\]'"):
        autoattack(linear_net(0), torch.rand(2, 3, 8, 8), torch.zeros(2, dtype=torch.long), 0.03)


def test_autoattack_wrapper_keeps_the_budget_and_is_at_least_as_strong_as_pgd():
    pytest.importorskip("pyautoattack", reason="optional extra: pip install 'stablenets[autoattack]'")
    from stablenets.attacks import autoattack

    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 10)).eval()
    x = torch.rand(20, 3, 2, 2)
    y = model(x).argmax(1)
    x_adv = autoattack(model, x, y, 0.1)
    assert (x_adv - x).abs().max() <= 0.1 + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
    acc_aa = (model(x_adv).argmax(1) == y).float().mean()
    acc_pgd = (model(pgd(model, x, y, 0.1, 0.025, 20)).argmax(1) == y).float().mean()
    assert acc_aa <= acc_pgd + 0.05
