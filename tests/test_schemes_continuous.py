"""The continuous family: SONet's skew blocks (paper D) and the neural ODE scheme."""
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

import stablenets
from stablenets.schemes.base import ResidualBlock, SchemeTrunk
from stablenets.schemes.continuous import (NeuralODE, ODESettings, SkewConvField, SkewLinearODEClassifier,
                                           SkewODEBlock, ode_blocks)
from stablenets.settings import SettingError

TINY = dict(width=4)  # SONet at width 4: the layout of the paper's networks at test size


def bare_block(cin, cout, stride, gamma, settings):
    return SkewODEBlock(cin, cout, stride, gamma, negative_slope=None, norm=False, settings=settings).double()


def state_norm(x, z):
    return (x.pow(2).sum() + z.pow(2).sum()).sqrt().detach()


def test_identity_activation_without_damping_preserves_the_norm():
    torch.manual_seed(1)
    block = bare_block(3, 4, 2, 0.0, ODESettings(rtol=1e-8, atol=1e-8))
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64)
    z0 = block.initial_z(x)
    x1, z1 = block.integrate((x, z0))
    assert state_norm(x1, z1) == pytest.approx(state_norm(x, z0).item(), rel=1e-6)
    assert (z1 - z0).abs().sum() > 0.1  # the flow really moved


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), gamma=st.floats(0.05, 2.0), stride=st.sampled_from([1, 2]),
       t1=st.floats(0.1, 2.0), z0=st.sampled_from(["input", "zero"]))
def test_damped_skew_block_never_increases_the_state_norm(seed, gamma, stride, t1, z0):
    """D Theorem 3.1 with σ the identity and γ > 0: d/dt ½‖(x, z)‖² = (x, z)ᵀ(A − γI)(x, z) = −γ‖(x, z)‖²,
    A skew-symmetric, so ‖(x, z)‖ never increases; it decays exactly as e^{−γt}."""
    torch.manual_seed(seed)
    block = bare_block(3, 5, stride, gamma, ODESettings(rtol=1e-7, atol=1e-9, t1=t1))
    block.z0 = z0
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64)
    z = block.initial_z(x)
    before = state_norm(x, z)
    after = state_norm(*block.integrate((x, z)))
    assert after <= before
    assert after.item() == pytest.approx(math.exp(-gamma * t1) * before.item(), rel=1e-5)


def test_damped_linear_classifier_never_increases_the_state_norm():
    torch.manual_seed(0)
    head = SkewLinearODEClassifier(6, 3, gamma=0.3, negative_slope=None, bias=False,
                                   settings=ODESettings(rtol=1e-8, atol=1e-8)).double()
    x = torch.randn(4, 6, dtype=torch.float64)
    z = head.initial_z(x)
    after = state_norm(*head.integrate((x, z)))
    assert after.item() == pytest.approx(math.exp(-0.3) * state_norm(x, z).item(), rel=1e-6)


@pytest.mark.parametrize("stride", [1, 2])
def test_transpose_is_the_adjoint_of_the_convolution_with_one_kernel(stride):
    field = SkewConvField(3, 5, stride=stride, gamma=0.0, negative_slope=None, norm=False).double()
    assert [name for name, _ in field.named_parameters()] == ["kernel"]
    assert field.kernel.shape[-1] == (4 if stride == 2 else 3)  # the authors' code: 4×4 kernels at stride 2
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    z = torch.randn(2, 5, *field.output_size(x), dtype=torch.float64)
    lhs = (field.apply_k(x) * z).sum()
    rhs = (x * field.apply_k_transpose(z, x.shape)).sum()
    torch.testing.assert_close(lhs, rhs)
    torch.testing.assert_close(field.apply_k(x), F.conv2d(x, field.kernel, stride=stride, padding=1))
    assert field.apply_k(x).shape[-1] == 8 // stride


def test_sonet_has_five_feature_blocks_at_resnet10s_widths():
    """D Fig. 2: "this example consists 5 feature-extraction blocks, a pooling layer and a classification
    block"; D §5.1: f_ODENet-0 replaces ResNet10's first convolution and one skew block replaces each
    of its four basic blocks, so the feature widths are ResNet10's stage widths."""
    for width in (32, 64):
        model = stablenets.create_model(f"sonet-{width}")
        blocks = list(model.blocks)
        assert len(blocks) == 5
        assert [(b.in_channels, b.out_channels, b.field.stride) for b in blocks] == [
            (3, width, 1), (width, width, 1), (width, 2 * width, 2), (2 * width, 4 * width, 2), (4 * width, 8 * width, 2)]
        resnet10 = stablenets.create_model("resnet10" if width == 64 else f"resnet10-w{width}")
        assert [b.out_channels for b in resnet10.trunk.blocks] == [b.out_channels for b in blocks[1:]]
        assert model.classifier.field.weight.shape == (10, 8 * width)
        assert len(ode_blocks(model)) == 6


