"""Paper C's networks as published (Li, He, Lin, ICML 2020): shortcuts, widths, inner step, SwResNet-58."""
import pytest
import torch

import stablenets
from stablenets.models import get_preset


def n_params(name):
    return sum(p.numel() for p in stablenets.create_model(name).parameters())


def test_ie_wide_resnet_is_five_percent_larger_from_its_down_sampling_shortcuts():
    """C §5.4: IE-WideResNet-34 is "5% size larger than vanilla WideResNet (46M vs. 44M). The parameter
    increments are caused by the down-sampling connection we use" — C Fig. 2: 3×3 convolutions."""
    ratio = n_params("ie-wrn-34-10") / n_params("wrn-34-10")
    assert ratio == pytest.approx(46 / 44, abs=0.01)
    shortcuts = [b.shortcut for b in stablenets.create_model("ie-wrn-34-10").trunk.blocks if b.shortcut is not None]
    assert len(shortcuts) == 3 and all(s.kernel_size == (3, 3) for s in shortcuts)
    assert all(b.shortcut.kernel_size == (1, 1) for b in stablenets.create_model("wrn-34-10").trunk.blocks
               if b.shortcut is not None)  # the plain twin keeps the usual 1×1 projection


@pytest.mark.parametrize("ie, plain, width", [("ie-resnet-1-18-w8", "resnet-18-w8", 8),
                                              ("ie-resnet-3-18-w8", "resnet-18-w8", 8),
                                              ("ie-resnet-1-50-w16-g0.05", "resnet-50-w16", 16),
                                              ("ie-resnet-1-34-w16", "resnet-34-w16", 16),
                                              ("ie-resnet-2-18", "resnet-18", 64)])
def test_each_ie_resnet_has_a_plain_twin_of_the_same_width(ie, plain, width):
    """C-table1: ResNet-18 "with 8 initial channels" on MNIST; C-table2/3: "initial channel number equals to
    16", "4 times smaller"; C-fig6: "Pre-Act ResNet-18 with initial channels equaling 64"."""
    a, b = stablenets.create_model(ie), stablenets.create_model(plain)
    assert a.trunk.blocks[0].in_channels == b.trunk.blocks[0].in_channels == width
    assert len(a.trunk.blocks) == len(b.trunk.blocks)
    assert stablenets.create_model(plain).scheme.name == "euler"


def test_inner_step_is_the_papers():
    """C §5.2: natural training "with inner step size γ = 0.05" (C-table1, C-table2); C §5.4: γ = 0.1."""
    for name in ("ie-resnet-1-18-w8", "ie-resnet-3-18-w8", "ie-resnet-1-50-w16-g0.05"):
        assert get_preset(name).args["scheme_args"]["gamma"] == 0.05
    assert get_preset("ie-wrn-34-10").args["scheme_args"] == dict(iterations=1, gamma=0.1)


def test_swresnet_58_runs_58_layers_of_resnet_34():
    """C §6.2: SwResNet-58 shares "weights of two adjacent residual blocks with the same dimension" of
    ResNet-34: the 12 blocks after the first of each stage run twice, 34 + 2·12 = 58 layers."""
    model = stablenets.create_model("swresnet-58")
    resnet34 = stablenets.create_model("resnet-34-w16")
    assert n_params("swresnet-58") == sum(p.numel() for p in resnet34.parameters())
    applications = sum(step.repeats for step in model.trunk.steps)
    assert applications == 16 + 12
    assert 2 + 2 * applications == 58  # stem conv, two convolutions per application, the linear layer
    x = torch.rand(2, 3, 8, 8)
    assert model(x).shape == (2, 10)
