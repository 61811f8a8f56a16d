"""Stability analyses: roots and verdicts, preset coefficients, Euler regions, ZeroSNet's λ region."""
import numpy as np
import pytest

import stablenets
from stablenets.analysis import stability as sa


def _sorted(z):
    z = np.asarray(z, dtype=complex)
    return z[np.lexsort((z.imag, z.real))]


@pytest.mark.parametrize("alphas, expected, stable", [
    ((1.0,), [1.0], True),
    ((1.5, -0.5), [0.5, 1.0], True),                       # ζ² − 1.5ζ + 0.5 = (ζ − 1)(ζ − 0.5)
    ((2.0, -1.0), [1.0, 1.0], False),                      # double root on the circle
    ((0.0, 1.0), [-1.0, 1.0], True),                       # simple roots ±1
    ((1 / 3, 5 / 9, 1 / 9), [-1 / 3, -1 / 3, 1.0], True),  # ZeroSNet-Opt: (ζ − 1)(ζ + 1/3)²
    ((-0.5, 1.5), [-1.5, 1.0], False),
])
def test_roots_and_verdict(alphas, expected, stable):
    r = sa.root_report(alphas)
    np.testing.assert_allclose(_sorted(r["roots"]), _sorted(expected), atol=1e-6)
    assert r["zero_stable"] is stable
    assert r["verdict"].startswith("zero-stable" if stable else "not zero-stable")
    if alphas == (2.0, -1.0):
        assert r["multiplicities"] == [2] and "multiplicity 2" in r["verdict"]


def test_coefficients_from_presets_and_specs():
    assert sa.scheme_coefficients_of("resnet-h0.1-20")[:2] == ((1.0,), 0.1)
    alphas, beta, _ = sa.scheme_coefficients_of("zerosnet-opt-8")
    np.testing.assert_allclose(alphas, (1 / 3, 5 / 9, 1 / 9))
    assert beta == pytest.approx(16 / 9)
    alphas, beta, _ = sa.scheme_coefficients_of("lm-resnet-consistent-20")   # β = "consistent" → 1 + k
    assert alphas == (1.5, -0.5) and beta == pytest.approx(0.5)
    alphas, beta, _ = sa.scheme_coefficients_of("zerosnet:-1.8")
    np.testing.assert_allclose(alphas, (1 / 3, 5 / 9, 1 / 9))
    assert sa.scheme_coefficients_of(((0.5,), 1.0))[:2] == ((0.5,), 1.0)
    assert sa.scheme_coefficients_of("1.5,-0.5")[:2] == ((1.5, -0.5), 0.5)          # consistent β by default
    assert sa.scheme_coefficients_of("2, -1:0.25")[:2] == ((2.0, -1.0), 0.25)
    with pytest.raises(ValueError, match="model_roots"):
        sa.scheme_coefficients_of("in-resnet-20")


def test_model_roots_use_learned_damping():
    model = stablenets.create_model("in-resnet-8")
    lams = [float(s.coefficients()["lambda"]) for s in model.trunk.steps]
    reports = sa.model_roots(model)
    assert len(reports) == len(lams)
    for r, lam in zip(reports, lams):
        np.testing.assert_allclose(r["roots"], [1.0 - lam], atol=1e-12)   # ρ(ζ) = ζ − (1 − λ)
        assert r["zero_stable"]
    with pytest.raises(ValueError, match="no per-block scheme coefficients"):
        sa.model_roots(stablenets.create_model("mlp-moons"))


def test_explicit_euler_boundary_is_unit_circle_around_minus_one():
    regions = sa.euler_regions(extent=2.5, n=101)
    ex, im = regions["explicit_euler"], regions["implicit_euler"]
    np.testing.assert_allclose(np.abs(1 + ex["boundary"]), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.abs(1 - im["boundary"]), 1.0, atol=1e-12)
    z = ex["re"][None, :] + 1j * ex["im"][:, None]
    far = np.abs(np.abs(1 + z) - 1) > 1e-6
    np.testing.assert_array_equal(ex["stable"][far], (np.abs(1 + z) < 1)[far])
    far_im = np.abs(np.abs(1 - z) - 1) > 1e-6
    np.testing.assert_array_equal(im["stable"][far_im], (np.abs(1 - z) > 1)[far_im])
    assert not ex["stable"][np.argmin(np.abs(ex["im"])), np.argmin(np.abs(ex["re"] + 2.4))]   # z = −2.4
    assert im["stable"][np.argmin(np.abs(im["im"])), np.argmin(np.abs(im["re"] + 2.4))]


def test_zerosnet_region_curve():
    curve = sa.zerosnet_region_curve(np.linspace(-3, 2, 501))
    lam = curve["lam"]
    expected = (lam <= -1 + 1e-12) | (lam > 1 / 3 + 1e-9)
    decided = (np.abs(lam + 1) > 1e-6) & (np.abs(lam - 1 / 3) > 1e-6)
    np.testing.assert_array_equal(curve["zero_stable"][decided], expected[decided])
    stable = curve["zero_stable"]
    best = lam[stable][np.argmin(curve["spurious_modulus"][stable])]
    assert best == pytest.approx(-1.8, abs=0.011)
    assert curve["spurious_modulus"][stable].min() == pytest.approx(1 / 3, abs=1e-3)


def test_roots_table_markdown_lists_every_row():
    rows = sa.stability_analysis(schemes=("resnet-20",), hs=(0.5,))["paper_e_table"]
    table = sa.roots_table_markdown(rows)
    assert len(table.splitlines()) == len(rows) + 2
    assert "ZeroSNet-Opt" in table
