"""Papers A, B and E's networks as published, the presets' facts, and names that compare like with like."""
import math

import numpy as np
import pytest
import torch
from torch import nn

import stablenets
from stablenets.data.info import dataset_info
from stablenets.models import get_preset, scheme_coefficients
from stablenets.settings import SettingError
from stablenets.stability import E_TABLE10, characteristic_roots, is_zero_stable, zerosnet_coefficients


def millions(name, num_classes=10):
    return sum(p.numel() for p in stablenets.create_model(name, num_classes=num_classes).parameters()) / 1e6


# E-table8 ("Parameter amount of ... LMResNets, PreResNets, and ZeroSNets"), in millions.
E_TABLE8 = {20: (0.27, 0.28, 0.28), 32: (0.47, 0.48, 0.48), 44: (0.66, 0.67, 0.67), 56: (0.86, 0.87, 0.87),
            110: (1.14, 1.74, 1.74)}


@pytest.mark.parametrize("depth", E_TABLE8)
def test_parameter_counts_match_e_table8(depth):
    """E-table8 within 0.01M. The PreResNet and ZeroSNet columns count a 100-class head (CIFAR-100, as the
    authors' code builds them by default); the LM-ResNet column is Lu et al.'s CIFAR-10 count (10 classes).
    E-table8's 1.14M for LM-ResNet-110 cannot be an LM-ResNet with PreResNet-110's branches (they alone hold
    1.7M, and Lu et al. report 1.7M): at 110 layers the LM-ResNet is checked against the PreResNet column."""
    lm, pre, zero = E_TABLE8[depth]
    assert abs(millions(f"resnet-{depth}", 100) - pre) < 0.01
    assert abs(millions(f"zerosnet-opt-{depth}", 100) - zero) < 0.01
    assert abs(millions(f"lm-resnet-{depth}") - (lm if depth != 110 else pre)) < 0.01


def test_zerosnet_adds_parameters_only_for_down_sampling():
    """E §4.1: "the additional parameters of ZeroSNet are only for downsampling" — two more 1×1 projections
    (y_{n−1}, y_{n−2}) at each of the two stage transitions, each term down-sampled by its own (E Fig. 3)."""
    extra = sum(p.numel() for p in stablenets.create_model("zerosnet-opt-20").parameters()) - \
        sum(p.numel() for p in stablenets.create_model("resnet-20").parameters())
    assert extra == 2 * (16 * 32 + 32 * 64)
    lm = sum(p.numel() for p in stablenets.create_model("lm-resnet-consistent-20").parameters()) - \
        sum(p.numel() for p in stablenets.create_model("resnet-20").parameters())
    assert lm == 16 * 32 + 32 * 64


@pytest.mark.parametrize("row", range(len(E_TABLE10)))
def test_e_table10_roots_and_presets(row):
    """E-table10: the moduli of the roots (two decimals) and the zero-stability verdict of each coefficient set;
    the presets of E-table3 (32, 44, 56 layers) carry exactly these coefficients."""
    entry = E_TABLE10[row]
    moduli = sorted(np.abs(characteristic_roots(entry["alphas"])))
    assert np.allclose(moduli, sorted(entry["moduli"]), atol=0.006)
    assert is_zero_stable(entry["alphas"]) == entry["zero_stable"]
    if entry["lam"] is not None:
        alphas, beta = zerosnet_coefficients(entry["lam"])
        assert np.allclose(alphas, entry["alphas"], atol=5e-5) and abs(beta - entry["beta"]) < 5e-5
    lam = entry["lam"]
    name = "zerosnet-opt" if lam == -9 / 5 else f"zerosnet-lam{lam:g}" if lam is not None else f"e10-row{row + 1}"
    for depth in (32, 44, 56):
        preset = get_preset(f"{name}-{depth}")
        assert "E-table3" in preset.table
        settings = preset.args["scheme_args"]
        assert np.allclose(settings["alphas"], entry["alphas"], atol=5e-5)


