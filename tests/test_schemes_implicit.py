"""IE-skip and weight sharing: gradients through the inner loop, one fixed f_n, numerics."""
import math

import pytest
import torch

import stablenets
from stablenets.schemes.base import ResidualBlock, SchemeTrunk
from stablenets.schemes.implicit import ImplicitEuler
from stablenets.schemes.shared import SharedWeights
from stablenets.settings import SettingError


def models(create_graph):
    explicit = stablenets.create_model("resnet-8").eval()
    implicit = stablenets.create_model("resnet-8", scheme="implicit", iterations=2, gamma=0.1,
                                       create_graph=create_graph).eval()
    implicit.load_state_dict(explicit.state_dict())
    return explicit, implicit


X = torch.rand(3, 3, 12, 12)


def block_input_gradients(create_graph):
    """∂/∂x_n of one same-shape block's output: IE-skip's step against the explicit step x_n + f(x_n)."""
    _, implicit = models(create_graph)
    block, step = implicit.trunk.blocks[0], implicit.trunk.steps[0]
    x = implicit.stem(implicit.input_layer(X)).detach().requires_grad_(True)
    weights = torch.randn(3, 16, 12, 12)
    (g_implicit,) = torch.autograd.grad((step(block, x, [x]) * weights).sum(), x)
    (g_explicit,) = torch.autograd.grad(((block.project(x) + block.branch(x)) * weights).sum(), x)
    return g_implicit, g_explicit


def test_input_gradient_equals_explicit_euler_without_create_graph():
    g_implicit, g_explicit = block_input_gradients(create_graph=False)
    torch.testing.assert_close(g_implicit, g_explicit)


def test_input_gradient_differs_with_create_graph():
    g_implicit, g_explicit = block_input_gradients(create_graph=True)
    assert (g_implicit - g_explicit).abs().max() > 1e-3 * g_explicit.abs().max()


def test_forward_value_is_the_same_either_way_and_under_no_grad():
    _, on = models(create_graph=True)
    _, off = models(create_graph=False)
    off.load_state_dict(on.state_dict())
    with torch.no_grad():
        y_no_grad = on(X)
    torch.testing.assert_close(on(X), y_no_grad)
    torch.testing.assert_close(off(X), y_no_grad)


def test_inner_steps_reduce_the_implicit_residual():
    model = stablenets.create_model("resnet-8", scheme="implicit", iterations=0).eval()
    block = model.trunk.blocks[0]  # same shape: a 16-channel block after the stem
    x = model.stem(model.input_layer(X)).detach()
    residuals = []
    for k in range(4):
        model_k = stablenets.create_model("resnet-8", scheme="implicit", iterations=k, gamma=0.02).eval()
        model_k.load_state_dict(model.state_dict())
        with torch.no_grad():
            state = model_k.trunk.steps[0](model_k.trunk.blocks[0], x, [x])
            residuals.append((state - x - block.branch(state)).pow(2).sum())
    assert residuals[0] > residuals[1] > residuals[2] > residuals[3]


def test_inner_evaluations_leave_batch_norm_statistics_alone():
    """Only f_n(x_n) trains the running statistics; the iterates would pollute them (eval accuracy collapsed)."""
    explicit, implicit = models(create_graph=True)
    explicit.train()
    implicit.train()
    explicit(X)
    implicit(X)
    first_norm = [m for m in implicit.trunk.blocks[0].branch if isinstance(m, torch.nn.BatchNorm2d)][0]
    reference = [m for m in explicit.trunk.blocks[0].branch if isinstance(m, torch.nn.BatchNorm2d)][0]
    torch.testing.assert_close(first_norm.running_mean, reference.running_mean, rtol=0, atol=0)
    torch.testing.assert_close(first_norm.running_var, reference.running_var, rtol=0, atol=0)
    assert first_norm.training  # modes restored after the inner loop


