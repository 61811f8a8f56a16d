"""Models that mask gradients by construction, whose true robust accuracy is known in closed form.

Both are a linear binary classifier with margin m(x) = v·x in front of which, or inside which,
the gradient is broken:

- quantised input: m(q(x)) with q(x) = round(8x)/8, whose gradient is zero everywhere. q is
  monotone and m separable, so the worst case over the ball ∩ box takes, per pixel, q at the end
  of [max(0, x − ε), min(1, x + ε)] that lowers v_i q: the truth in closed form;
- a detached path: m(x) = v₁·x + v₂·x with the second term computed on x.detach(): autograd
  sees v₁ only, the function is linear in v = v₁ + v₂, whose L∞ worst case is m(x) − ε‖v‖₁.

The masking flags fire with a p-value; the adaptive attacks that answer them (BPDA on the
quantiser, found automatically; a gradient-free attack for the detached path) bring the
reported robust accuracy (the worst case) down to the truth; the same networks without the
masking raise no flag.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from stablenets.evaluation import evaluate_robustness

D, N, EPS = 48, 120, 0.1


class Quantize(nn.Module):
    def forward(self, x):
        return torch.round(x * 8) / 8


class Detached(nn.Module):
    """v₁·x + v₂·x with the v₂ path detached from the graph."""

    def __init__(self, lin1: nn.Linear, lin2: nn.Linear, detach: bool = True):
        super().__init__()
        self.lin1, self.lin2, self.detach = lin1, lin2, detach

    def forward(self, x):
        x = x.flatten(1)
        return self.lin1(x) + self.lin2(x.detach() if self.detach else x)


def linear(seed: int, scale: float = 1.0) -> nn.Linear:
    g = torch.Generator().manual_seed(seed)
    lin = nn.Linear(D, 2, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(2, D, generator=g) * scale)
    return lin


def data(model: nn.Module, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(4 * N, 3, 4, 4, generator=g)
    with torch.no_grad():
        y = model(x).argmax(1)
    return x[:N], y[:N]


def quantised_truth(lin: nn.Linear, x, y, eps):
    w = lin.weight.detach()
    v = (w[y] - w[1 - y])
    flat = x.flatten(1)
    q = Quantize()
    lo, hi = q((flat - eps).clamp(0, 1)), q((flat + eps).clamp(0, 1))
    worst = torch.minimum(v * lo, v * hi).sum(1)
    return float((worst > 0).float().mean())


def linear_truth(v_weight: torch.Tensor, x, y, eps):
    v = v_weight[y] - v_weight[1 - y]
    flat = x.flatten(1)
    # far from the box faces the L∞ worst case is the vertex x − ε sign(v); here it is clipped to [0, 1]
    corner = (flat - eps * v.sign()).clamp(0, 1)
    corner = torch.where(v > 0, torch.maximum(corner, flat - eps), torch.minimum(corner, flat + eps))
    return float(((v * corner).sum(1) > 0).float().mean())


OVERRIDES = {"eps.linf": [EPS], "diagnostics.n": N, "diagnostics.steps": 10, "diagnostics.strong_steps": 20,
             "diagnostics.strong_restarts": 1, "diagnostics.spsa": {"steps": 20, "samples": 32, "lr": 0.01},
             "diagnostics.large_eps": [1.0], "adaptive.steps": 20, "adaptive.restarts": 1,
             "noise.cifar10c.severities": [1], "noise.cifar10c.groups": ["gaussian_noise"]}


def test_quantised_input_is_flagged_and_bpda_reaches_the_closed_form_truth():
    lin = linear(0)
    masked = nn.Sequential(Quantize(), nn.Flatten(), lin)
    x, y = data(masked)
    truth = quantised_truth(lin, x, y, EPS)
    assert 0.1 < truth < 0.9
    r = evaluate_robustness(masked, x, y, "quick", OVERRIDES, progress=False)
    flags = {f["flag"]: f for f in r["diagnostics"]["flags"]}
    assert flags["c"]["raised"] and flags["c"]["p_value"] < 0.05
    assert r["attacks"]["pgd"]["accuracy"][f"{EPS:g}"] > truth + 0.2   # plain PGD is fooled by the mask
    kinds = {run["kind"] for run in r["adaptive"]["runs"]}
    assert "bpda" in kinds
    assert "BPDA on 0" in next(run["why"] for run in r["adaptive"]["runs"] if run["kind"] == "bpda")
    assert r["attacks"]["adaptive_bpda"]["accuracy"][f"{EPS:g}"] == pytest.approx(truth, abs=1e-9)
    assert r["worst_case"]["linf"][f"{EPS:g}"]["accuracy"] == pytest.approx(truth, abs=1e-9)


def test_detached_path_is_flagged_and_the_gradient_free_answer_reaches_the_truth():
    lin1, lin2 = linear(0, 0.05), linear(1)
    masked = Detached(lin1, lin2)
    x, y = data(masked)
    truth = linear_truth(lin1.weight.detach() + lin2.weight.detach(), x, y, EPS)
    r = evaluate_robustness(masked, x, y, "quick", OVERRIDES, progress=False)
    flags = {f["flag"]: f for f in r["diagnostics"]["flags"]}
    assert flags["b"]["raised"] and flags["b"]["p_value"] < 1e-3, flags["b"]
    assert r["preflight"]["values"]["gradient_mismatch"] > 0.3
    worst = r["worst_case"]["linf"][f"{EPS:g}"]["accuracy"]
    assert r["attacks"]["pgd"]["accuracy"][f"{EPS:g}"] > truth + 0.2
    assert truth - 1e-9 <= worst <= truth + 0.05, (worst, truth)
    assert "adaptive_spsa" in r["worst_case"]["linf"][f"{EPS:g}"]["attacks"]


@pytest.mark.parametrize("make", [lambda: nn.Sequential(nn.Flatten(), linear(0)),
                                  lambda: Detached(linear(0, 0.05), linear(1), detach=False)])
def test_the_same_networks_without_masking_raise_nothing(make):
    model = make().eval()
    x, y = data(model)
    r = evaluate_robustness(model, x, y, "quick", OVERRIDES, progress=False)
    assert r["flags_raised"] == [], [f["message"] for f in r["diagnostics"]["flags"] if f["raised"]]
    assert r["preflight"]["warnings"] == [] and "adaptive" in r and r["adaptive"]["runs"] == []


def ode_model(solver: str = "dopri5"):
    from stablenets.schemes.continuous import SkewODEBlock

    torch.manual_seed(0)
    settings = {"solver": solver, "rtol": 0.1, "atol": 0.1, "step_size": 0.5}
    return nn.Sequential(SkewODEBlock(3, 4, settings=settings), nn.Flatten(), nn.Linear(4 * 4 * 4, 3)).eval()


def test_batch_composition_of_an_adaptive_solver_is_measured_and_a_fixed_grid_one_is_not():
    from stablenets.evaluation.checks import BATCH_TOLERANCE, batch_composition

    x = torch.rand(8, 3, 4, 4)
    assert batch_composition(ode_model("dopri5"), x) > BATCH_TOLERANCE   # one step size for the whole batch
    assert batch_composition(ode_model("euler"), x) <= BATCH_TOLERANCE


def test_solver_settings_at_evaluation_time_leave_the_model_untouched_and_cap_the_nfe():
    from stablenets.evaluation.robustness import SolverBudgetError

    model = ode_model("dopri5")
    x = torch.rand(6, 3, 4, 4)
    y = model(x).argmax(1)
    quiet = {"diagnostics.enabled": False, "adaptive.enabled": False, "attacks.pgd.steps": 1,
             "noise.cifar10c.severities": [1], "noise.cifar10c.groups": ["gaussian_noise"]}
    r = evaluate_robustness(model, x, y, "quick", {**quiet, "solver.solver": "euler", "solver.step_size": 0.5},
                            progress=False)
    assert r["solver"]["solver"] == "euler" and r["solver"]["step_size"] == 0.5
    assert r["preflight"]["values"]["batch_composition"] <= 1e-5   # euler couples no samples
    assert model[0].settings.solver == "dopri5"                    # the checkpoint's settings are back
    with pytest.raises(SolverBudgetError, match="max_nfe = 2"):
        evaluate_robustness(model, x, y, "quick", {**quiet, "solver.max_nfe": 2}, progress=False)
    assert not model[0].field._forward_pre_hooks


def test_an_adaptive_solver_model_is_attacked_through_a_fixed_grid_surrogate():
    model = ode_model("dopri5")
    x = torch.rand(16, 3, 4, 4)
    y = model(x).argmax(1)
    r = evaluate_robustness(model, x, y, "quick", {"eps.linf": [0.05], "diagnostics.n": 8, "diagnostics.steps": 2,
                                                   "diagnostics.strong_steps": 3, "diagnostics.strong_restarts": 1,
                                                   "diagnostics.spsa": {"steps": 2, "samples": 4, "lr": 0.01},
                                                   "diagnostics.large_eps": [], "adaptive.steps": 3,
                                                   "adaptive.restarts": 1, "noise.cifar10c.severities": [1],
                                                   "noise.cifar10c.groups": ["gaussian_noise"]},
                            progress=False)
    assert "batch composition" in r["adaptive"]["evidence"]
    run = next(run for run in r["adaptive"]["runs"] if run["kind"] == "solver_swap")
    assert "dopri5 → rk4" in run["why"]
    worst = r["worst_case"]["linf"]["0.05"]
    assert "adaptive_solver_swap" in worst["attacks"]
    assert worst["accuracy"] <= r["attacks"]["pgd"]["accuracy"]["0.05"]


def test_implicit_surrogates_change_only_the_inner_loop_and_eot_answers_randomness():
    import stablenets
    from stablenets.evaluation.adaptive import EOT, _implicit_steps, surrogates

    torch.manual_seed(0)
    ie = stablenets.create_model("ie-resnet-1-8", num_classes=10, image_size=4).eval()
    x = torch.rand(3, 3, 4, 4)
    made = {s["kind"]: s["model"] for s in surrogates(ie, x, {"implicit_iterations": [5, 0]})}
    assert {k: [s.iterations for s in _implicit_steps(m)] for k, m in made.items()} == \
        {"implicit_K5": [5, 5, 5], "implicit_K0": [0, 0, 0]}
    assert [s.iterations for s in _implicit_steps(ie)] == [1, 1, 1]          # the deployed model is untouched
    for k, m in made.items():                                                 # same weights
        assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), ie.state_dict().values())), k

    class Noisy(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Sequential(nn.Flatten(), linear(0))

        def forward(self, x):
            return self.lin(x + 0.3 * torch.randn_like(x))

    noisy = Noisy().eval()
    xs, ys = data(nn.Sequential(nn.Flatten(), noisy.lin[1]))
    r = evaluate_robustness(noisy, xs[:40], ys[:40], "quick", {**OVERRIDES, "diagnostics.n": 40}, progress=False)
    assert "randomised" in r["adaptive"]["evidence"]
    assert "adaptive_eot" in r["worst_case"]["linf"][f"{EPS:g}"]["attacks"]
    torch.manual_seed(1)
    averaged = EOT(noisy, 64)(xs[:4])
    assert (averaged - noisy.lin(xs[:4])).abs().max() < 0.5 * (noisy(xs[:4]) - noisy.lin(xs[:4])).abs().max()
