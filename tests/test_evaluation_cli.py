"""``stablenets evaluate``: the sub-command parses, loads through load_model, and writes the report
into the run directory. load_model is replaced by a stand-in (the training part may not exist)."""
from __future__ import annotations

import argparse
import json
import sys
import types

import pytest
import torch
from torch import nn

from stablenets.evaluation.cli import register


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors: intra-op threads only add overhead (and stall badly on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="stablenets")
    register(p.add_subparsers(dest="command"))
    return p


def test_evaluate_command_writes_the_report_into_the_run_directory(tmp_path, monkeypatch):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))
    loaded = []

    def load_model(path, device="cpu"):
        loaded.append((str(path), str(device)))
        return model, {"dataset": "embedded-mnist", "preset": "linear-test"}

    stub = types.ModuleType("stablenets.training.checkpoint")
    stub.load_model = load_model
    monkeypatch.setitem(sys.modules, "stablenets.training.checkpoint", stub)
    run = tmp_path / "run"
    run.mkdir()
    ckpt = run / "model.safetensors"
    ckpt.write_bytes(b"")
    args = parser().parse_args(["evaluate", str(ckpt), "--suite", "quick", "--n", "24", "--device", "cpu",
                                "--no-progress", "--set", "diagnostics.enabled=false",
                                "--set", "attacks.pgd.steps=2", "--set", "noise.cifar10c.severities=[1]"])
    assert args.func(args) == 0
    assert loaded == [(str(ckpt), "cpu")]
    report = json.loads((run / "robustness-quick.json").read_text())
    assert report["n"] == 24 and report["suite"]["attacks"]["pgd"]["steps"] == 2
    assert report["checkpoint"]["dataset"] == "embedded-mnist"
    assert report["noise"]["cifar10c"]["source"] == "generated"
    assert (run / "robustness-quick.md").is_file()


def test_evaluate_command_rejects_unknown_suites_and_missing_checkpoints(tmp_path):
    with pytest.raises(SystemExit):
        parser().parse_args(["evaluate", "x.pt", "--suite", "nope"])
    args = parser().parse_args(["evaluate", str(tmp_path / "missing.pt")])
    with pytest.raises(FileNotFoundError, match="not found"):
        args.func(args)