def test_initial_conditions_are_the_papers():
    """D §4: feature blocks "set the initial condition z_k as x_k"; the classification block "z_k = z(0) as 1"."""
    model = stablenets.create_model("sonet-32", **TINY)
    x = torch.rand(2, 3, 8, 8)
    torch.testing.assert_close(model.classifier.initial_z(torch.rand(2, 32)), torch.ones(2, 10))
    first, _, down = list(model.blocks)[:3]
    z0 = first.initial_z(x)  # channel copy: 3 → 4 channels, cyclically
    torch.testing.assert_close(z0, torch.cat([x, x[:, :1]], 1))
    h = torch.rand(2, 4, 8, 8)
    torch.testing.assert_close(down.initial_z(h), torch.cat([h[:, :, ::2, ::2]] * 2, 1))  # resampled, copied
    assert stablenets.create_model("sonet-32", class_z0=0.1, **TINY).classifier.initial_z(x[:, 0, 0]).max() == 0.1
    assert stablenets.create_model("sonet-32", z0="zero", **TINY).blocks[0].initial_z(x).abs().max() == 0


def test_default_tolerance_is_paper_ds():
    """D §5.1: "use DOPRI5 solver which is an adaptive solver with 0.1 error tolerance", γ = 0."""
    assert (ODESettings().solver, ODESettings().rtol, ODESettings().atol) == ("dopri5", 0.1, 0.1)
    for name in ("sonet-32", "soblock-32", "odenet-32"):
        blocks = ode_blocks(stablenets.create_model(name))
        assert blocks and all(b.settings == ODESettings() for b in blocks)
    assert all(b.field.gamma == 0.0 for b in ode_blocks(stablenets.create_model("sonet-32")))


@pytest.mark.parametrize("bad", [dict(rtol=0.0, atol=0.0), dict(atol=float("nan")), dict(t1=-1.0),
                                 dict(step_size=0.0), dict(solver="rk45")])
def test_bad_ode_settings_are_one_clear_error_before_any_work(bad):
    with pytest.raises(SettingError, match="ode\\."):
        stablenets.create_model("sonet-32", **bad)
    with pytest.raises(SettingError, match="ode\\."):
        stablenets.create_model("odenet-32", **bad)


def test_soblock_is_resnet10_with_its_first_layer_replaced():
    soblock, resnet10 = stablenets.create_model("soblock-32"), stablenets.create_model("resnet10-w32")
    assert isinstance(soblock.stem, SkewODEBlock) and (soblock.stem.in_channels, soblock.stem.out_channels) == (3, 32)
    assert [type(m) for m in resnet10.stem] == [torch.nn.Conv2d, torch.nn.BatchNorm2d, torch.nn.ReLU]
    rest = {k: v.shape for k, v in resnet10.state_dict().items() if not k.startswith("stem.")}
    assert rest == {k: v.shape for k, v in soblock.state_dict().items() if not k.startswith("stem.")}
    wrn = stablenets.create_model("soblock-wrn-34-10")
    assert isinstance(wrn.stem, SkewODEBlock) and len(wrn.trunk.blocks) == 15


def test_odenet_wrn_is_soblock_wrn_without_the_skew_constraint():
    """D §6.1.1: ODENet is SOBlock "without using the skew-symmetric stabilization in (4)" on the WRN-34-10
    base of §6.1: the same network, with W⁽²⁾ of D eq 3 a kernel of its own instead of −W⁽¹⁾ᵀ."""
    soblock, odenet = (stablenets.create_model(n) for n in ("soblock-wrn-34-10", "odenet-wrn-34-10"))
    shapes = [{k: v.shape for k, v in m.state_dict().items()} for m in (soblock, odenet)]
    assert shapes[1] == {**shapes[0], "stem.field.kernel_back": torch.Size([16, 3, 3, 3])}  # W⁽²⁾: z (16) → x (3)
    n = lambda m: sum(p.numel() for p in m.parameters())
    assert n(odenet) - n(soblock) == 16 * 3 * 3 * 3
    torch.manual_seed(0)
    small = dict(depth=10, widen=1, solver="euler", step_size=0.25)  # the same layout at test size
    skew, free = stablenets.create_model("soblock-wrn-34-10", **small), stablenets.create_model("odenet-wrn-34-10", **small)
    free.load_state_dict({**skew.state_dict(), "stem.field.kernel_back": -skew.stem.field.kernel.detach()})
    x = torch.rand(2, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(free.eval()(x), skew.eval()(x))  # W⁽²⁾ = −W⁽¹⁾ᵀ: exactly SOBlock
        free.stem.field.kernel_back.normal_()
        assert (free(x) - skew(x)).abs().max() > 1e-3


def test_without_the_skew_constraint_the_flow_no_longer_preserves_the_norm():
    """The norm preservation of D eq 4 (σ = identity, γ = 0) is the skew constraint's, not eq 3's."""
    torch.manual_seed(1)
    block = SkewODEBlock(3, 4, 2, 0.0, negative_slope=None, norm=False, settings=ODESettings(rtol=1e-8, atol=1e-8),
                         skew=False).double()
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64)
    z0 = block.initial_z(x)
    assert abs(state_norm(*block.integrate((x, z0))) / state_norm(x, z0) - 1) > 0.01


