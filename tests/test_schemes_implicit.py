"""IE-skip: gradients through the inner loop, and evaluation under no_grad."""
import torch

import stablenets


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
