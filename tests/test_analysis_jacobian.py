"""Block Jacobian analyses on real model blocks against the exact Jacobian (2-D states, so J is 2×2)."""
import numpy as np
import pytest
import torch

import stablenets
from stablenets.analysis import jacobian as ja



def _exact(fn, x):
    return torch.autograd.functional.jacobian(lambda v: fn(v.view(1, -1)).view(-1), x.view(-1)).double().numpy()


def _model(**overrides):
    torch.manual_seed(0)
    model = stablenets.create_model("mlp-moons", blocks=4, hidden=8, **overrides).double().eval()
    return model, torch.tensor([[0.3, -0.7]], dtype=torch.float64)


def test_block_spectra_and_c_stability_match_the_exact_jacobian():
    model, x = _model()
    data = ja.jacobian_analysis(model, x, blocks=[0, 2], k=2, krylov_dim=2, radius=1e-6)
    histories = ja.trunk_histories(model, x)
    for row in data["blocks"]:
        i = row["index"]
        J = _exact(ja.segment_map(model, histories, i, i + 1), histories[i][0])
        sigma = np.linalg.svd(J, compute_uv=False)
        np.testing.assert_allclose(row["singular_values"], sigma, rtol=1e-6)
        assert row["spectral_norm_power"] == pytest.approx(sigma[0], rel=1e-4)
        assert row["c_stability"] == pytest.approx(sigma[0], rel=1e-4)          # C of a smooth map → ‖J‖₂
        ev = np.linalg.eigvals(J)
        np.testing.assert_allclose(np.sort_complex(row["eigenvalues"]), np.sort_complex(ev), atol=1e-6)
    (stage,) = data["stages"]                                                   # one stage: all 4 blocks
    J = _exact(ja.segment_map(model, histories, 0, 4), histories[0][0])
    assert stage["c_stability"] == pytest.approx(np.linalg.svd(J, compute_uv=False)[0], rel=1e-4)


def test_damped_block_spectrum_is_the_resnet_spectrum_shifted_by_lambda():
    model, x = _model(scheme="damped", lambda_init=0.3)
    data = ja.jacobian_analysis(model, x, blocks=[1], k=2, krylov_dim=2, stages=False)
    row = data["blocks"][0]
    assert row["lambda"] == pytest.approx(0.3)
    shift = row["shift"]
    assert shift["max_deviation"] < 1e-8
    np.testing.assert_allclose(np.sort_complex(shift["damped"]), np.sort_complex(row["eigenvalues"]), atol=1e-8)


def test_segment_maps_follow_the_multistep_history():
    model, x = _model(scheme="multistep", alphas=(1 / 3, 5 / 9, 1 / 9), beta=16 / 9)
    histories = ja.trunk_histories(model, x)
    with torch.no_grad():
        final = model.features(x)
        for start in range(4):
            torch.testing.assert_close(ja.segment_map(model, histories, start, 4)(histories[start][0]), final)
    assert ja.stage_ranges(model) == [(0, 4)]
    with pytest.raises(ValueError, match="out of range"):
        ja.jacobian_analysis(model, x, blocks=[7])
