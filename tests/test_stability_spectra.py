"""Jacobian spectra from JVPs/VJPs, the C-stability constant and the damped spectrum shift."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from stablenets.stability import (
    c_stability_constant,
    jacobian_spectral_norm,
    jacobian_top_eigenvalues,
    jacobian_top_singular_values,
    spectrum_shift_damped,
)

DIM = 8


def _matrix_with_singular_values(values, seed=0):
    g = torch.Generator().manual_seed(seed)
    u, _ = torch.linalg.qr(torch.randn(len(values), len(values), generator=g, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(len(values), len(values), generator=g, dtype=torch.float64))
    return u @ torch.diag(torch.tensor(values, dtype=torch.float64)) @ v.T


def _linear(a):
    return lambda x: x @ a.T


def _mlp_block(seed=1):
    g = torch.Generator().manual_seed(seed)
    w1 = torch.randn(16, DIM, generator=g, dtype=torch.float64) / 3
    w2 = torch.randn(DIM, 16, generator=g, dtype=torch.float64) / 3
    return lambda x: torch.tanh(x @ w1.T) @ w2.T


def test_power_iteration_returns_spectral_norm_of_linear_map():
    a = _matrix_with_singular_values([3.0, 2.0, 1.5, 1.0, 0.7, 0.5, 0.2, 0.1])
    x = torch.randn(4, DIM, dtype=torch.float64)
    sigma = jacobian_spectral_norm(_linear(a), x, iters=200, tol=1e-12)
    assert sigma.shape == (4,)
    torch.testing.assert_close(sigma, torch.full((4,), 3.0, dtype=torch.float64), rtol=1e-6, atol=0)
    assert float(jacobian_spectral_norm(_linear(a), x, per_sample=False)) == pytest.approx(3.0, rel=1e-5)


def test_lanczos_singular_values_of_linear_map():
    values = [3.0, 2.9, 1.5, 1.0, 0.7, 0.5, 0.2, 0.1]  # tiny gap: slow for power iteration, exact for Lanczos
    a = _matrix_with_singular_values(values, seed=7)
    top = jacobian_top_singular_values(_linear(a), torch.randn(1, DIM, dtype=torch.float64), k=3, krylov_dim=DIM)
    torch.testing.assert_close(top, torch.tensor(values[:3], dtype=torch.float64), rtol=1e-8, atol=0)


def test_power_iteration_on_nonlinear_block_matches_explicit_jacobian():
    f = _mlp_block()
    x = torch.randn(3, DIM, dtype=torch.float64)
    sigma = jacobian_spectral_norm(f, x, iters=500, tol=1e-12)
    exact = torch.stack([torch.linalg.matrix_norm(torch.autograd.functional.jacobian(f, xi), 2) for xi in x])
    torch.testing.assert_close(sigma, exact, rtol=1e-5, atol=0)
    # whole-batch Jacobian is block diagonal: its norm is the largest per-sample norm
    batch = jacobian_spectral_norm(f, x, iters=500, tol=1e-12, per_sample=False)
    assert float(batch) == pytest.approx(float(exact.max()), rel=1e-5)


def test_c_stability_of_linear_map_equals_spectral_norm():
    a = _matrix_with_singular_values([2.5, 1.0, 0.9, 0.8, 0.5, 0.4, 0.2, 0.1], seed=3)
    x = torch.randn(5, DIM, dtype=torch.float64)
    out = c_stability_constant(_linear(a), x, radius=1e-2, n_random=8, n_adversarial_steps=30)
    assert out["c"] == pytest.approx(2.5, rel=1e-6)
    torch.testing.assert_close(out["per_sample"], torch.full((5,), 2.5, dtype=torch.float64), rtol=1e-6, atol=0)
    assert out["random"] < out["adversarial"] <= 2.5 + 1e-9  # random directions underestimate; never above ‖A‖


def test_c_stability_of_nonlinear_block_approaches_local_jacobian_norm():
    f = _mlp_block(seed=2)
    x = torch.randn(2, DIM, dtype=torch.float64)
    out = c_stability_constant(f, x, radius=1e-6, n_random=4, n_adversarial_steps=50)
    local = jacobian_spectral_norm(f, x, iters=500, tol=1e-12)
    torch.testing.assert_close(out["per_sample"], local, rtol=1e-4, atol=0)
    with torch.no_grad():  # evaluation contexts must not break the adversarial search
        assert c_stability_constant(f, x, radius=1e-6, n_adversarial_steps=50)["c"] == pytest.approx(out["c"], rel=1e-4)


def test_arnoldi_eigenvalues_of_known_nonsymmetric_matrix():
    g = torch.Generator().manual_seed(4)
    blocks = torch.zeros(6, 6, dtype=torch.float64)
    blocks[:2, :2] = torch.tensor([[0.5, -2.0], [2.0, 0.5]], dtype=torch.float64)  # 0.5 ± 2i
    blocks[2:, 2:] = torch.diag(torch.tensor([-3.0, 1.0, 0.25, -0.1], dtype=torch.float64))
    s = torch.randn(6, 6, generator=g, dtype=torch.float64) + 3 * torch.eye(6, dtype=torch.float64)
    a = s @ blocks @ torch.linalg.inv(s)
    x = torch.randn(1, 6, dtype=torch.float64)
    top = jacobian_top_eigenvalues(_linear(a), x, k=4, krylov_dim=6)
    assert top.dtype == torch.complex128 and top.shape == (4,)
    np.testing.assert_allclose(np.abs(top.numpy()), [3.0, np.hypot(0.5, 2.0), np.hypot(0.5, 2.0), 1.0], rtol=1e-8)
    found = set(np.round(top.numpy(), 8).tolist())
    assert found == {-3.0 + 0j, 0.5 + 2j, 0.5 - 2j, 1.0 + 0j}


def test_arnoldi_finds_dominant_eigenvalues_of_a_large_map_with_few_steps():
    n = 300
    eig = torch.cat([torch.tensor([10.0, -8.0]), torch.rand(n - 2, generator=torch.Generator().manual_seed(5))])
    eig = eig.double()
    x = torch.randn(1, n, dtype=torch.float64)
    top = jacobian_top_eigenvalues(lambda y: y * eig, x, k=2, krylov_dim=30)
    np.testing.assert_allclose(top.numpy(), [10.0, -8.0], rtol=1e-8)
    with pytest.raises(ValueError, match="output has the input's shape"):
        jacobian_top_eigenvalues(lambda y: y[:, :3], x)


def test_damped_block_spectrum_is_shifted_by_minus_lambda():
    f = _mlp_block(seed=6)
    x = torch.randn(1, DIM, dtype=torch.float64)
    lam = 0.37
    out = spectrum_shift_damped(f, x, lam, krylov_dim=DIM)
    assert out["max_deviation"] < 1e-10
    jac = torch.autograd.functional.jacobian(f, x[0])
    exact_damped = torch.linalg.eigvals((1 - lam) * torch.eye(DIM, dtype=torch.float64) + jac).numpy()
    for value in out["damped"]:  # full Krylov space: the Ritz values are the exact eigenvalues
        assert np.min(np.abs(exact_damped - value)) < 1e-8


def test_conv_module_norm_and_eigenvalues_match_explicit_jacobian():
    block = torch.nn.Sequential(
        torch.nn.Conv2d(2, 2, 3, padding=1), torch.nn.Tanh(), torch.nn.Conv2d(2, 2, 3, padding=1)
    ).double()
    x = torch.randn(1, 2, 4, 4, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(block, x).reshape(32, 32)
    sigma = jacobian_spectral_norm(block, x, iters=300, tol=1e-10)
    assert float(sigma[0]) == pytest.approx(float(torch.linalg.matrix_norm(jac, 2)), rel=1e-4)
    eig = jacobian_top_eigenvalues(block, x, k=3, krylov_dim=32)
    exact_eig = torch.linalg.eigvals(jac).numpy()
    np.testing.assert_allclose(np.abs(eig.numpy()), np.sort(np.abs(exact_eig))[::-1][:3], rtol=1e-6)
