"""Shared fixtures: where the real data sets live, and deterministic seeding."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_root() -> Path:
    """The read-only data sets beside the checkout (``../shared/data``), or $STABLENETS_SHARED_DATA."""
    return Path(os.environ.get("STABLENETS_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    root = shared_data_root()
    if not root.is_dir():
        pytest.skip(f"real data sets not found at {root}; set STABLENETS_SHARED_DATA to their folder")
    return root


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


def pytest_configure(config):
    # The suite's tensors are tiny: one intra-op thread is as fast, and it does not stall
    # (OpenMP spin-waiting) when the 2-core machine is busy with anything else.
    torch.set_num_threads(1)
