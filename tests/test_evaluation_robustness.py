"""evaluate_robustness: numbers that can be checked exactly, cascade = standalone worst case,
noise bookkeeping, pre-flight warnings, the model left alone, and the atomic report."""
from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from stablenets.evaluation import evaluate_robustness, get_suite, list_suites, write_report
from stablenets.evaluation.report import report_paths, to_table
from stablenets.evaluation.checks import preflight
from stablenets.evaluation.suites import apply_overrides, parse_overrides



EPS = 0.05
NO_DIAG = {"diagnostics.enabled": False}


def linear_problem(n: int = 64):
    """Binary linear model on 3×4×4 'images' in [ε, 1−ε]: the L∞ worst case is closed-form."""
    g = torch.Generator().manual_seed(3)
    model = nn.Sequential(nn.Flatten(), nn.Linear(48, 2))
    with torch.no_grad():
        model[1].weight.copy_(torch.randn(2, 48, generator=g) * 0.5)
        model[1].bias.zero_()
    x = EPS + (1 - 2 * EPS) * torch.rand(n, 3, 4, 4, generator=g)
    y = torch.randint(0, 2, (n,), generator=g)
    w = model[1].weight.detach()
    v = w[y] - w[1 - y]
    m = (v * x.flatten(1)).sum(1)
    analytic = float(((m - EPS * v.abs().sum(1)) > 0).float().mean())
    return model, x, y, analytic


def suite(attacks: dict, cascade: bool) -> dict:
    base = get_suite("quick", NO_DIAG)
    base["noise"] = {}
    base["attacks"] = attacks
    base["cascade"] = cascade
    return base


ATTACKS = {
    "fgsm": {"attack": "fgsm", "eps": [EPS, 2 * EPS]},
    "pgd": {"attack": "pgd", "eps": [EPS], "steps": 8, "alpha": None, "alpha_ratio": 0.3, "random_start": False},
    "pgd_margin": {"attack": "pgd", "eps": [EPS], "steps": 8, "alpha": EPS / 4, "loss": "margin",
                   "random_start": False},
}


def test_linear_model_numbers_are_the_analytic_ones():
    model, x, y, analytic = linear_problem()
    r = evaluate_robustness(model, x, y, suite(ATTACKS, False), progress=False)
    key = f"{EPS:.6g}"
    assert r["attacks"]["fgsm"]["accuracy"][key] == pytest.approx(analytic, abs=1e-9)
    assert r["attacks"]["pgd"]["accuracy"][key] == pytest.approx(analytic, abs=1e-9)
    assert r["worst_case"]["linf"][key]["accuracy"] == pytest.approx(analytic, abs=1e-9)
    assert r["attacks"]["fgsm"]["max_perturbation"][key] <= EPS + 1e-6
    # a larger ball can only lower the accuracy
    assert r["attacks"]["fgsm"]["accuracy"][f"{2 * EPS:.6g}"] <= analytic


def test_cascade_gives_the_same_worst_case_as_running_every_attack_on_every_point():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(48, 16), nn.Tanh(), nn.Linear(16, 3))
    x = torch.rand(80, 3, 4, 4)
    y = model(x).argmax(1)
    y[::5] = (y[::5] + 1) % 3   # some points misclassified from the start
    full = evaluate_robustness(model, x, y, suite(ATTACKS, False), progress=False)
    casc = evaluate_robustness(model, x, y, suite(ATTACKS, True), progress=False)
    assert full["worst_case"]["linf"][f"{EPS:.6g}"]["accuracy"] < full["clean"]  # the attacks bite
    for norm, row in full["worst_case"].items():
        for key, cell in row.items():
            assert casc["worst_case"][norm][key]["accuracy"] == cell["accuracy"]
            per_attack = [full["attacks"][a]["accuracy"][key] for a in cell["attacks"]]
            assert cell["accuracy"] <= min(per_attack) <= full["clean"]
    # cumulative per-attack numbers never go up along the cascade
    key = f"{EPS:.6g}"
    chain = [casc["attacks"][a]["accuracy"][key] for a in ("fgsm", "pgd", "pgd_margin")]
    assert chain == sorted(chain, reverse=True)


def test_noise_tables_and_their_source():
    model, x, y, _ = linear_problem(32)
    cfg = suite({}, False)
    cfg["noise"] = {"cifar10c": {"groups": ["gaussian_noise", "impulse_noise"], "severities": [1, 5]},
                    "zerosnet": {"constant": [0.0], "uniform": [[0.0, 0.0]], "gaussian": [0.0]}}
    r = evaluate_robustness(model, x, y, cfg, progress=False)
    assert r["noise"]["cifar10c"]["source"] == "generated"
    assert set(r["noise"]["cifar10c"]["accuracy"]) == {"gaussian_noise", "impulse_noise"}
    assert set(r["noise"]["cifar10c"]["accuracy"]["impulse_noise"]) == {"1", "5"}
    # zero noise leaves every prediction, hence the accuracy, unchanged
    for kind, row in r["noise"]["zerosnet"]["accuracy"].items():
        assert list(row.values()) == [r["clean"]], kind

    calls = []

    def official(group, severity):
        calls.append((group, severity))
        return x, y, "official"

    r = evaluate_robustness(model, x, y, cfg, progress=False, noise_sets=official)
    assert r["noise"]["cifar10c"]["source"] == "official"
    assert r["noise"]["cifar10c"]["accuracy"]["gaussian_noise"]["5"] == r["clean"]
    assert sorted(calls) == [("gaussian_noise", 1), ("gaussian_noise", 5), ("impulse_noise", 1), ("impulse_noise", 5)]


