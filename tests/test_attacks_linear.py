"""Attacks against a linear binary classifier, whose worst case is known in closed form.

For logits z = W x + b with two classes, the margin of sample (x, y) is
m(x) = v·x + c with v = w_y − w_j, c = b_y − b_j. Inside the box [0, 1] and far enough
from its faces, the perturbation minimising m over ‖δ‖∞ ≤ ε is δ* = −ε·sign(v), giving
m* = m(x) − ε‖v‖₁; over ‖δ‖₂ ≤ ε it is δ* = −ε v/‖v‖₂, giving m* = m(x) − ε‖v‖₂.
So the worst-case accuracy is exactly the fraction with m* > 0. The data are built with
no sample within 1e-3 of that threshold, so the count has no rounding ambiguity.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from stablenets.attacks import cw_l2, cw_linf, fgsm, ifgsm, pgd, spsa



D, N, EPS, EPS_L2 = 24, 64, 0.05, 0.25


def problem(norm: str):
    eps = EPS if norm == "linf" else EPS_L2
    g = torch.Generator().manual_seed(5)
    model = nn.Linear(D, 2)
    with torch.no_grad():
        model.weight.copy_(torch.randn(2, D, generator=g) * 0.5)
        model.bias.zero_()
    x = eps + (1 - 2 * eps) * torch.rand(4 * N, D, generator=g, dtype=torch.float64)
    y = torch.randint(0, 2, (4 * N,), generator=g)
    w = model.weight.double()
    v = w[y] - w[1 - y]
    clean = (v * x).sum(1)
    budget = eps * (v.abs().sum(1) if norm == "linf" else v.norm(dim=1))
    keep = ((clean - budget).abs() > 1e-3) & ((clean).abs() > 1e-3)
    x, y, v, clean, budget = x[keep][:N], y[keep][:N], v[keep][:N], clean[keep][:N], budget[keep][:N]
    analytic = ((clean - budget) > 0).double().mean().item()
    if norm == "linf":
        optimum = x - EPS * v.sign()
    else:
        optimum = x - eps * v / v.norm(dim=1, keepdim=True)
    return model, x.float(), y, analytic, optimum.float()


def accuracy(model, x, y):
    return (model(x).argmax(1) == y).double().mean().item()


@pytest.mark.parametrize("name,attack", [
    ("fgsm", lambda m, x, y: fgsm(m, x, y, EPS)),
    ("ifgsm", lambda m, x, y: ifgsm(m, x, y, EPS, alpha=EPS / 4, steps=8)),
    ("pgd-ce", lambda m, x, y: pgd(m, x, y, EPS, alpha=EPS / 4, steps=10, restarts=2)),
    ("pgd-margin", lambda m, x, y: pgd(m, x, y, EPS, alpha=EPS / 4, steps=10, loss="margin")),
])
def test_linf_attacks_reach_the_analytic_worst_case_exactly(name, attack):
    model, x, y, analytic, optimum = problem("linf")
    assert 0.2 < analytic < accuracy(model, x, y)  # the attack has work to do, and not all of it
    x_adv = attack(model, x, y)
    assert accuracy(model, x_adv, y) == analytic
    assert torch.allclose(x_adv, optimum, atol=1e-6)


def test_cw_linf_stays_in_its_ball_and_reaches_the_analytic_worst_case():
    # the real Carlini–Wagner L∞ attack (paper D §5.1: ε = 0.031-style budget, K = 100 iterations):
    # it minimises the misclassification hinge plus the τ-penalty, not PGD's signed steps
    model, x, y, analytic, optimum = problem("linf")
    x_adv = cw_linf(model, x, y, EPS, steps=100)
    assert (x_adv - x).abs().amax(1).max() <= EPS + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
    assert accuracy(model, x_adv, y) == analytic
    # a point it fools is never further than the one the closed form needs: ‖δ‖∞ ≥ m(x)/‖v‖₁
    w = model.weight.detach()
    v = w[y] - w[1 - y]
    fooled = model(x_adv).argmax(1) != y
    need = (v * x).sum(1) / v.abs().sum(1)
    assert ((x_adv - x).abs().amax(1)[fooled] >= need[fooled] - 1e-5).all()


@pytest.mark.parametrize("name,attack,tol", [
    ("fgm-l2", lambda m, x, y: fgsm(m, x, y, EPS_L2, norm="l2"), 1e-5),
    # from a random start the projections only approach the optimum geometrically
    ("pgd-l2", lambda m, x, y: pgd(m, x, y, EPS_L2, alpha=EPS_L2 / 3, steps=30, norm="l2", restarts=2), 1e-4),
])
def test_l2_attacks_reach_the_analytic_worst_case_exactly(name, attack, tol):
    model, x, y, analytic, optimum = problem("l2")
    assert analytic < accuracy(model, x, y)
    x_adv = attack(model, x, y)
    assert accuracy(model, x_adv, y) == analytic
    assert torch.allclose(x_adv, optimum, atol=tol)


def test_spsa_without_gradients_gets_close_to_the_analytic_worst_case():
    model, x, y, analytic, _ = problem("linf")
    x_adv = spsa(model, x, y, EPS, steps=20, samples=32, lr=0.01)
    acc = accuracy(model, x_adv, y)
    assert analytic <= acc <= analytic + 0.05


def test_cw_l2_never_beats_the_minimal_distance_and_finds_near_minimal_examples():
    # minimal L2 distance to the decision boundary of a linear model: m(x) / ‖v‖₂
    model, x, y, _, _ = problem("l2")
    w = model.weight.detach()
    v = w[y] - w[1 - y]
    correct = (model(x).argmax(1) == y)
    dmin = (v * x).sum(1) / v.norm(dim=1)
    x_adv = cw_l2(model, x, y, c=1.0, steps=200, lr=0.01, binary_search_steps=6)
    fooled = model(x_adv).argmax(1) != y
    dist = (x_adv - x).norm(dim=1)
    reachable = correct & (dmin < 0.2)
    assert fooled[reachable].all()
    assert (dist[correct & fooled] >= dmin[correct & fooled] - 1e-5).all()
    assert (dist[reachable] <= 1.25 * dmin[reachable] + 1e-3).all()


def test_targeted_cw_l2_drives_each_sample_to_its_random_wrong_label():
    from stablenets.attacks.cw_l2 import random_targets

    g = torch.Generator().manual_seed(3)
    model = nn.Linear(8, 4).double()
    with torch.no_grad():
        model.weight.copy_(torch.randn(4, 8, generator=g, dtype=torch.float64))
        model.bias.zero_()
    x = 0.3 + 0.4 * torch.rand(64, 8, generator=g, dtype=torch.float64)
    y = model(x).argmax(1)
    t = random_targets(y, 4, seed=7)
    assert (t != y).all() and len(set(t.tolist())) >= 3  # wrong labels, spread over the classes
    assert torch.equal(t, random_targets(y, 4, seed=7))        # the seed fixes them
    x_adv = cw_l2(model, x, y, c=1.0, steps=200, lr=0.01, binary_search_steps=6, target="random", seed=7)
    pred = model(x_adv).argmax(1)
    moved = pred != y
    assert moved.float().mean() > 0.9
    assert torch.equal(pred[moved], t[moved])  # a success is the target label, never another wrong one
    # To reach t a sample must cross its own decision boundary: no shorter than the untargeted minimum.
    w = model.weight.detach()
    others = [(w[y] - w[j]) for j in range(4)]
    dmin = torch.stack([((v * x).sum(1) / v.norm(dim=1)).where(j != y, torch.full_like(y, 1e9, dtype=x.dtype))
                        for j, v in enumerate(others)]).min(0).values
    assert ((x_adv - x).norm(dim=1)[moved] >= dmin[moved] - 1e-6).all()
