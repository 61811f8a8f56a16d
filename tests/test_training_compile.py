"""``run.compile``: a compiled training run ends where the eager one does, and checkpoints stay clean."""
from __future__ import annotations

import os

import pytest
import torch
from safetensors.torch import load_file

from stablenets.training import TrainConfig, apply_overrides, train


def _weights(tmp_path, name, *extra):
    cfg = apply_overrides(TrainConfig(), [
        "data.dataset=embedded-mnist", "model.name=resnet-8", "model.overrides.widths=[4, 8, 8]",
        "data.batch_size=16", "data.train_subset=48", "data.test_subset=16", "run.epochs=1",
        "run.progress=false", *extra])
    train(cfg, tmp_path / name, device="cpu", log=lambda *_: None)
    return load_file(str(tmp_path / name / "model.safetensors"))


@pytest.mark.parametrize("backend", [
    "eager",
    pytest.param("inductor", marks=pytest.mark.skipif(
        os.environ.get("STABLENETS_TEST_COMPILE") != "1",
        reason="inductor compiles for ~25 s on a 2-core CPU, over the test budget; "
               "set STABLENETS_TEST_COMPILE=1 to run it")),
])
def test_compiled_training_agrees_with_eager(backend, tmp_path):
    eager = _weights(tmp_path, "eager")
    compiled = _weights(tmp_path, "compiled", "run.compile=true", f"run.compile_backend={backend}")
    assert eager.keys() == compiled.keys()  # no _orig_mod. prefixes in the checkpoint
    tol = 0 if backend == "eager" else 1e-4
    assert all(torch.allclose(eager[k].float(), compiled[k].float(), atol=tol, rtol=0) for k in eager)


def test_a_failing_compiler_falls_back_to_eager_and_says_so_once(tmp_path):
    """torch.compile failing for a model (here a backend that always raises) must not end the run:
    it trains eagerly, ends with the eager run's weights, and says so once."""
    import torch._dynamo

    def broken(gm, example_inputs):
        raise RuntimeError("this backend cannot compile anything")

    torch._dynamo.reset()
    name = "stablenets_test_broken"
    if name not in torch._dynamo.list_backends(exclude_tags=()):
        torch._dynamo.register_backend(name=name)(broken)
    said = []
    cfg = apply_overrides(TrainConfig(), [
        "data.dataset=embedded-mnist", "model.name=resnet-8", "model.overrides.widths=[4, 8, 8]",
        "data.batch_size=16", "data.train_subset=48", "data.test_subset=16", "run.epochs=1",
        "run.progress=false", "run.compile=true", f"run.compile_backend={name}"])
    train(cfg, tmp_path / "fallback", device="cpu", log=said.append)
    notes = [s for s in said if "torch.compile" in s]
    assert len(notes) == 1 and "eagerly" in notes[0]
    eager = _weights(tmp_path, "eager")
    got = load_file(str(tmp_path / "fallback" / "model.safetensors"))
    assert all(torch.equal(eager[k], got[k]) for k in eager)