def test_e_table1_and_table2_presets():
    """E-table1: PreResNet-32, alpha in {2, 1.5, 0.5, 0.7, 1}; E-table2: LM-ResNet-44 with k in {−1.5, 1.5, −0.5, 0.5},
    eq 8 as printed (beta = (2k + 1)h, consistent only at k = 0) and the consistent form (beta = (1 + k)h) beside it."""
    for alpha, stable in ((2, False), (1.5, False), (0.5, True), (0.7, True), (1, True)):
        preset = get_preset(f"preresnet-alpha{alpha:g}-32")
        assert "E-table1" in preset.table and preset.args["scheme_args"]["alphas"] == (alpha,)
        assert is_zero_stable((alpha,)) == stable
    for k in (-1.5, 1.5, -0.5, 0.5):
        published = stablenets.create_model(f"lm-resnet-eq8-k{k:g}-44").scheme
        consistent = stablenets.create_model(f"lm-resnet-consistent-k{k:g}-44").scheme
        assert published.alphas == consistent.alphas == (1 - k, k)
        assert published.beta == 2 * k + 1 and consistent.beta == 1 + k
        assert published.order == 0 and consistent.order == 1
        assert "not consistent" in get_preset(f"lm-resnet-eq8-k{k:g}-44").description
        assert is_zero_stable((1 - k, k)) == (abs(k) < 1)


def test_e_table7_presets():
    """E-table7: ZeroSNets with roots (1, 0.52, 0.52), (1, 0.87, 0.87), (1, 0.33, 0.33) — lambda = 10, 0.5, −9/5 —
    at 44, 56, 110, 164 and 326 layers (164 and 326 with bottleneck branches)."""
    for name in ("zerosnet-lam0.5", "zerosnet-lam10", "zerosnet-opt"):
        for depth in (44, 56, 110, 164, 326):
            preset = get_preset(f"{name}-{depth}")
            assert "E-table7" in preset.table and preset.depth == depth
            assert preset.args["bottleneck"] == (depth in (164, 326))


def test_zerosnet_tra_guard_keeps_coefficients_finite_at_lambda_zero():
    for parametrisation in ("lambda", "inverse"):
        model = stablenets.create_model("zerosnet-tra-20", tra_parametrisation=parametrisation)
        learned = [p for name, p in model.named_parameters() if name.endswith((".lam", ".mu"))]
        assert len(learned) == 7  # lambda_n from the third of the nine blocks on (E §4.1, n ≥ 2)
        with torch.no_grad():  # one block's lambda_n reaches 0 (or, for 1/lambda_n, 1e-8)
            learned[0].fill_(0.0 if parametrisation == "lambda" else 1e8)
        coefficients = scheme_coefficients(model)
        assert all(torch.isfinite(v).all() for v in coefficients.values())
        assert torch.isfinite(model(torch.rand(2, 3, 8, 8))).all()


def test_alphas_given_to_a_learned_coefficient_preset_are_refused():
    with pytest.raises(SettingError, match="learned"):
        stablenets.create_model("lm-resnet-20", alphas=(0.5, 0.5))
    with pytest.raises(SettingError, match="learned"):
        stablenets.create_model("zerosnet-tra-20", alphas=(1 / 3, 5 / 9, 1 / 9))


