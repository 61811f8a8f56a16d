"""Characteristic roots, root condition, consistency, ZeroSNet region and optimum, regions, IVP."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from stablenets.stability import (
    StabilityWarning,
    characteristic_roots,
    check_coefficients,
    euler_stable_interval,
    explicit_euler_boundary,
    explicit_euler_is_stable,
    implicit_euler_boundary,
    implicit_euler_is_stable,
    is_consistent,
    is_zero_stable,
    ivp_example,
    multistep_amplification,
    multistep_boundary_locus,
    optimal_zerosnet_lambda,
    paper_e_coefficient_table,
    root_clusters,
    stability_region_grid,
    zerosnet_coefficients,
    zerosnet_error_constant,
    zerosnet_region_numeric,
    zerosnet_spurious_root_modulus,
    zerosnet_zero_stable_region,
)


def _sorted(z):
    z = np.asarray(z, dtype=np.complex128)
    return z[np.lexsort((np.round(z.imag, 6), np.round(z.real, 6)))]


# ---- roots and the root condition, against hand-derived factorisations ----

@pytest.mark.parametrize(
    "alphas, expected, stable",
    [
        ((1.0,), [1.0], True),  # ResNet: ζ − 1
        ((0.0, 1.0), [-1.0, 1.0], True),  # ζ² − 1: simple roots ±1
        ((2.0, -1.0), [1.0, 1.0], False),  # (ζ − 1)²: double root on the circle
        ((3.0, -3.0, 1.0), [1.0, 1.0, 1.0], False),  # (ζ − 1)³
        ((0.0, -1.0), [-1j, 1j], True),  # ζ² + 1
        ((0.0, 0.0, 1.0), np.exp(2j * np.pi * np.arange(3) / 3), True),  # cube roots of unity
        ((1.0, -0.25), [0.5, 0.5], True),  # (ζ − 1/2)²: repeated inside the disc is fine
        ((-2.0, -1.0), [-1.0, -1.0], False),  # (ζ + 1)²
        ((0.0, -2.0, 0.0, -1.0), [1j, 1j, -1j, -1j], False),  # (ζ² + 1)²: repeated complex unit roots
        ((4.0, -6.0, 4.0, -1.0), [1.0] * 4, False),  # (ζ − 1)⁴
        ((1.5,), [1.5], False),
        ((1 / 3, 5 / 9, 1 / 9), [1.0, -1 / 3, -1 / 3], True),  # ZeroSNet-Opt: (ζ − 1)(ζ + 1/3)²
    ],
)
def test_roots_and_root_condition_match_hand_derivation(alphas, expected, stable):
    roots = characteristic_roots(alphas)
    assert roots.dtype == np.complex128
    np.testing.assert_allclose(_sorted(roots), _sorted(expected), atol=1e-3)  # m-fold roots split by eps^(1/m)
    assert is_zero_stable(alphas) is stable


def test_double_root_is_one_cluster_with_accurate_centre():
    (centre, mult), = root_clusters((2.0, -1.0))
    assert mult == 2 and abs(centre - 1.0) < 1e-12
    clusters = dict((round(c.real, 9), m) for c, m in root_clusters((1 / 3, 5 / 9, 1 / 9)))
    assert clusters == {1.0: 1, round(-1 / 3, 9): 2}
    (centre, mult), = root_clusters((4.0, -6.0, 4.0, -1.0))  # (ζ − 1)⁴, split by ~2e-4 in np.roots
    assert mult == 4 and abs(centre - 1.0) < 1e-9


def test_close_but_distinct_unit_roots_are_simple():
    eps = 1e-2  # ζ² − 2cos(ε)ζ + 1 has the simple roots e^{±iε}
    assert is_zero_stable((2 * math.cos(eps), -1.0))
    assert not is_zero_stable((2 * math.cos(eps) * 1.001, -1.0 * 1.001**2))  # pushed outside


def test_consistency_conditions():
    assert is_consistent((1.0,), 1.0)
    assert not is_consistent((1.0,), 0.5)
    assert not is_consistent((0.5,), 1.0)  # Σα ≠ 1
    k = 0.3  # LM-ResNet: β = 1 + k
    assert is_consistent((1 - k, k), 1 + k)
    assert not is_consistent((1 - k, k), 1.0)
    assert is_consistent((1 / 3, 5 / 9, 1 / 9), 16 / 9)


def test_check_coefficients_warns_raises_and_stays_quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = check_coefficients((1 / 3, 5 / 9, 1 / 9), 16 / 9)
    assert report["zero_stable"] and report["consistent"]
    with pytest.warns(StabilityWarning, match="not zero-stable.*roots"):
        check_coefficients((2.0, -1.0))
    with pytest.raises(ValueError, match="not zero-stable"):
        check_coefficients((2.0, -1.0), strict=True)
    with pytest.warns(StabilityWarning, match="not consistent"):
        check_coefficients((1 / 3, 5 / 9, 1 / 9), 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_coefficients((0.5,), 1.0, warn_inconsistent=False)["consistent"] is False
    with pytest.raises(ValueError, match="alphas"):
        check_coefficients(())


# ---- ZeroSNet ----

def test_zerosnet_opt_coefficients_and_roots():
    lam = optimal_zerosnet_lambda()
    assert lam == pytest.approx(-9 / 5)
    alphas, beta = zerosnet_coefficients(lam)
    np.testing.assert_allclose(alphas, (1 / 3, 5 / 9, 1 / 9), atol=1e-15)
    assert beta == pytest.approx(16 / 9)
    assert zerosnet_spurious_root_modulus(lam) == pytest.approx(1 / 3, abs=1e-7)


@pytest.mark.parametrize("lam", [-7.0, -1.8, -1.0, -0.4, 0.2, 1 / 3, 0.5, 1.0, 4.0])
def test_every_zerosnet_member_is_consistent_of_order_two(lam):
    alphas, beta = zerosnet_coefficients(lam)
    assert is_consistent(alphas, beta)
    assert alphas[1] + 4 * alphas[2] == pytest.approx(1.0)  # order-2 condition
    assert zerosnet_error_constant(lam) == pytest.approx((1 + alphas[1] + 8 * alphas[2]) / 6)


def test_zerosnet_region_analytic_equals_numeric():
    left, right = zerosnet_zero_stable_region()
    assert (left.hi, left.hi_closed) == (-1.0, True) and right.lo == pytest.approx(1 / 3) and not right.lo_closed
    lams = np.linspace(-6.0, 6.0, 1201)
    lams = lams[np.abs(lams) > 1e-12]
    analytic = np.array([lam in left or lam in right for lam in lams])
    np.testing.assert_array_equal(zerosnet_region_numeric(lams), analytic)
    assert zerosnet_region_numeric([-1.0])[0] and not zerosnet_region_numeric([1 / 3])[0]
    assert not zerosnet_region_numeric([-0.999])[0] and zerosnet_region_numeric([0.334])[0]


def test_optimal_lambda_minimises_spurious_modulus_over_stable_region():
    lams = np.concatenate([np.linspace(-20, -1, 3801), np.linspace(0.34, 20, 2000)])
    moduli = np.array([zerosnet_spurious_root_modulus(lam) for lam in lams])
    assert lams[np.argmin(moduli)] == pytest.approx(-9 / 5, abs=0.01)
    assert moduli.min() >= 1 / 3 - 1e-6


def test_paper_e_table_rows():
    rows = {r["name"]: r for r in paper_e_coefficient_table()}
    opt = rows["ZeroSNet-Opt (λ=−9/5)"]
    assert opt["zero_stable"] and opt["consistent"] and opt["max_spurious_modulus"] == pytest.approx(1 / 3, abs=1e-6)
    assert not rows["LM-ResNet k=-1"]["zero_stable"]  # double root at 1
    assert rows["LM-ResNet k=1"]["zero_stable"]  # roots ±1, simple
    assert not rows["ZeroSNet λ=1/3"]["zero_stable"]
    assert not rows["PreResNet-α=0.5"]["consistent"] and rows["PreResNet-α=0.5"]["zero_stable"]
    for r in rows.values():
        assert r["max_modulus"] == pytest.approx(np.abs(r["roots"]).max())


# ---- stability regions ----

def test_explicit_euler_boundary_is_unit_circle_around_minus_one():
    z = explicit_euler_boundary(64)
    np.testing.assert_allclose(np.abs(1 + z), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.abs(1 - implicit_euler_boundary(64)), 1.0, atol=1e-12)
    # explicit Euler is the one-step multistep scheme: same boundary locus
    np.testing.assert_allclose(multistep_boundary_locus((1.0,), 1.0, 64), z, atol=1e-12)


def test_euler_stability_predicates_and_interval():
    assert explicit_euler_is_stable(0.8, -2.3) and not explicit_euler_is_stable(0.9, -2.3)
    assert implicit_euler_is_stable(0.9, -2.3) and implicit_euler_is_stable(100.0, -2.3)
    assert not implicit_euler_is_stable(0.5, 1.0)
    info = euler_stable_interval(0.9, -2.3)
    assert info["h_max"] == pytest.approx(2 / 2.3) and info["stable"] is False
    lam = -1.0 + 2.0j  # h_max = −2 Re λ / |λ|² = 2/5
    assert euler_stable_interval(None, lam)["h_max"] == pytest.approx(0.4)
    assert abs(1 + 0.4 * lam) == pytest.approx(1.0)
    assert euler_stable_interval(0.1, 1.0)["h_max"] == 0.0


def test_region_grid_matches_closed_forms():
    grid = stability_region_grid("explicit_euler", (-2.5, 0.5), (-1.5, 1.5), 31)
    z = grid["re"][None, :] + 1j * grid["im"][:, None]
    np.testing.assert_array_equal(grid["stable"], np.abs(1 + z) <= 1 + 1e-9)
    lmm = stability_region_grid("multistep", (-2.5, 0.5), (-1.5, 1.5), 31, alphas=(1.0,), beta=1.0)
    np.testing.assert_allclose(lmm["amplification"], grid["amplification"], atol=1e-12)
    imp = stability_region_grid("implicit_euler", (-2, 2), (-2, 2), 21)
    assert imp["stable"][:, imp["re"] <= 0].all()  # A-stable
    with pytest.raises(ValueError, match="unknown stability region kind"):
        stability_region_grid("rk4")


def test_multistep_boundary_locus_lies_on_amplification_one():
    alphas, beta = zerosnet_coefficients(-9 / 5)
    z = multistep_boundary_locus(alphas, beta, 32)
    assert np.all(multistep_amplification(alphas, beta, z) >= 1 - 1e-9)  # e^{iθ} is a root there
    assert multistep_amplification(alphas, beta, np.array([-0.1]))[0] < 1  # small negative z: stable


# ---- the IVP example ----

def test_ivp_explicit_diverges_above_threshold_implicit_never():
    out = ivp_example(hs=(0.05, 0.5, 0.9, 1.2), t_end=20.0)
    assert out["explicit_threshold"] == pytest.approx(2 / 2.3)
    runs = {r["h"]: r for r in out["runs"]}
    for h, r in runs.items():
        np.testing.assert_allclose(r["exact"], np.exp(-2.3 * r["t"]))
        assert r["implicit_stable"] and abs(r["implicit"][-1]) < 1e-3
        assert r["explicit_stable"] == (h < 2 / 2.3)
    assert abs(runs[0.9]["explicit"][-1]) > 1.0 and abs(runs[1.2]["explicit"][-1]) > 1e3
    assert np.all(np.diff(np.sign(runs[0.9]["explicit"][1:])) != 0)  # oscillates
    # first order: halving h roughly halves the error of both schemes
    fine = ivp_example(hs=(0.01, 0.005), t_end=2.0)["runs"]
    for key in ("explicit_error", "implicit_error"):
        assert fine[0][key] / fine[1][key] == pytest.approx(2.0, rel=0.05)
