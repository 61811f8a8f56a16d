"""Two interleaving half circles ("two moons"), generated; no files.

The construction of scikit-learn's ``make_moons``: n//2 points on the upper half circle
(cos t, sin t) with label 0 and n - n//2 on the lower one (1 − cos t, 1/2 − sin t) with
label 1, t evenly spaced in [0, π], then isotropic Gaussian noise of standard deviation
``noise`` and a shuffle. The train and test splits use different streams of one seed.
"""
from __future__ import annotations

import math

import torch

_SPLIT_STREAM = {"train": 0, "test": 1}


def make_moons(n: int = 1000, noise: float = 0.1, seed: int = 0, split: str = "train"):
    """float32 points (n, 2) and int64 labels (n,), a pure function of (n, noise, seed, split)."""
    if n < 2 or noise < 0:
        raise ValueError(f"moons needs n >= 2 and noise >= 0, got n={n}, noise={noise}")
    g = torch.Generator().manual_seed(2 * int(seed) + _SPLIT_STREAM[split])
    n_out = n // 2
    t_out = torch.linspace(0, math.pi, n_out, dtype=torch.float64)
    t_in = torch.linspace(0, math.pi, n - n_out, dtype=torch.float64)
    x = torch.cat([torch.stack([t_out.cos(), t_out.sin()], 1),
                   torch.stack([1 - t_in.cos(), 0.5 - t_in.sin()], 1)])
    y = torch.cat([torch.zeros(n_out, dtype=torch.int64), torch.ones(n - n_out, dtype=torch.int64)])
    x = x + noise * torch.randn(x.shape, generator=g, dtype=torch.float64)
    perm = torch.randperm(n, generator=g)
    return x[perm].float(), y[perm]
