"""Every preset builds, runs forward and backward, and has the published size."""
import pytest
import torch

import stablenets
from stablenets.models import create_model, get_preset
from stablenets.settings import SettingError
from scheme_cases import CASES, case_scheme_name

PUBLISHED_MILLIONS = {"resnet-20": 0.27, "resnet-32": 0.46, "resnet-44": 0.66, "resnet-56": 0.85,
                      "resnet-110": 1.7, "resnet-164": 1.7, "wrn-34-10": 46.2, "resnext-29": 34.4}


def tiny_input(model):
    if model.input_kind == "image":
        return torch.rand(2, model.in_channels, 8, 8)
    if model.input_kind == "text":
        return torch.randint(0, 71, (2, 40))
    return torch.randn(2, model.in_channels)


@pytest.mark.parametrize("name", stablenets.list_models())
def test_every_preset_forward_backward(name):
    model = stablenets.create_model(name, num_classes=7)
    x = tiny_input(model)
    out = model(x)
    assert out.shape == (2, 7)
    out.logsumexp(1).sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads), "some parameter got no finite gradient"


@pytest.mark.parametrize("name,millions", PUBLISHED_MILLIONS.items())
def test_parameter_counts_match_published(name, millions):
    count = sum(p.numel() for p in stablenets.create_model(name).parameters()) / 1e6
    assert abs(count - millions) / millions < 0.03


def test_unknown_model_names_close_matches():
    with pytest.raises(ValueError, match="in-resnet-110"):
        stablenets.create_model("in-resnet-111")


def test_unknown_override_lists_valid_settings():
    with pytest.raises(ValueError, match="valid settings: .*depth"):
        stablenets.create_model("resnet-20", dept=3)


def test_scheme_override_routes_settings_to_the_scheme():
    model = stablenets.create_model("resnet-8", h=0.3)
    assert model.scheme.h == 0.3
    model = stablenets.create_model("in-resnet-8", scheme="implicit", iterations=2)
    assert model.scheme.iterations == 2 and model.scheme.name == "implicit"


def test_mnist_shaped_model():
    model = stablenets.create_model("resnet-8", in_channels=1, mean=(0.1307,), std=(0.3081,))
    assert model(torch.rand(3, 1, 28, 28)).shape == (3, 10)


@pytest.mark.parametrize("bad", [torch.rand(2, 1, 8, 8), torch.rand(3, 8, 8), torch.zeros(2, 3, 8, 8, dtype=torch.uint8)])
def test_wrong_image_input_is_one_clear_error(bad):
    model = stablenets.create_model("resnet-8")
    with pytest.raises(ValueError, match="expected"):
        model(bad)


def test_mean_std_must_match_channels():
    with pytest.raises(ValueError, match="input channels"):
        stablenets.create_model("resnet-8", in_channels=1, mean=(0.5, 0.5, 0.5), std=(0.2, 0.2, 0.2))


def test_presets_document_their_paper():
    for name in stablenets.list_models():
        assert get_preset(name).description


def test_pairings_that_make_no_sense_are_refused_clearly():
    with pytest.raises(ValueError, match="continuous ODE blocks and takes no discrete scheme"):
        stablenets.create_model("sonet-32", scheme="damped")
    with pytest.raises(ValueError, match="unknown scheme 'rk4'; valid schemes"):
        stablenets.create_model("resnet-8", scheme="rk4")


BACKBONES = {"resnet-8": torch.rand(2, 3, 8, 8), "resnet-18-w16": torch.rand(2, 3, 8, 8),
             "soblock-32": torch.rand(2, 3, 8, 8), "textresnet-9": torch.randint(0, 71, (2, 40)),
             "mlp-moons": torch.randn(2, 2)}
RESNET_CASES = [c for c in CASES if c.resnet is not None]


@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize("case", RESNET_CASES, ids=[c.id for c in RESNET_CASES])
def test_every_scheme_pairs_with_every_discrete_backbone(backbone, case):
    """Each scheme's defining property on each backbone: at its ResNet settings (h = 1, lambda = 0, one-step
    multistep, K = 0, one repeat, one Euler step of the ODE) it is the ResNet of that backbone, exactly."""
    torch.manual_seed(0)
    resnet = stablenets.create_model(backbone).eval()
    other = stablenets.create_model(backbone, scheme=case_scheme_name(case), scheme_args=case.resnet).eval()
    missing, unexpected = other.load_state_dict(resnet.state_dict(), strict=False)
    assert not unexpected and all(".steps." in key for key in missing)
    x = BACKBONES[backbone]
    with torch.no_grad():
        torch.testing.assert_close(other(x), resnet(x), rtol=0, atol=0)


def test_every_scheme_has_its_resnet_settings():
    assert {case_scheme_name(c) for c in RESNET_CASES} == set(stablenets.list_schemes())


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_num_classes_must_be_a_positive_integer(bad):
    with pytest.raises(SettingError, match="num_classes"):
        create_model("resnet-8", dataset="mnist", num_classes=bad)
