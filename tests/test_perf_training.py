"""``run.compile_mode``: the torch.compile mode reaches torch.compile (inductor only); bad modes are refused.

What ``run.compile_mode=reduce-overhead`` (CUDA graphs) gains is measured by ``python -m benchmarks``
(README "Performance"); here the plumbing is checked, with a spy in place of torch.compile that
compiles with the eager backend.
"""
from __future__ import annotations

import pytest
import torch

from stablenets.training import TrainConfig, apply_overrides, train

SMALL = ["data.dataset=embedded-mnist", "model.name=resnet-8", "model.overrides.widths=[4, 8, 8]",
         "data.batch_size=16", "data.train_subset=32", "data.test_subset=16", "run.epochs=1", "run.progress=false"]


def test_unknown_compile_mode_is_refused():
    with pytest.raises(ValueError, match="compile_mode"):
        apply_overrides(TrainConfig(), ["run.compile_mode=fastest"]).validate()


@pytest.mark.parametrize("backend, mode, expected", [
    ("inductor", "reduce-overhead", "reduce-overhead"),
    ("inductor", "default", None),
    ("eager", "reduce-overhead", None),  # modes are inductor's; other backends take none
])
def test_compile_mode_reaches_torch_compile(backend, mode, expected, tmp_path, monkeypatch):
    calls = []
    real = torch.compile

    def spy(model, **kwargs):
        calls.append(kwargs)
        return real(model, backend="eager")

    monkeypatch.setattr(torch, "compile", spy)
    cfg = apply_overrides(TrainConfig(), [*SMALL, "run.compile=true", f"run.compile_backend={backend}",
                                          f"run.compile_mode={mode}"])
    train(cfg, tmp_path / "run", device="cpu", log=lambda *_: None)
    assert len(calls) == 1
    assert calls[0].get("backend") == backend and calls[0].get("mode") == expected