def test_evaluation_leaves_the_model_as_it_found_it():
    model = nn.Sequential(nn.Flatten(), nn.Linear(48, 8), nn.BatchNorm1d(8), nn.Dropout(0.2), nn.Linear(8, 2))
    model.train()
    model[2].eval()
    modes = [m.training for m in model.modules()]
    state = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = torch.rand(16, 3, 4, 4), torch.randint(0, 2, (16,))
    r = evaluate_robustness(model, x, y, suite(ATTACKS, True), progress=False)
    assert [m.training for m in model.modules()] == modes
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
    assert all(p.grad is None for p in model.parameters())
    assert any("training mode" in w for w in r["preflight"]["warnings"])


def test_preflight_catches_probabilities_randomness_and_bad_labels():
    x, y = torch.rand(8, 3, 4, 4), torch.randint(0, 2, (8,))
    softmax = nn.Sequential(nn.Flatten(), nn.Linear(48, 2), nn.Softmax(dim=1))
    assert preflight(softmax, x, y)["values"]["outputs_look_like_probabilities"]

    class Noisy(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Sequential(nn.Flatten(), nn.Linear(48, 2))

        def forward(self, x):
            return self.lin(x + 0.01 * torch.randn_like(x))

    checks = preflight(Noisy(), x, y)
    assert checks["values"]["max_forward_difference"] > 0
    assert any("randomised" in w for w in checks["warnings"])
    plain = preflight(nn.Sequential(nn.Flatten(), nn.Linear(48, 2)).eval(), x, y)
    assert plain["warnings"] == [] and plain["values"]["zero_gradient_fraction"] == 0.0
    with pytest.raises(ValueError, match="labels"):
        preflight(nn.Sequential(nn.Flatten(), nn.Linear(48, 2)), x, y + 5)


def test_report_is_written_atomically_with_every_number(tmp_path):
    model, x, y, _ = linear_problem(32)
    cfg = suite(ATTACKS, True)
    cfg["diagnostics"] = {**get_suite("quick")["diagnostics"], "n": 16, "eps": EPS, "steps": 3,
                          "strong_steps": 6, "strong_restarts": 1, "spsa": {"steps": 2, "samples": 4, "lr": 0.01},
                          "large_eps": [1.0]}
    r = evaluate_robustness(model, x, y, cfg, progress=False)
    json_path, md_path = write_report(r, tmp_path / "run")
    html_path = report_paths(tmp_path / "run", r)["html"]
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == sorted([json_path.name, md_path.name,
                                                                          html_path.name])
    html = html_path.read_text()
    assert html.count("data:image/png;base64,") >= 2 and "<script" not in html and "src='http" not in html
    assert f"{100 * r['clean']:.2f}" in html
    table = to_table(r)
    assert table.splitlines()[2].split()[:2] == ["clean", f"{100 * r['clean']:.2f}"]
    assert all(f"{100 * acc:.2f}" in table for res in r["attacks"].values() for acc in res["accuracy"].values())
    assert "WORST CASE" in table
    back = json.loads(json_path.read_text())
    assert back["clean"] == r["clean"] and back["worst_case"] == r["worst_case"]
    assert back["diagnostics"]["flags"] == r["diagnostics"]["flags"]
    md = md_path.read_text()
    assert "Gradient-masking diagnostics" in md and "| fgsm | linf |" in md
    assert f"{100 * r['clean']:.2f}" in md


def test_overrides_are_checked():
    changed = get_suite("D", parse_overrides(["attacks.pgd20.steps=50",
                                              'noise.cifar10c={groups = ["shot_noise"], severities = [2]}']))
    assert changed["attacks"]["pgd20"]["steps"] == 50 and changed["noise"]["cifar10c"]["severities"] == [2]
    assert get_suite("D")["attacks"]["pgd20"]["steps"] == 20  # the registry itself is untouched
    with pytest.raises(ValueError, match="unknown setting"):
        apply_overrides(get_suite("quick"), {"diagnostics.stepz": 3})
    with pytest.raises(ValueError, match="unknown suite"):
        get_suite("Z")
    with pytest.raises(ValueError, match="key=value"):
        parse_overrides(["steps"])


def test_transfer_runs_only_with_a_source_model_and_joins_the_worst_case():
    model, x, y, analytic = linear_problem(32)
    cfg = suite({"fgsm": {"attack": "fgsm", "eps": [EPS]}}, False)
    cfg["transfer"] = {"attack": "pgd", "eps": [EPS], "steps": 5, "alpha": EPS / 2}
    skipped = evaluate_robustness(model, x, y, cfg, progress=False)
    assert "source model" in skipped["transfer"]["skipped"]
    twin = nn.Sequential(nn.Flatten(), nn.Linear(48, 2))
    twin.load_state_dict(model.state_dict())   # a perfect surrogate: transfer = white-box optimum
    r = evaluate_robustness(model, x, y, cfg, progress=False, source_model=twin)
    key = f"{EPS:.6g}"
    assert r["transfer"]["accuracy"][key] == pytest.approx(analytic, abs=1e-9)
    assert "transfer" in r["worst_case"]["linf"][key]["attacks"]
