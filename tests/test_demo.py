"""``stablenets demo`` end to end, with a reduced budget (the README runs the full demo)."""
from __future__ import annotations

import json

import torch

from stablenets.cli import main
from stablenets.demo import MODELS


def test_demo_trains_four_schemes_and_saves_the_table(tmp_path, capsys):
    n = torch.get_num_threads()
    try:
        code = main(["demo", "--epochs", "1", "--train-subset", "2500", "--n", "100", "--device", "cpu",
                     "--out", str(tmp_path)])
    finally:
        torch.set_num_threads(n)
    assert code == 0
    out = capsys.readouterr().out
    assert "| scheme |" in out and "stablenets train" in out  # the table and the paper-scale command
    result = json.loads((tmp_path / "demo.json").read_text())
    assert list(result["accuracy"]) == list(MODELS)
    resnet = result["accuracy"]["ResNet"]
    assert resnet["clean"] > 0.5  # real learning: chance is 0.1
    for row in result["accuracy"].values():
        assert all(0.0 <= v <= 1.0 for v in row.values())
        assert row["PGD-10 ε=0.2"] <= row["PGD-10 ε=0.1"] + 1e-9  # a larger ball never helps
    md = (tmp_path / "demo.md").read_text()
    assert all(name in md for name in MODELS)
    assert all((tmp_path / preset / "model.safetensors").is_file() for preset in MODELS.values())
