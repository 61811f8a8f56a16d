"""Gradient-masking diagnostics: a masked model is flagged, a plain trained model is not,
and each flag fires exactly when its evidence crosses its threshold."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from stablenets.evaluation import evaluate_robustness, masking_flags
from stablenets.evaluation import diagnostics as D



class Quantize(nn.Module):
    """Input quantisation to 8 levels: torch.round has a zero gradient everywhere."""

    def forward(self, x):
        return torch.round(x * 8) / 8


def templates_data(n: int, g: torch.Generator, templates: torch.Tensor):
    y = torch.randint(0, templates.shape[0], (n,), generator=g)
    return (0.5 * templates[y] + 0.5 * torch.rand(n, *templates.shape[1:], generator=g)).clamp(0, 1), y


@pytest.fixture(scope="module")
def trained():
    """A small MLP on 4 classes of noisy 3×6×6 templates, trained for about a second."""
    g = torch.Generator().manual_seed(0)
    templates = torch.rand(4, 3, 6, 6, generator=g)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(108, 32), nn.ReLU(), nn.Linear(32, 4))
    opt = torch.optim.Adam(net.parameters(), lr=5e-3)
    for _ in range(100):
        x, y = templates_data(64, g, templates)
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    net.eval()
    x, y = templates_data(120, g, templates)
    return net, x, y


OVERRIDES = {"diagnostics.eps": 0.1, "diagnostics.n": 120, "diagnostics.steps": 20, "diagnostics.strong_steps": 40,
             "diagnostics.strong_restarts": 2, "diagnostics.spsa": {"steps": 10, "samples": 16, "lr": 0.02},
             "attacks.pgd.eps": [0.1], "attacks.fgsm.eps": [0.1], "noise.cifar10c.severities": [1]}


def test_plain_trained_model_is_not_flagged(trained):
    net, x, y = trained
    source = nn.Sequential(nn.Flatten(), nn.Linear(108, 4))  # an unrelated, weak source: transfer can't win
    r = evaluate_robustness(net, x, y, "quick", OVERRIDES, progress=False, source_model=source)
    probes = r["diagnostics"]["probes"]
    assert r["clean"] > 0.9
    assert 0.1 < probes["pgd"] < 0.9, "the radius should make the probes informative"
    assert r["flags_raised"] == [], r["diagnostics"]["flags"]
    assert probes["pgd_strong"] <= probes["pgd"]  # its first restart repeats pgd's iterates


def test_masked_gradient_model_is_flagged_with_its_evidence(trained):
    net, x, y = trained
    masked = nn.Sequential(Quantize(), net).eval()
    r = evaluate_robustness(masked, x, y, "quick", OVERRIDES, progress=False, source_model=net)
    flags = {f["flag"]: f for f in r["diagnostics"]["flags"]}
    probes = r["diagnostics"]["probes"]
    assert flags["b"]["raised"] and flags["c"]["raised"]
    # the evidence is the numbers that crossed the threshold
    assert flags["b"]["evidence"]["transfer"] == probes["transfer"] < probes["pgd"] - D.BLACK_BOX_GAP
    assert flags["c"]["evidence"]["pgd_at_eps"]["1.0"] > D.LARGE_EPS_ACCURACY
    assert any("zero input gradient" in w for w in r["preflight"]["warnings"])


def probes(**acc):
    base = {"eps": 0.03, "n": 100, "clean": 0.9, "fgsm": 0.5, "pgd": 0.4, "pgd_strong": 0.4,
            "pgd_strong_settings": {"steps": 100, "restarts": 5}, "pgd_margin": 0.4, "spsa": 0.45,
            "large_eps": {"0.3": 0.0, "1.0": 0.0}}
    base.update(acc)
    return base


@pytest.mark.parametrize("code,key,threshold", [
    ("a", "pgd_strong", D.STRONGER_PGD_GAP), ("b", "spsa", D.BLACK_BOX_GAP), ("d", "fgsm", D.SINGLE_STEP_GAP),
    ("e", "pgd_margin", D.MARGIN_GAP)])
def test_each_flag_fires_exactly_past_its_threshold(code, key, threshold):
    def raised(value):
        return {f["flag"]: f["raised"] for f in masking_flags(probes(**{key: value}))}

    assert not any(raised(0.4).values())
    assert raised(0.4 - threshold - 0.01)[code]
    assert not raised(0.4 - threshold + 0.01)[code]
    others = raised(0.4 - threshold - 0.01)
    assert [c for c, r in others.items() if r] == [code]


def test_large_radius_flag_and_missing_evidence():
    assert [f["flag"] for f in masking_flags(probes(large_eps={"1.0": 0.3})) if f["raised"]] == ["c"]
    flags = masking_flags({k: v for k, v in probes().items() if k not in ("spsa", "large_eps")})
    assert not any(f["raised"] for f in flags)
