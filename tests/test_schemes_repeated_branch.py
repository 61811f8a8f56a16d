"""The shared rule for evaluating one residual branch several times within a forward pass."""
import pytest
import torch
from torch import nn

from stablenets.schemes.base import repeated_branch


def branch():
    torch.manual_seed(0)
    return nn.Sequential(nn.BatchNorm2d(3), nn.ReLU(), nn.Conv2d(3, 3, 3, padding=1), nn.BatchNorm2d(3))


X = torch.randn(8, 3, 5, 5)


def test_first_rule_reuses_the_first_calls_batch_statistics():
    f_n, reference = branch().train(), branch().train()
    with repeated_branch(f_n, "first") as f:
        first = f(X)
        again = f(X + 1.0)
    inputs = {}
    hooks = [m.register_forward_pre_hook(lambda m, i: inputs.__setitem__(m, i[0].detach()))
             for m in reference if isinstance(m, nn.BatchNorm2d)]
    torch.testing.assert_close(first, reference(X))
    for h in hooks:
        h.remove()
    for m, x in inputs.items():  # a fixed function: BatchNorm with the first call's batch statistics
        m.running_mean.copy_(x.mean((0, 2, 3)))
        m.running_var.copy_(x.var((0, 2, 3), unbiased=False))
    torch.testing.assert_close(again, reference.eval()(X + 1.0))
    assert all(m.num_batches_tracked == 1 for m in f_n if isinstance(m, nn.BatchNorm2d))
    assert all(m.training and "forward" not in m.__dict__ for m in f_n)  # restored


def test_every_rule_is_the_running_statistics_in_eval_mode():
    for rule in ("first", "running", "each"):
        f_n = branch().eval()
        with repeated_branch(f_n, rule) as f:
            torch.testing.assert_close(f(X), f_n(X))
            torch.testing.assert_close(f(X + 1), f_n(X + 1))


def test_running_rule_uses_the_running_statistics_after_the_first_call():
    f_n = branch().train()
    with repeated_branch(f_n, "running") as f:
        f(X)
        later = f(X + 1)
    f_n.eval()
    torch.testing.assert_close(later, f_n(X + 1))


def test_each_rule_is_a_plain_second_call():
    f_n = branch().train()
    with repeated_branch(f_n, "each") as f:
        f(X)
        f(X + 1)
    assert all(m.num_batches_tracked == 2 for m in f_n if isinstance(m, nn.BatchNorm2d))


def test_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="first"):
        with repeated_branch(branch(), "batch"):
            pass