def test_resnet10_is_d_section_5_1():
    """D §5.1: conv + BatchNorm + ReLU, then four 1-layer basic blocks with two convolutions each."""
    model = stablenets.create_model("resnet10-w32")
    assert len(model.trunk.blocks) == 4
    assert [b.out_channels for b in model.trunk.blocks] == [32, 64, 128, 256]
    assert all(sum(isinstance(m, torch.nn.Conv2d) for m in b.branch) == 2 for b in model.trunk.blocks)


def test_recorded_dopri5_steps_increase_and_end_at_t1():
    model = stablenets.create_model("sonet-32", record_steps=True, t1=2.0, **TINY).eval()
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
    reference = stablenets.create_model("sonet-32", rtol=1e-6, atol=1e-6, **TINY).eval()
    model = stablenets.create_model("sonet-32", solver=solver, step_size=0.01, rtol=1e-4, atol=1e-4, **TINY).eval()
    model.load_state_dict(reference.state_dict())
    x = torch.rand(2, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), atol=0.05, rtol=0.05)


def test_adjoint_gradients_match_direct_backprop_on_a_smooth_field():
    """The adjoint re-solves the ODE backwards; with a smooth field it matches backprop closely.

    (With LeakyReLU's kink the two differ by ~1e-3 relative; that is the adjoint method, not a bug.)
    """
    torch.manual_seed(0)
    blocks = [bare_block(3, 4, 2, 0.0, ODESettings(rtol=1e-8, atol=1e-8, adjoint=adjoint)) for adjoint in (False, True)]
    blocks[1].load_state_dict(blocks[0].state_dict())
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    weights = torch.randn(2, 4, 4, 4, dtype=torch.float64)
    for block in blocks:
        (block(x) * weights).sum().backward()
    torch.testing.assert_close(blocks[1].field.kernel.grad, blocks[0].field.kernel.grad, rtol=1e-6, atol=1e-8)


# ----------------------------------------------------------------------------- the neural ODE scheme

def test_one_euler_step_of_the_ode_scheme_is_the_resnet():
    """The neural ODE scheme is the continuous limit of explicit Euler: one Euler step of size T is x + T·f(x)."""
    torch.manual_seed(0)
    ode = stablenets.create_model("odenet-32", solver="euler", step_size=1.0).eval()
    resnet = stablenets.create_model("odenet-32", scheme="euler").eval()
    resnet.load_state_dict(ode.state_dict())
    x = torch.rand(2, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(ode(x), resnet(x))
    assert len(ode.trunk.blocks) == 10  # the authors' ODENet: ten blocks


def Linear(c):
    """The branch f(x) = c·x on one float64 feature (dx/dt = cx: x(T) = e^{cT}·x(0))."""
    layer = torch.nn.Linear(1, 1, bias=False).double()
    torch.nn.init.constant_(layer.weight, c)
    return layer


@pytest.mark.parametrize("solver", ["euler", "rk4"])
def test_ode_scheme_converges_at_its_solvers_order(solver):
    mu, t1 = -1.3, 1.0
    trunk = lambda h: SchemeTrunk([ResidualBlock(Linear(mu), None, 1, 1)],
                                  NeuralODE(ODESettings(solver=solver, t1=t1, step_size=h)))
    x = torch.ones(1, 1, dtype=torch.float64)
    hs = [0.2, 0.1, 0.05]
    errors = [abs(trunk(h)(x).item() - math.exp(mu * t1)) for h in hs]
    slopes = [math.log2(a / b) for a, b in zip(errors, errors[1:])]
    order = NeuralODE(ODESettings(solver=solver)).order
    assert all(abs(s - order) < 0.3 for s in slopes), slopes


def test_ode_scheme_step_passes_gradcheck():
    torch.manual_seed(0)
    branch = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Tanh()).double()
    trunk = SchemeTrunk([ResidualBlock(branch, None, 3, 3)], NeuralODE(ODESettings(solver="rk4", step_size=0.25)))
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(trunk, (x,))


def test_ode_scheme_runs_over_a_batchnorm_backbone_with_one_fixed_branch():
    """resnet-8 × ode in training: the solver's many branch calls train the running statistics once."""
    torch.manual_seed(0)
    model = stablenets.create_model("resnet-8", scheme="ode", solver="rk4", step_size=0.5).train()
    reference = stablenets.create_model("resnet-8").train()
    reference.load_state_dict(model.state_dict())
    x = torch.rand(4, 3, 8, 8)
    model(x)
    reference(x)
    norm = model.trunk.blocks[0].branch[0]
    torch.testing.assert_close(norm.running_mean, reference.trunk.blocks[0].branch[0].running_mean)
    assert norm.num_batches_tracked == 1


def test_skew_block_passes_gradcheck():
    torch.manual_seed(0)
    block = SkewODEBlock(2, 3, 2, gamma=0.1, settings=ODESettings(solver="rk4", step_size=0.5)).double()
    x = torch.randn(2, 2, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(block, (x,))


def test_ode_scheme_refuses_the_adjoint_clearly():
    with pytest.raises(SettingError, match="ode.adjoint"):
        stablenets.create_model("odenet-32", adjoint=True)