def set_running_statistics_to_batch_statistics(model, x):
    """Make every BatchNorm's running statistics equal the batch statistics it sees on x's first pass."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    seen = {}

    def first_input(norm, inputs):
        seen.setdefault(norm, inputs[0].detach())

    hooks = [m.register_forward_pre_hook(first_input) for m in norms]
    with torch.no_grad():
        model.train()(x)
    for h in hooks:
        h.remove()
    for m in norms:
        m.running_mean.copy_(seen[m].mean((0, 2, 3)))
        m.running_var.copy_(seen[m].var((0, 2, 3), unbiased=False))
        m.momentum = 0.0


def test_fixed_branch_rule_gives_the_same_output_in_train_and_eval_mode():
    """With running statistics equal to the batch statistics, f_n is the same function in both modes,
    so IE-skip's output (start and inner steps alike) is the same; per-call batch statistics are not."""
    torch.manual_seed(0)
    for statistics, same in (("first", True), ("each", False)):
        model = stablenets.create_model("resnet-8", scheme="implicit", iterations=2, gamma=0.1,
                                        statistics=statistics)
        set_running_statistics_to_batch_statistics(model, X)
        with torch.no_grad():
            y_train, y_eval = model.train()(X), model.eval()(X)
        assert torch.allclose(y_train, y_eval, rtol=1e-4, atol=1e-5) == same, statistics


def test_fixed_branch_keeps_gradients_through_the_batch_statistics():
    """In training, f_n(x) = BN_batch(x_n)(…): the inner iterates' normalisation depends on x_n too."""
    torch.manual_seed(0)
    model = stablenets.create_model("resnet-8", scheme="implicit", iterations=1, gamma=0.1).train()
    block, step = model.trunk.blocks[0], model.trunk.steps[0]
    x = torch.randn(4, 16, 6, 6, dtype=torch.float64, requires_grad=True)
    block.double()
    assert torch.autograd.gradcheck(lambda v: step(block, v, [v]), (x,), atol=1e-5)


def test_unknown_statistics_rule_is_a_clear_error():
    with pytest.raises(SettingError, match="implicit.statistics"):
        stablenets.create_model("resnet-8", scheme="implicit", statistics="batch")


def Linear(c):
    """The branch f(x) = c·x on one float64 feature (dx/dt = cx: x(T) = e^{cT}·x(0))."""
    layer = torch.nn.Linear(1, 1, bias=False).double()
    torch.nn.init.constant_(layer.weight, c)
    return layer


def test_ie_skip_converges_at_order_one():
    """N blocks with f_n(x) = hμx approximate dx/dt = μx over [0, 1]; IE-skip's global error is O(h)."""
    mu = -1.5
    errors = []
    for n in (16, 32, 64):
        h = 1.0 / n
        trunk = SchemeTrunk([ResidualBlock(Linear(h * mu), None, 1, 1) for _ in range(n)],
                            ImplicitEuler(iterations=3, gamma=0.2))
        errors.append(abs(trunk(torch.ones(1, 1, dtype=torch.float64)).item() - math.exp(mu)))
    slopes = [math.log2(a / b) for a, b in zip(errors, errors[1:])]
    assert all(abs(s - ImplicitEuler.order) < 0.2 for s in slopes), slopes


def test_ie_skip_step_passes_gradcheck():
    torch.manual_seed(0)
    branch = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Tanh()).double()
    trunk = SchemeTrunk([ResidualBlock(branch, None, 3, 3)], ImplicitEuler(iterations=2, gamma=0.1))
    assert torch.autograd.gradcheck(trunk, (torch.randn(2, 3, dtype=torch.float64, requires_grad=True),))


def test_weight_sharing_converges_at_order_one_over_the_repeated_time():
    """r applications of x + hμx per block: explicit Euler over [0, r]; global error O(h)."""
    mu, r = -0.8, 2
    errors = []
    for n in (8, 16, 32):
        trunk = SchemeTrunk([ResidualBlock(Linear(mu / n), None, 1, 1) for _ in range(n)], SharedWeights(repeats=r))
        errors.append(abs(trunk(torch.ones(1, 1, dtype=torch.float64)).item() - math.exp(mu * r)))
    slopes = [math.log2(a / b) for a, b in zip(errors, errors[1:])]
    assert all(abs(s - SharedWeights.order) < 0.15 for s in slopes), slopes


