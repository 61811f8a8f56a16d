"""The CIFAR-C noise formulas have their published statistics; all noise is seed-deterministic."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from stablenets.data import load
from stablenets.data.corruptions import (SEVERITIES, constant_noise, corrupt, gaussian_noise_train,
                                         replace_characters, uniform_noise)
from stablenets.data.noise_sets import noise_test_set


def _on_grid(y):
    """Values are k/255 up to float rounding: (y·255).round() recovers the uint8 level."""
    return ((y * 255) - (y * 255).round()).abs().max().item() < 1e-3


def _const(v, n=200_000):
    return torch.full((n // 1024, 1, 32, 32), v)


def test_published_severities():
    assert SEVERITIES["gaussian_noise"] == (0.04, 0.06, 0.08, 0.09, 0.10)
    assert SEVERITIES["shot_noise"] == (500, 250, 100, 75, 50)
    assert SEVERITIES["impulse_noise"] == (0.01, 0.02, 0.03, 0.05, 0.07)
    assert SEVERITIES["speckle_noise"] == (0.06, 0.10, 0.12, 0.16, 0.20)


def test_gaussian_severity3_std():
    y = corrupt(_const(0.5), "gaussian_noise", 3)
    assert abs(y.std().item() - 0.08) < 0.002
    # truncation to uint8 levels lowers the mean by half a level on average
    assert abs(y.mean().item() - (0.5 - 0.5 / 255)) < 0.001


@pytest.mark.parametrize("severity", [1, 5])
def test_impulse_fraction_is_amount(severity):
    x = _const(128 / 255)  # on the uint8 grid, so only flipped values change
    y = corrupt(x, "impulse_noise", severity)
    amount, n = SEVERITIES["impulse_noise"][severity - 1], x.numel()
    changed = (y != x).float()
    assert abs(changed.mean().item() - amount) < 4 * (amount * (1 - amount) / n) ** 0.5
    assert set(y[y != x].unique().tolist()) == {0.0, 1.0}
    assert abs((y == 1).float().sum().item() / changed.sum().item() - 0.5) < 0.05


@pytest.mark.parametrize("v", [0.2, 0.6])
def test_shot_noise_variance_is_x_over_c(v):
    c = SEVERITIES["shot_noise"][2]
    y = corrupt(_const(v), "shot_noise", 3)
    assert abs(y.var().item() / (v / c) - 1) < 0.05
    assert abs(y.mean().item() - v) < 0.005


def test_speckle_std_scales_with_x():
    c = SEVERITIES["speckle_noise"][4]
    for v in (0.2, 0.4):
        assert abs(corrupt(_const(v), "speckle_noise", 5).std().item() - c * v) < 0.003


@pytest.mark.parametrize("name", list(SEVERITIES))
def test_seeded_deterministic_and_on_uint8_grid(name):
    x = torch.rand(8, 3, 16, 16)
    a, b = corrupt(x, name, 4, seed=7), corrupt(x, name, 4, seed=7)
    assert torch.equal(a, b) and not torch.equal(a, corrupt(x, name, 4, seed=8))
    assert a.min() >= 0 and a.max() <= 1
    assert _on_grid(a)


def test_untouched_levels_survive_quantisation():
    x = torch.arange(256, dtype=torch.float32).div(255).view(1, 1, 16, 16)
    y = corrupt(x.expand(64, 1, 16, 16).contiguous(), "impulse_noise", 1)
    keep = (y != 0) & (y != 1)
    assert torch.equal(y[keep], x.expand(64, 1, 16, 16)[keep])


def test_zerosnet_noises_clipped():
    x = torch.rand(64, 3, 8, 8)
    g = torch.Generator().manual_seed(123)  # not the stream that drew x
    u = uniform_noise(x, -0.1, 0.3, generator=g)
    inner = (x > 0.1) & (x < 0.7)
    d = (u - x)[inner]
    assert d.min() >= -0.1 and d.max() <= 0.3 and abs(d.mean().item() - 0.1) < 0.01
    assert u.min() >= 0 and u.max() <= 1
    assert torch.equal(constant_noise(x, 0.2), (x + 0.2).clamp(0, 1))
    n = gaussian_noise_train(torch.full((100_000,), 0.5), 0.1, torch.Generator().manual_seed(1))
    assert abs(n.std().item() - 0.1) < 0.002


def test_replace_characters_fraction_and_padding():
    codes = torch.randint(1, 71, (64, 1014))
    codes[:, 900:] = 0
    out = replace_characters(codes, 0.2, seed=3)
    assert (out[:, 900:] == 0).all()
    changed = (out[:, :900] != codes[:, :900]).float().mean().item()
    assert abs(changed - 0.2 * 69 / 70) < 0.01  # a replacement may redraw the same code
    assert out.min() >= 0 and out.max() <= 70
    assert torch.equal(out, replace_characters(codes, 0.2, seed=3))


def test_generated_noise_set_from_clean_test_set():
    clean = load("embedded-mnist", split="test")
    a = noise_test_set("mnist", "gaussian_noise", 5, clean=clean, seed=1)
    b = noise_test_set("mnist", "gaussian_noise", 5, clean=clean, seed=1)
    assert a.source == "generated" and a.images.dtype == torch.uint8
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, clean[1])
    d = a.images.float() - clean[0].float()
    mid = (clean[0] > 60) & (clean[0] < 195)  # far from clipping
    assert abs(d[mid].std().item() / 255 - 0.10) < 0.005


def test_noise_set_prefers_official_files(tmp_path):
    folder = tmp_path / "CIFAR-10-C"
    folder.mkdir()
    np.lib.format.open_memmap(folder / "shot_noise.npy", mode="w+", dtype=np.uint8, shape=(50000, 32, 32, 3))
    np.save(folder / "labels.npy", np.zeros(50000, dtype=np.uint8))
    s = noise_test_set("cifar10", "shot_noise", 1, root=tmp_path, verify=False)
    assert s.source == "official" and s.images.shape == (10000, 3, 32, 32)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", list(SEVERITIES))
def test_corruptions_on_cuda(name):
    x = torch.full((64, 3, 32, 32), 128 / 255, device="cuda")
    y = corrupt(x, name, 3, seed=5)
    assert y.is_cuda and torch.equal(y, corrupt(x, name, 3, seed=5))
    assert _on_grid(y)
    ref = corrupt(x.cpu(), name, 3, seed=5)  # other generator stream, same statistics
    assert abs(y.std().item() - ref.std().item()) < 0.1 * ref.std().item()
