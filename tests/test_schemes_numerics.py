"""Every scheme's numerics: ``order`` by an empirical convergence order on a linear ODE with an exact solution
(the way torchdiffeq's tests loop over every solver), ``explicit`` by what the step does, and a float64
gradcheck of one block step. The cases are ``tests/scheme_cases.py``; every registered scheme needs one."""
import math

import pytest
import torch
from torch import nn

import stablenets
from stablenets.schemes.base import ResidualBlock, SchemeTrunk
from scheme_cases import CASES, case_scheme_name

T = 1.0
A = torch.tensor([[-0.4, 1.0, 0.0], [-1.0, -0.4, 0.3], [0.0, -0.3, -1.2]], dtype=torch.float64)
X0 = torch.tensor([[1.0, -0.5, 0.25]], dtype=torch.float64)
STEPS = (16, 32, 64, 128)


class Linear(nn.Module):
    def __init__(self, matrix: torch.Tensor):
        super().__init__()
        self.register_buffer("matrix", matrix)

    def forward(self, x):
        return x @ self.matrix.T


def solve(case, n: int) -> torch.Tensor:
    dt = T / n
    scheme, c = case.make(dt)
    branch = Linear(c * A)  # one autonomous right-hand side shared by every block
    trunk = SchemeTrunk([ResidualBlock(branch, None, 3, 3) for _ in range(n)], scheme).double()
    with torch.no_grad():
        return trunk(X0.clone())


def exact(case) -> torch.Tensor:
    return X0 @ torch.linalg.matrix_exp(case.ode(A) * T).T


def test_every_scheme_has_cases():
    assert {case_scheme_name(c) for c in CASES} == set(stablenets.list_schemes())


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_declared_order_is_the_empirical_convergence_order(case):
    scheme, _ = case.make(0.1)
    assert scheme.order == case.order
    target = exact(case)
    errors = [float((solve(case, n) - target).norm()) for n in STEPS]
    if case.order == 0:  # inconsistent: the chain does not converge to the ODE's solution
        assert errors[-1] > 0.3 * errors[0] and errors[-1] > 1e-2, errors
        return
    rates = [math.log2(a / b) for a, b in zip(errors, errors[1:])]
    assert abs(rates[-1] - case.order) < 0.3, (errors, rates)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_explicit_means_no_implicit_equation_is_solved(case, monkeypatch):
    """An implicit scheme finds x_{n+1} from an equation in x_{n+1} (IE-skip: gradient steps on its residual,
    differentiating the branch inside the step); an explicit one only evaluates the branch forward."""
    scheme, c = case.make(0.1)
    calls = []
    grad = torch.autograd.grad
    monkeypatch.setattr(torch.autograd, "grad", lambda *a, **k: calls.append(1) or grad(*a, **k))
    trunk = SchemeTrunk([ResidualBlock(Linear(c * A), None, 3, 3) for _ in range(3)], scheme).double()
    trunk(X0.clone())
    assert bool(calls) == (not scheme.explicit)


class Branch(nn.Sequential):
    def __init__(self):
        super().__init__(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 3))


@pytest.mark.parametrize("case", [c for c in CASES if c.gradcheck], ids=[c.id for c in CASES if c.gradcheck])
def test_block_step_gradcheck(case):
    torch.manual_seed(0)
    scheme = stablenets.get_scheme(case_scheme_name(case), **case.gradcheck)
    block = ResidualBlock(Branch(), None, 3, 3).double()
    index = scheme.n_history - 1  # a block with its whole history (multistep starters are Euler steps)
    step = scheme.make_step(index, block).double()
    names = [n for n, _ in step.named_parameters()]
    inputs = [torch.randn(2, 3, dtype=torch.float64, requires_grad=True) for _ in range(scheme.n_history)]
    params = [p.detach().clone().requires_grad_(True) for _ in [0] for p in step.parameters()]

    def fn(*args):
        history, values = list(args[:len(inputs)]), args[len(inputs):]
        return torch.func.functional_call(step, dict(zip(names, values)), (block, history[0], history))

    assert torch.autograd.gradcheck(fn, (*inputs, *params), eps=1e-6, atol=1e-5)
