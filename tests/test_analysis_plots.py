"""Every plot function writes a real PNG; the solver and dynamics numbers behind two of them."""
import json
import sys

import numpy as np
import pytest
import torch

import stablenets
from stablenets.data import load
from stablenets.analysis import (coefficients, dynamics, flow, jacobian, landscape, solver, stability,
                                 sweeps)

PNG = b"\x89PNG\r\n\x1a\n"



def assert_png(path, min_kb=5):
    data = path.read_bytes()
    assert data[:8] == PNG, f"{path} is not a PNG"
    assert len(data) > min_kb * 1024, f"{path} is only {len(data)} bytes"


def write_run(run_dir, name, seed, train_acc, test_acc, norms=True, epochs=3, overrides=None):
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"model": {"name": name, "overrides": overrides or {}},
                                                     "data": {"dataset": "cifar10"}, "run": {"seed": seed},
                                                     "mode": {"kind": "natural"}}))
    rows = []
    for e in range(1, epochs + 1):
        row = {"epoch": e, "step": 10 * e, "loss": 1.0 / e, "train_acc": train_acc, "test_acc": test_acc}
        if norms:
            row["weight_norms"] = {f"blocks.{i}.weight": 1.0 + 0.1 * e * i for i in range(4)}
            row["grad_norms"] = {f"blocks.{i}.weight": 0.1 / e + i for i in range(4)}
        rows.append(row)
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return run_dir


def test_stability_plots(tmp_path):
    data = stability.stability_analysis(schemes=("resnet-20", "zerosnet:-0.5"), hs=(0.5, 1.0))
    stability.plot_roots(data["roots"], tmp_path / "roots.png")
    stability.plot_zerosnet_region(data["zerosnet"], tmp_path / "zerosnet.png")
    stability.plot_euler_regions(data["regions"], tmp_path / "regions.png")
    stability.plot_ivp(data["ivp"], tmp_path / "ivp.png")
    for name in ("roots", "zerosnet", "regions", "ivp"):
        assert_png(tmp_path / f"{name}.png")


def test_model_plots(tmp_path):
    torch.manual_seed(0)
    mlp = stablenets.create_model("mlp-moons", blocks=3, hidden=8, scheme="damped", lambda_init=(0.0, 0.05)).eval()
    x, y = load("moons", n=60, split="test")
    jacobian.plot_jacobian(jacobian.jacobian_analysis(mlp, x, k=2, krylov_dim=2), tmp_path / "jac.png")
    flow.plot_feature_flow({"a": flow.feature_flow(mlp, x, y), "b": flow.feature_flow(mlp, x, y)}, tmp_path / "fl.png")
    summary = coefficients.coefficient_summary(mlp)
    assert summary["lambda"]["share_above"] == pytest.approx(np.mean(summary["lambda"]["values"] > 0.01))
    coefficients.plot_coefficients({"mlp": summary}, tmp_path / "coef.png")
    data = landscape.compare_landscapes({"a": mlp, "b": mlp}, x[:1], y[:1], radius=20.0, n=5)
    landscape.plot_landscapes(data, tmp_path / "land.png")
    for name in ("jac", "fl", "coef", "land"):
        assert_png(tmp_path / f"{name}.png")


def test_solver_steps_record_and_restore(tmp_path):
    torch.manual_seed(0)
    model = stablenets.create_model("sonet-32", in_channels=1, image_size=8, mean=(0.5,), std=(0.25,), width=4)
    x, y = torch.rand(1, 1, 8, 8), torch.tensor([1])
    data = solver.solver_steps(model, x, y, pgd_steps=2, tolerances=(1e-1, 1e-4))
    assert [e["iteration"] for e in data["pgd"]] == [0, 1, 2] and data["n_blocks"] == 6  # five feature blocks and the classifier
    for entry in data["pgd"] + data["tolerance"]:
        for block in entry["blocks"]:
            assert block["step_times"][-1] == pytest.approx(1.0)          # integrates to T = 1
            assert block["nfe"] >= len(block["step_times"])
    loose, tight = (sum(b["nfe"] for b in e["blocks"]) for e in data["tolerance"])
    assert tight > loose                                                  # smaller tolerance, more evaluations
    from stablenets.schemes.continuous import ode_blocks
    assert all(not b.settings.record_steps and b.settings.rtol == 0.1 for b in ode_blocks(model))
    solver.plot_solver_steps(data, tmp_path / "solver.png")
    assert_png(tmp_path / "solver.png")


def test_dynamics_and_sweeps_from_run_directories(tmp_path):
    from stablenets.analysis.runs import find_runs, run_facts

    for seed, (tr, te) in enumerate([(0.99, 0.90), (0.97, 0.92), (0.98, 0.80)]):
        write_run(tmp_path / f"h1-s{seed}", "resnet-20", seed, tr, te)
        write_run(tmp_path / f"h01-s{seed}", "resnet-h0.1-20", seed, tr - 0.01, te + 0.01)
    write_run(tmp_path / "deep", "resnet-h0.1-32", 0, 0.9, 0.85)
    runs = [run_facts(r) for r in find_runs([tmp_path])]
    assert len(runs) == 7
    data = sweeps.sweep_analysis(runs)
    by_h = {r["h"]: r for r in data["vs_h"]}
    assert by_h[1.0]["median"] == pytest.approx(0.90) and by_h[1.0]["min"] == pytest.approx(0.80)
    assert by_h[0.1]["n"] == 4
    assert [r["depth"] for r in data["vs_depth"][0.1]] == [20, 32]
    gap = {g["model"]: g for g in data["gap"]}
    assert gap["resnet-20"]["gap"] == pytest.approx(np.mean([0.09, 0.05, 0.18]))
    sweeps.plot_sweeps(data, tmp_path / "sweeps.png")
    assert_png(tmp_path / "sweeps.png")

    d = dynamics.training_dynamics(tmp_path / "h1-s0")
    assert d["weight_norms"].shape == (3, 4) and d["step"].tolist() == [10, 20, 30]
    assert d["grad_norms"][0, 2] == pytest.approx(2.1)
    dynamics.plot_dynamics({"a": d, "b": d}, tmp_path / "dyn.png")
    assert_png(tmp_path / "dyn.png")
    write_run(tmp_path / "plain", "resnet-20", 0, 0.9, 0.8, norms=False)
    with pytest.raises(KeyError, match="weight_norms.*log_norms"):
        dynamics.training_dynamics(tmp_path / "plain")


def test_missing_matplotlib_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install stablenets\[plot\]"):
        stability.plot_ivp(stability.stability_analysis(hs=(0.5,))["ivp"], tmp_path / "x.png")
