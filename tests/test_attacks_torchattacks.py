"""Cross-check against an independent implementation: torchattacks 3.5.1.

Install it without its dependencies (it would pull a broken torchvision and pin requests):
``pip install --no-deps torchattacks==3.5.1`` (it imports with torch, numpy and scipy only).
On the same small trained model, our PGD, CW-L2 and SPSA accuracies must be within a few
points of torchattacks'.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from stablenets.attacks import cw_l2, pgd, spsa

torchattacks = pytest.importorskip(
    "torchattacks", reason="torchattacks not installed: pip install --no-deps torchattacks==3.5.1")



TOLERANCE = 0.06  # accuracy points (fraction) between two correct implementations


def trained_model() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """A small conv net trained for ~1 s on 4 classes of noisy 1×8×8 templates."""
    g = torch.Generator().manual_seed(0)
    templates = torch.rand(4, 1, 8, 8, generator=g)

    def sample(n):
        y = torch.randint(0, 4, (n,), generator=g)
        return (0.6 * templates[y] + 0.4 * torch.rand(n, 1, 8, 8, generator=g)).clamp(0, 1), y

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                          nn.Flatten(), nn.Linear(8 * 64, 4))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(150):
        x, y = sample(128)
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    model.eval()
    x, y = sample(200)
    return model, x, y


@pytest.fixture(scope="module")
def setup():
    return trained_model()


def accuracy(model, x, y):
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def test_the_model_is_trained_and_attackable(setup):
    model, x, y = setup
    assert accuracy(model, x, y) > 0.9


def test_pgd_linf_matches_torchattacks(setup):
    model, x, y = setup
    eps, alpha, steps = 0.1, 0.025, 10
    ours = accuracy(model, pgd(model, x, y, eps, alpha, steps, keep_best=False), y)
    theirs = accuracy(model, torchattacks.PGD(model, eps=eps, alpha=alpha, steps=steps, random_start=True)(x, y), y)
    assert 0.05 < theirs < 0.9, "radius should leave the comparison informative"
    assert abs(ours - theirs) <= TOLERANCE, (ours, theirs)


def test_pgd_l2_matches_torchattacks(setup):
    model, x, y = setup
    eps, alpha, steps = 0.7, 0.175, 10
    ours = accuracy(model, pgd(model, x, y, eps, alpha, steps, norm="l2", keep_best=False), y)
    theirs = accuracy(model, torchattacks.PGDL2(model, eps=eps, alpha=alpha, steps=steps)(x, y), y)
    assert 0.05 < theirs < 0.9
    assert abs(ours - theirs) <= TOLERANCE, (ours, theirs)


class ShiftedLogits(nn.Module):
    """Adds a constant to every logit: the same classifier, softmax and margins.

    torchattacks' CW takes the largest other logit as max((1 − onehot)·z), which is 0, not
    the largest other logit, when all other logits are negative. Shifting the logits up
    keeps that quirk out of the comparison.
    """

    def __init__(self, model: nn.Module, shift: float = 30.0):
        super().__init__()
        self.model, self.shift = model, shift

    def forward(self, x):
        return self.model(x) + self.shift


def test_cw_l2_matches_torchattacks(setup):
    model, x, y = setup
    shifted = ShiftedLogits(model).eval()
    c, steps, lr = 0.1, 50, 0.01
    adv_ours = cw_l2(shifted, x, y, c=c, steps=steps, lr=lr, binary_search_steps=1)
    adv_theirs = torchattacks.CW(shifted, c=c, kappa=0, steps=steps, lr=lr)(x, y)
    ours, theirs = accuracy(model, adv_ours, y), accuracy(model, adv_theirs, y)
    assert 0.05 < theirs < 0.95
    assert abs(ours - theirs) <= TOLERANCE, (ours, theirs)
    # both return the smallest successful perturbation: compare the typical size too
    d_ours = (adv_ours - x).flatten(1).norm(dim=1)
    d_theirs = (adv_theirs - x).flatten(1).norm(dim=1)
    both = (d_ours > 0) & (d_theirs > 0)
    assert both.sum() > 20
    assert abs(d_ours[both].median() - d_theirs[both].median()) <= 0.15 * d_theirs[both].median()


def test_spsa_matches_torchattacks(setup):
    model, x, y = setup
    x, y = x[:100], y[:100]
    eps, steps, samples, lr = 0.13, 8, 32, 0.04
    ours = accuracy(model, spsa(model, x, y, eps, steps=steps, samples=samples, lr=lr), y)
    torch.manual_seed(0)
    theirs = accuracy(model, torchattacks.SPSA(model, eps=eps, lr=lr, nb_iter=steps, nb_sample=samples,
                                               max_batch_size=samples)(x, y), y)
    assert 0.05 < theirs < 0.95
    assert abs(ours - theirs) <= TOLERANCE + 0.04, (ours, theirs)  # both are stochastic estimates
