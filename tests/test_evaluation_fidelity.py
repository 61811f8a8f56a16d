"""Gradient fidelity: the cosine between the gradient at the deployed solver settings and a tight float64 solve's."""
from __future__ import annotations

import torch
from torch import nn

from stablenets.evaluation.checks import preflight
from stablenets.evaluation.fidelity import gradient_fidelity, has_solver_blocks


def skew_model(settings: dict, seed: int = 0, scale: float = 10.0) -> nn.Module:
    """A random skew ODE block (no norm, kernels scaled up: fast rotations) and a linear head."""
    from stablenets.schemes.continuous import SkewODEBlock

    torch.manual_seed(seed)
    block = SkewODEBlock(3, 4, settings=settings, norm=False)
    with torch.no_grad():
        for p in block.parameters():
            p.mul_(scale)
    return nn.Sequential(block, nn.Flatten(), nn.Linear(4 * 4 * 4, 3)).eval()


X = torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(1))
Y = torch.tensor([0, 1])


def test_many_small_fixed_steps_give_the_tight_gradient():
    r = gradient_fidelity(skew_model({"solver": "rk4", "step_size": 0.05}), X, Y)
    assert r["network"] > 0.99 and r["blocks"]["0"] > 0.99


def test_a_loose_adaptive_solve_gives_a_gradient_far_from_the_tight_one():
    model = skew_model({"solver": "dopri5", "rtol": 0.1, "atol": 0.1})
    r = gradient_fidelity(model, X, Y)
    assert r["network"] < 0.5 and r["blocks"]["0"] < 0.5
    assert model[0].settings.rtol == 0.1 and model[0].settings.solver == "dopri5"  # the model is left as deployed
    check = preflight(model, X, Y, fidelity_samples=2)
    assert check["values"]["gradient_fidelity"] == r["network"]
    assert set(check["values"]["gradient_fidelity_blocks"]) == {"0"}
    assert any("solver artefact" in w for w in check["warnings"])
    assert "gradient_fidelity" not in preflight(model, X, Y)["values"]  # off unless asked for


def test_only_models_with_solver_blocks_are_checked():
    assert has_solver_blocks(skew_model({"solver": "euler"}))
    assert not has_solver_blocks(nn.Sequential(nn.Flatten(), nn.Linear(48, 3)))
    plain = nn.Sequential(nn.Flatten(), nn.Linear(48, 3)).eval()
    assert "gradient_fidelity" not in preflight(plain, X, Y, fidelity_samples=2)["values"]
