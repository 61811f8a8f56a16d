"""Exact equivalences between schemes on shared weights, and coefficients reaching every block."""
import pytest
import torch

import stablenets
from stablenets.models import scheme_coefficients, scheme_steps
from stablenets.schemes.multistep import MultistepStep


def same_weights(src, dst):
    missing, unexpected = dst.load_state_dict(src.state_dict(), strict=False)
    assert not unexpected
    assert all(".steps." in key for key in missing), missing  # only scheme coefficients differ
    return dst


def pair(**overrides):
    resnet = stablenets.create_model("resnet-8").eval()
    other = same_weights(resnet, stablenets.create_model("resnet-8", **overrides).eval())
    return resnet, other


X = torch.rand(4, 3, 16, 16)


@pytest.mark.parametrize("overrides", [
    dict(scheme="euler", h=1.0),
    dict(scheme="damped", lambda_init=0.0),
    dict(scheme="damped", lambda_init=0.0, activation="relu", gating=True),
    dict(scheme="implicit", iterations=0),
    dict(scheme="multistep", alphas=(1.0,), beta=1.0),
    dict(scheme="shared", repeats=1),
], ids=["euler-h1", "damped-0", "gating-0", "implicit-K0", "multistep-1step", "shared-1"])
def test_scheme_reduces_to_the_resnet(overrides):
    resnet, other = pair(**overrides)
    torch.testing.assert_close(other(X), resnet(X), rtol=0, atol=0)


def test_damped_lambda_one_is_the_plain_network():
    model = stablenets.create_model("in-resnet-8", lambda_init=1.0).eval()
    h = model.stem(model.input_layer(X))
    for block in model.trunk.blocks:
        h = block.branch(h)
    torch.testing.assert_close(model(X), model.head(h))


def test_step_factor_scales_the_branch():
    resnet, half = pair(scheme="euler", h=0.5)
    h = resnet.stem(resnet.input_layer(X))
    for block in resnet.trunk.blocks:
        h = block.project(h) + 0.5 * block.branch(h)
    torch.testing.assert_close(half(X), resnet.head(h))


def test_multistep_history_follows_the_formula_and_projects_at_transitions():
    alphas, beta = (0.5, 0.3, 0.2), 1.3
    model = stablenets.create_model("resnet-20", scheme="multistep", alphas=alphas, beta=beta).eval()
    h = model.stem(model.input_layer(X))
    history = [h]
    for n, block in enumerate(model.trunk.blocks):
        x_n = history[0]
        projected = [block.project(t, j) for j, t in enumerate(history)]  # each term its own projection
        f = block.branch(x_n)
        if n < 2:
            new = projected[0] + f
        else:
            new = beta * f + sum(a * t for a, t in zip(alphas, projected))
        history = [new, *projected[:2]]
    torch.testing.assert_close(model(X), model.head(history[0]))
    transition = model.trunk.blocks[3]  # first block of stage 2: three terms, three different projections
    assert len(transition.history_shortcuts) == 2
    weights = [transition.shortcut.weight, *(s.weight for s in transition.history_shortcuts)]
    assert all(not torch.equal(a, b) for a, b in zip(weights, weights[1:]))


def test_configured_coefficients_reach_every_block():
    alphas, beta = (0.7, 0.2, 0.1), 1.4
    model = stablenets.create_model("zerosnet-opt-20", alphas=alphas, beta=beta, h=0.5)
    steps = scheme_steps(model)
    assert len(steps) == 9
    for step in steps:
        assert isinstance(step, MultistepStep)
        assert step.alphas == alphas and step.beta == beta and step.h == 0.5


def test_zerosnet_opt_preset_has_the_paper_coefficients():
    coefficients = scheme_coefficients(stablenets.create_model("zerosnet-opt-20"))
    for key, value in {"alpha0": 1 / 3, "alpha1": 5 / 9, "alpha2": 1 / 9, "beta": 16 / 9}.items():
        values = [v for k, v in coefficients.items() if k.endswith(key)]
        assert len(values) == 9 and all(abs(float(v) - value) < 1e-12 for v in values)


def test_learned_coefficients_get_gradients():
    for name, key in [("zerosnet-tra-20", "lam"), ("lm-resnet-20", "k"), ("in-resnet-20", "lam"),
                      ("resnet-hlearn-20", "h")]:
        model = stablenets.create_model(name)
        model(X).sum().backward()
        params = [p for n, p in model.named_parameters() if n.endswith(key) and ".steps." in n]
        assert params and all(p.grad is not None and p.grad.abs().sum() > 0 for p in params), name


def test_in_resnet_lambda_initialised_in_range():
    model = stablenets.create_model("in-resnet-110")
    lams = torch.stack([v for k, v in scheme_coefficients(model).items() if k.endswith("lambda")])
    assert len(lams) == 54 and lams.min() >= 0.2 and lams.max() <= 0.25 and lams.std() > 0


def test_not_zero_stable_coefficients_warn_or_refuse():
    with pytest.warns(UserWarning, match="not zero-stable"):
        stablenets.create_model("resnet-8", scheme="multistep", alphas=(2.0, -1.0), beta=1.0)
    with pytest.raises(ValueError, match="not zero-stable"):
        stablenets.create_model("resnet-8", scheme="multistep", alphas=(2.0, -1.0), beta=1.0, strict=True)


def test_unknown_scheme_lists_the_valid_ones():
    with pytest.raises(ValueError, match="damped, euler, implicit, multistep, ode, shared"):
        stablenets.get_scheme("rk4")
