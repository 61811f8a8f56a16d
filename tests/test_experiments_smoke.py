"""Every former experiment name still trains through `stablenets train`, now from the papers' registry,
end to end at smoke scale (CI runs each one this way)."""
from __future__ import annotations

import json

import pytest

from stablenets.models import list_models
from stablenets.experiments import load_config
from stablenets.pipeline import prepare, train_and_evaluate
from stablenets.reproduce.registry import _aliases
from stablenets.training.scale import SMOKE_FALLBACK, smoke_model


@pytest.fixture(autouse=True)
def _no_data_root(monkeypatch):
    monkeypatch.delenv("STABLENETS_DATA", raising=False)  # smoke scale must not need the real data
    yield


@pytest.mark.parametrize("name", sorted(_aliases()))
def test_experiment_runs_at_smoke_scale(name, tmp_path):
    cfg = load_config(name)
    assert cfg.experiment == name and cfg.description.startswith(_aliases()[name].split("/")[0])
    if cfg.model.name not in list_models():
        pytest.skip(f"preset {cfg.model.name} not in the library yet (issue 'Models as published')")
    small = prepare(cfg, "smoke")
    assert small.mode.kind == cfg.mode.kind and small.eval.suite == cfg.eval.suite
    assert small.run.epochs == 1 and small.data.train_subset <= 16
    lines = []
    summary = train_and_evaluate(small, tmp_path, device="cpu", fallback=SMOKE_FALLBACK, log=lines.append)
    if summary["dataset"] != cfg.data.dataset or any("synthetic" in line for line in lines):
        assert any(line.startswith("[smoke]") and cfg.data.dataset in line for line in lines)  # says so
    rows = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == 1 and json.loads(rows[0])["step"] == 2


def test_smoke_models_are_the_small_members_of_each_family():
    assert smoke_model("in-resnet-110") == "in-resnet-8"
    assert smoke_model("zerosnet-opt-110") == "zerosnet-opt-8"
    assert smoke_model("ie-resnet-1-18") == "ie-resnet-1-8"
    assert smoke_model("textresnet-h0.1-29") == "textresnet-h0.1-9"
    assert smoke_model("mlp-moons") == "mlp-moons"
