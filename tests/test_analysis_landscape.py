"""Loss landscapes: grid shape, centre = the model's loss at the input, direction properties."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import stablenets
from stablenets.analysis import landscape as la



@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = stablenets.create_model("resnet-8", in_channels=1, image_size=8, mean=(0.5,), std=(0.25,)).eval()
    x = torch.rand(1, 1, 8, 8)
    return model, x, torch.tensor([3])


def test_grid_shape_and_centre_is_the_loss_at_the_input(setup):
    model, x, y = setup
    d = la.loss_landscape(model, x, y, radius=4.0, n=7)
    assert d["loss"].shape == (7, 7) and d["pred"].shape == (7, 7)
    np.testing.assert_allclose(d["coords"], np.linspace(-4, 4, 7))
    assert d["coords"][3] == 0.0
    with torch.no_grad():
        expected = float(F.cross_entropy(model(x), y))
    assert d["center_loss"] == pytest.approx(expected, rel=1e-5, abs=1e-6)
    assert d["input_pred"] == int(model(x).argmax(1))


def test_loss_rises_along_the_fgsm_direction(setup):
    model, x, y = setup
    d = la.loss_landscape(model, x, y, radius=0.05, n=3)   # tiny steps: the first-order picture holds
    assert d["loss"][2, 1] > d["loss"][1, 1] > d["loss"][0, 1]


def test_directions_are_orthogonal_with_equal_norms(setup):
    model, x, y = setup
    d1, d2 = la.landscape_directions(model, x, y, seed=1)
    assert torch.all(d1.abs() == 1)
    assert float((d1 * d2).sum()) == pytest.approx(0.0, abs=1e-3)
    assert float(d2.norm()) == pytest.approx(float(d1.norm()), rel=1e-5)


def test_compare_uses_the_same_corrupted_input_and_rejects_even_grids(setup):
    model, x, y = setup
    other = stablenets.create_model("in-resnet-8", dataset="mnist", image_size=8).eval()
    data = la.compare_landscapes({"a": model, "b": other}, x, y, "gaussian_noise", 5, radius=2.0, n=3)
    assert data["input"] == "gaussian_noise-5" and set(data["models"]) == {"a", "b"}
    clean = la.loss_landscape(model, x, y, radius=2.0, n=3)
    assert data["models"]["a"]["center_loss"] != pytest.approx(clean["center_loss"], rel=1e-6)
    with pytest.raises(ValueError, match="odd"):
        la.loss_landscape(model, x, y, n=4)