def test_paper_a_lambda_init_ranges_and_resnext():
    """A §4.5 / A-table5: lambda_n ~ U[0, 0.1], U[0.1, 0.2], U[0.2, 0.25], U[0.25, 0.3], U[0.3, 0.4] on
    (lambda-)In-ResNet-110; A §4.1: lambda-In-ResNeXt applies eq 15 to ResNeXt-29 8×64d, lambda_n ~ U[0.2, 0.25]."""
    for key, (low, high) in {"u0-0.1": (0, 0.1), "u0.1-0.2": (0.1, 0.2), "u0.2-0.25": (0.2, 0.25),
                             "u0.25-0.3": (0.25, 0.3), "u0.3-0.4": (0.3, 0.4)}.items():
        for family in ("in-resnet", "lambda-in-resnet"):
            model = stablenets.create_model(f"{family}-{key}-110")
            lams = torch.stack([v for k, v in scheme_coefficients(model).items() if k.endswith("lambda_raw")])
            assert len(lams) == 54 and lams.min() >= low and lams.max() <= high
            assert model.scheme.rho_from_lambda == (family == "lambda-in-resnet")
    model = stablenets.create_model("lambda-in-resnext-29")
    assert model.scheme.rho_from_lambda and model.scheme.lambda_init == (0.2, 0.25)
    assert get_preset("lambda-in-resnext-29").twin == "resnext-29"
    with pytest.raises(SettingError, match="lambda_init"):
        stablenets.create_model("in-resnet-20", lambda_init=float("nan"))


def test_he_initialisation_of_paper_presets():
    """A §4.1: "The initialization of other parameters in ResNet ... follows (He et al., 2016)": convolution
    weights N(0, 2/(k²·C_out)), BatchNorm weight 1 and bias 0."""
    torch.manual_seed(0)
    model = stablenets.create_model("in-resnet-110")
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.weight.numel() > 5000]
    for conv in convs:
        k, c_out = conv.kernel_size[0], conv.out_channels
        assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / (k * k * c_out)), rel=0.1)
    assert all(torch.equal(m.weight, torch.ones_like(m.weight)) for m in model.modules()
               if isinstance(m, nn.BatchNorm2d))


def test_paper_b_depths_and_networks_without_batchnorm():
    """B-fig3/B-fig5: CIFAR-10 ResNets of depth 20 to 218 and AG-NEWS text ResNets of depth 9 to 49, with h = 1
    and h = 0.1, also without BN."""
    for depth in (20, 32, 44, 56, 110, 218):
        for name in (f"resnet-{depth}", f"resnet-h0.1-{depth}", f"resnet-nobn-{depth}", f"resnet-h0.1-nobn-{depth}"):
            assert get_preset(name).depth == depth
    for depth in (9, 17, 29, 49):
        for name in (f"textresnet-{depth}", f"textresnet-h0.1-{depth}", f"textresnet-nobn-{depth}",
                     f"textresnet-h0.1-nobn-{depth}"):
            assert get_preset(name).dataset == "ag_news"
    for name in ("resnet-h0.1-nobn-20", "textresnet-h0.1-nobn-9"):
        model = stablenets.create_model(name)
        assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
        assert model.scheme.h == 0.1 and get_preset(name).twin.replace("-h0.1", "") == get_preset(name).twin


def test_every_preset_names_a_twin_with_the_same_backbone_width_and_input():
    """Like with like: a scheme preset's plain twin has the same backbone, width, depth, data set and input layout."""
    for name in stablenets.list_models():
        preset = get_preset(name)
        assert preset.family and preset.backbone and preset.paper
        if not preset.twin:
            continue
        twin = get_preset(preset.twin)
        assert twin.twin == twin.name, name  # the twin is its own twin: a plain ResNet
        if preset.backbone in ("sonet", "odenet"):
            continue  # ODE-block networks: the twin is the ResNet of their paper's comparison (D-table1)
        assert (twin.backbone, twin.width, twin.dataset) == (preset.backbone, preset.width, preset.dataset), name
        assert twin.depth == preset.depth, name
        assert twin.args.get("scheme", "euler") == "euler" and not twin.args.get("scheme_args"), name


def test_named_widths_compare_like_with_like():
    for a, b in (("resnet-18", "ie-resnet-1-18"), ("resnet-18-w16", "ie-resnet-1-18-w16"),
                 ("resnet-18-w8", "ie-resnet-1-18-w8")):
        ma, mb = stablenets.create_model(a), stablenets.create_model(b)
        assert ma.trunk.blocks[0].in_channels == mb.trunk.blocks[0].in_channels == get_preset(a).width
        assert ma.in_channels == mb.in_channels