def test_weight_sharing_step_passes_gradcheck():
    torch.manual_seed(0)
    branch = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Tanh()).double()
    trunk = SchemeTrunk([ResidualBlock(branch, None, 3, 3)], SharedWeights(repeats=3))
    assert torch.autograd.gradcheck(trunk, (torch.randn(2, 3, dtype=torch.float64, requires_grad=True),))


# ----------------------------------------------------------------------------- flip_last_stage (paper C's public code)

def _matrix_branch(weight):
    layer = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=False).double()
    with torch.no_grad():
        layer.weight.copy_(weight)
    return layer


def _one_inner_step(x, W, gamma, sign):
    """x⁰ = x + xWᵀ, then one gradient step of size γ on ‖x⁰ − x − sign·x⁰Wᵀ‖² (rows are samples)."""
    start = x + x @ W.T
    residual = start - x - sign * start @ W.T
    return start - gamma * 2 * residual @ (torch.eye(W.shape[0], dtype=W.dtype) - sign * W)


def test_flip_last_stage_computes_the_formula_on_hand_set_weights():
    """Stage 1 (two same-shape blocks), a projection to 3 features, stage 2 (one block): with the flip, only
    the last stage's inner step minimises ‖x − x_n + f_n(x)‖²; the projection block stays explicit."""
    torch.manual_seed(0)
    W1, W2 = 0.3 * torch.randn(2, 2, dtype=torch.float64), 0.3 * torch.randn(2, 2, dtype=torch.float64)
    P, W3 = torch.randn(3, 2, dtype=torch.float64), 0.3 * torch.randn(3, 3, dtype=torch.float64)
    Wd = 0.3 * torch.randn(3, 2, dtype=torch.float64)

    def trunk(flip):
        blocks = [ResidualBlock(_matrix_branch(W1), None, 2, 2), ResidualBlock(_matrix_branch(W2), None, 2, 2),
                  ResidualBlock(_matrix_branch(Wd), _matrix_branch(P), 2, 3),
                  ResidualBlock(_matrix_branch(W3), None, 3, 3)]
        return SchemeTrunk(blocks, ImplicitEuler(iterations=1, gamma=0.05, flip_last_stage=flip))

    x = torch.randn(4, 2, dtype=torch.float64)
    for flip in (False, True):
        h = _one_inner_step(x, W1, 0.05, 1.0)
        h = _one_inner_step(h, W2, 0.05, 1.0)
        h = h @ P.T + h @ Wd.T
        expected = _one_inner_step(h, W3, 0.05, -1.0 if flip else 1.0)
        torch.testing.assert_close(trunk(flip)(x), expected, rtol=1e-12, atol=1e-12)
    assert [s.sign for s in trunk(True).steps] == [1.0, 1.0, 1.0, -1.0]


def test_flip_last_stage_off_is_exactly_the_old_model_and_on_flips_only_the_last_stage():
    torch.manual_seed(0)
    old = stablenets.create_model("ie-resnet-1-18-w8", num_classes=10).eval()
    off = stablenets.create_model("ie-resnet-1-18-w8", num_classes=10, flip_last_stage=False).eval()
    on = stablenets.create_model("ie-resnet-1-18-w8", num_classes=10, flip_last_stage=True).eval()
    off.load_state_dict(old.state_dict())
    on.load_state_dict(old.state_dict())
    x = torch.rand(2, 1, 28, 28)
    assert torch.equal(off(x), old(x))
    signs = [s.sign for s in on.trunk.steps]
    last_change = max(i for i, b in enumerate(on.trunk.blocks) if not b.same_shape)
    assert signs == [1.0] * (last_change + 1) + [-1.0] * (len(signs) - last_change - 1)
    assert signs.count(-1.0) == 1  # ResNet-18: the last stage is a projection block and one same-shape block
    assert not torch.allclose(on(x), old(x))
    assert on.trunk.scheme.settings()["flip_last_stage"] is True
