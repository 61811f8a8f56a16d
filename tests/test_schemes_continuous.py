"""Skew-symmetric ODE blocks: norm preservation, one shared kernel, recorded steps."""
import pytest
import torch
import torch.nn.functional as F

import stablenets
from stablenets.schemes.continuous import ODESettings, SkewConvField, SkewODEBlock, ode_blocks


def test_identity_activation_without_damping_preserves_the_norm():
    torch.manual_seed(1)
    settings = ODESettings(solver="dopri5", rtol=1e-8, atol=1e-8, t1=1.0)
    block = SkewODEBlock(3, 4, stride=2, gamma=0.0, negative_slope=None, norm=False, settings=settings).double()
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64)
    z0 = torch.zeros(2, 4, 3, 3, dtype=torch.float64)
    x1, z1 = block.integrate((x, z0))
    before = x.pow(2).sum() + z0.pow(2).sum()
    after = x1.pow(2).sum() + z1.pow(2).sum()
    assert abs(after - before) / before < 1e-6
    assert z1.abs().sum() > 0.1  # the flow really moved energy into z


def test_damping_dissipates_the_norm():
    settings = ODESettings(solver="rk4", step_size=0.05)
    block = SkewODEBlock(3, 3, gamma=0.5, negative_slope=None, norm=False, settings=settings).double()
    x = torch.randn(2, 3, 5, 5, dtype=torch.float64)
    x1, z1 = block.integrate((x, torch.zeros_like(x)))
    assert x1.pow(2).sum() + z1.pow(2).sum() < x.pow(2).sum()


def test_transpose_is_the_adjoint_of_the_convolution_with_one_kernel():
    field = SkewConvField(3, 5, stride=2, gamma=0.0, negative_slope=None, norm=False).double()
    assert [name for name, _ in field.named_parameters()] == ["kernel"]
    x = torch.randn(2, 3, 7, 7, dtype=torch.float64)
    z = torch.randn(2, 5, 4, 4, dtype=torch.float64)
    lhs = (field.apply_k(x) * z).sum()
    rhs = (x * field.apply_k_transpose(z, x.shape)).sum()
    torch.testing.assert_close(lhs, rhs)
    torch.testing.assert_close(field.apply_k(x), F.conv2d(x, field.kernel, stride=2, padding=1))


def test_recorded_dopri5_steps_increase_and_end_at_t1():
    model = stablenets.create_model("sonet-32", record_steps=True, t1=2.0).eval()
    with torch.no_grad():
        model(torch.rand(2, 3, 8, 8))
    for block in ode_blocks(model):
        solve = block.last_solve()
        times = solve["step_times"]
        assert len(times) >= 1 and all(b > a for a, b in zip(times, times[1:]))
        assert times[-1] == pytest.approx(2.0)
        assert solve["nfe"] >= 6 * len(times)  # dopri5: six new evaluations per accepted step


@pytest.mark.parametrize("solver", ["euler", "rk4", "adaptive_heun", "bosh3", "dopri5"])
def test_every_solver_runs_and_agrees(solver):
    torch.manual_seed(0)
    reference = stablenets.create_model("sonet-32", solver="dopri5", rtol=1e-6, atol=1e-6).eval()
    model = stablenets.create_model("sonet-32", solver=solver, step_size=0.01, rtol=1e-4, atol=1e-4).eval()
    model.load_state_dict(reference.state_dict())
    x = torch.rand(2, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), atol=0.05, rtol=0.05)


def test_adjoint_gradients_match_direct_backprop_on_a_smooth_field():
    """The adjoint re-solves the ODE backwards; with a smooth field it matches backprop closely.

    (With LeakyReLU's kink the two differ by ~1e-3 relative; that is the adjoint method, not a bug.)
    """
    torch.manual_seed(0)
    blocks = [SkewODEBlock(3, 4, 2, negative_slope=None, norm=False,
                           settings=ODESettings(solver="dopri5", rtol=1e-8, atol=1e-8, adjoint=adjoint)).double()
              for adjoint in (False, True)]
    blocks[1].load_state_dict(blocks[0].state_dict())
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    weights = torch.randn(2, 4, 4, 4, dtype=torch.float64)
    for block in blocks:
        (block(x) * weights).sum().backward()
    torch.testing.assert_close(blocks[1].field.kernel.grad, blocks[0].field.kernel.grad, rtol=1e-6, atol=1e-8)


def test_unknown_solver_is_refused():
    with pytest.raises(ValueError, match="dopri5"):
        stablenets.create_model("sonet-32", solver="rk45")