def test_the_data_set_is_a_named_default_of_the_preset():
    """A 3-channel model normalises with its preset's data set (shown by `stablenets models`), never silently
    with CIFAR-10's statistics for another data set."""
    model = stablenets.create_model("resnet-20")
    assert get_preset("resnet-20").dataset == "cifar10"
    assert model.input_layer.mean.flatten().tolist() == pytest.approx(dataset_info("cifar10").mean)
    other = stablenets.create_model("resnet-20", dataset="cifar100", num_classes=100)
    assert other.input_layer.std.flatten().tolist() == pytest.approx(dataset_info("cifar100").std)
    mnist = stablenets.create_model("resnet-18-w8")
    assert mnist.in_channels == 1 and get_preset("resnet-18-w8").dataset == "mnist"
    with pytest.raises(SettingError, match="dataset="):
        stablenets.create_model("resnet-20", in_channels=1)


# ----------------------------------------------------------------------------- the post-activation block (B's code)

def _randomise_norms(model, seed=0):
    """Hand-set BatchNorm statistics and affine weights, so that BN is not the identity in eval mode."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=g, dtype=torch.float64).to(m.running_mean))
            m.running_var.copy_(torch.rand(c, generator=g, dtype=torch.float64).to(m.running_var) + 0.5)
            m.weight.data.copy_(torch.randn(c, generator=g, dtype=torch.float64).to(m.weight))
            m.bias.data.copy_(torch.randn(c, generator=g, dtype=torch.float64).to(m.bias))
    return model


def _bn(x, m):
    return nn.functional.batch_norm(x, m.running_mean, m.running_var, m.weight, m.bias, False, 0.0, m.eps)


def test_post_activation_off_is_exactly_the_pre_activation_network():
    torch.manual_seed(0)
    old = stablenets.create_model("resnet-h0.1-20").eval()
    off = stablenets.create_model("resnet-h0.1-20", post_activation=False).eval()
    off.load_state_dict(old.state_dict())
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(off(x), old(x))
    assert all(block.after is None for block in off.trunk.blocks)


def test_post_activation_block_is_relu_of_shortcut_plus_h_times_the_branch_on_hand_set_weights():
    """Every block computes ReLU(s(x) + h·BN(conv(ReLU(BN(conv(x)))))), s(x) = BN(conv1×1/2(x)) where the
    shape changes (zjfheart/Robust-ResNet cifar-10_torch/run.py, BasicBlock.forward); stem conv–BN–ReLU, head
    pool–linear: the whole network, written out with functional ops, gives the model's logits."""
    F = nn.functional
    torch.manual_seed(0)
    h = 0.1
    net = _randomise_norms(stablenets.create_model("resnet-20", post_activation=True, h=h)).double().eval()
    x = torch.rand(2, 3, 32, 32, dtype=torch.float64)
    conv, bn, _ = net.stem
    state = F.relu(_bn(F.conv2d(net.input_layer(x), conv.weight, padding=1), bn))
    projections = 0
    for block in net.trunk.blocks:
        c1, b1, _, c2, b2 = block.branch
        branch = _bn(F.conv2d(F.relu(_bn(F.conv2d(state, c1.weight, stride=c1.stride, padding=1), b1)),
                              c2.weight, padding=1), b2)
        if block.shortcut is None:
            shortcut = state
        else:
            projections += 1
            pc, pb = block.shortcut
            assert pc.kernel_size == (1, 1) and pc.stride == (2, 2)
            shortcut = _bn(F.conv2d(state, pc.weight, stride=2), pb)
        state = F.relu(shortcut + h * branch)
    expected = F.linear(state.mean((2, 3)), net.head[-1].weight, net.head[-1].bias)
    assert projections == 2
    torch.testing.assert_close(net(x), expected, rtol=1e-10, atol=1e-10)
    # He et al. 2016a's ResNet-20 has 0.27M parameters
    assert sum(p.numel() for p in net.parameters()) / 1e6 == pytest.approx(0.27, abs=0.005)


def test_post_activation_without_batchnorm_and_with_bottlenecks():
    net = stablenets.create_model("resnet-nobn-20", post_activation=True)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    assert net(torch.rand(1, 3, 32, 32)).shape == (1, 10)
    with pytest.raises(ValueError, match="basic blocks only"):
        stablenets.create_model("resnet-164", post_activation=True)


def test_text_post_activation_off_is_exactly_the_old_network():
    torch.manual_seed(0)
    old = stablenets.create_model("textresnet-h0.1-9").eval()
    off = stablenets.create_model("textresnet-h0.1-9", post_activation=False).eval()
    off.load_state_dict(old.state_dict())
    codes = torch.randint(0, 70, (2, 64))
    assert torch.equal(off(codes), old(codes))


@pytest.mark.parametrize("norm", [True, False])
def test_text_post_activation_is_the_vdcnn_layout_of_b_code_on_hand_set_weights(norm):
    """zjfheart/Robust-ResNet ag-news_torch/net.py (net_wobn.py without BN), VDCNN: embed, conv3, per stage
    ReLU(s(x) + h·BN(conv(ReLU(BN(conv(x)))))), MaxPool1d(3, 2, 1) between stages, 1×1 conv (+ BN) where the
    width changes, k-max pooling (k = 8) then three linear layers; written out with functional ops."""
    F = nn.functional
    torch.manual_seed(0)
    h = 0.1
    net = stablenets.create_model("textresnet-h0.1-9" if norm else "textresnet-h0.1-nobn-9", post_activation=True,
                                  hidden=32, num_classes=4)
    g = torch.Generator().manual_seed(1)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm1d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=g))
            m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
            m.weight.data.copy_(torch.randn(c, generator=g))
            m.bias.data.copy_(torch.randn(c, generator=g))
    net = net.double().eval()
    codes = torch.randint(0, 70, (3, 100))

    def bn(x, m):
        return F.batch_norm(x, m.running_mean, m.running_var, m.weight, m.bias, False, 0.0, m.eps) if norm else x

    def conv(x, m):
        return F.conv1d(x, m.weight, m.bias, padding=m.padding)

    convs = lambda module: [m for m in module.modules() if isinstance(m, nn.Conv1d)]
    norms = lambda module: [m for m in module.modules() if isinstance(m, nn.BatchNorm1d)] or [None, None]
    state = conv(net.input_layer.embedding(codes).transpose(1, 2), net.stem)
    for i, block in enumerate(net.trunk.blocks):
        if i > 0:  # stages 2–4 start after the code's MaxPool1d(kernel 3, stride 2, padding 1)
            state = F.max_pool1d(state, 3, stride=2, padding=1)
        (c1, c2), (b1, b2) = convs(block.branch), norms(block.branch)[:2]
        assert c1.bias is not None and c1.stride == (1,)
        branch = bn(conv(F.relu(bn(conv(state, c1), b1)), c2), b2)
        shortcut = state
        if block.shortcut is not None:
            (pc,) = convs(block.shortcut)
            assert pc.kernel_size == (1,) and pc.bias is None
            shortcut = bn(pc(state), norms(block.shortcut)[0])
        state = F.relu(shortcut + h * branch)
    lin = [m for m in net.head if isinstance(m, nn.Linear)]
    z = F.adaptive_max_pool1d(state, 8).flatten(1)
    expected = lin[2](F.relu(lin[1](F.relu(lin[0](z)))))
    torch.testing.assert_close(net(codes), expected, rtol=1e-10, atol=1e-10)
    assert state.shape[-1] == 13  # 100 → 50 → 25 → 13: three halvings
