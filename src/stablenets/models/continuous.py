"""Paper D's networks (Huang et al. 2021): SONet, SOBlock on ResNet10 and on WRN-34-10, and ODENet.

- **SONet-W** (D eq 6, Fig. 2, §5.1): normalise → f_ODENet-0 → f_ODENet-1 … f_ODENet-4 → average
  pooling → f_ODENet-class. f_ODENet-0 replaces ResNet10's first convolution (in_channels → W,
  stride 1); its z(0) is the channel copy of the image, g_channel-copy of eq 6, as in the authors'
  code. f_ODENet-1 … 4 replace ResNet10's four basic blocks: W → W (stride 1), W → 2W, 2W → 4W,
  4W → 8W (stride 2), the widths of ResNet10's four stages. That is five feature blocks, as in
  D Fig. 2 ("this example consists 5 feature-extraction blocks"). The classification block maps
  the 8W pooled features to the logits from z(0) = ``class_z0`` = 1. ``blocks_per_stage`` repeats
  the stage blocks (1 as D §5.1 describes; the authors' README trains SONet with 2).
  ``class_sigma_first``: the classification field applies σ to the states before the linear maps
  (σ(z)·W), as the authors' ``ODEfunc_fc`` does, instead of σ(W·x) of D eq 3.
- **SOBlock-W** (D §5.1): ResNet10-W whose first layer (conv–BN–ReLU) is the skew block
  f_ODENet-0; the rest is unchanged. **SOBlock-WRN-34-10** (D-table2, §6.1): WRN-34-10 whose first
  convolution is that block (in_channels → 16), as in the authors' ``wide_resXsonet.py``.
- **ODENet-WRN-34-10** (D-table2, D-table3, §6.1.1: "we change SOBlock to traditional ODENet
  [CRBD18] without using the skew-symmetric stabilization in (4)", on §6.1's WRN-34-10 base):
  SOBlock-WRN-34-10 with ``skew=False``, its first block D eq 3 with W⁽²⁾ a kernel of its own
  instead of −W⁽¹⁾ᵀ; everything else (layout, GroupNorm, σ, z(0), solver) is SOBlock's. The
  authors' public code has no WRN ODENet (their ODENet is ``odenet_tq.py``, our ``odenet``).
- **ODENet** (the authors' ODENet, the other reading of D-table2's "traditional ODENet [CRBD18]"): their ``odenet_tq.py`` layout,
  channel copy to W = 64 → ten neural ODE blocks dx/dt = f(x) with f = GN–ReLU–conv3×3–GN–ReLU–
  conv3×3–GN → GroupNorm → 3×3 average pooling → linear. It is the ``"ode"`` scheme over this
  backbone (:mod:`stablenets.schemes.continuous`); the same backbone under ``scheme="euler"`` is its
  ResNet. One deliberate difference: the authors' convolutions also take the time t as an extra
  input channel; here f does not depend on t, so that the branch is the same function under every
  scheme.

ODE settings are one :class:`~stablenets.schemes.continuous.ODESettings` (``ode=``); ``create_model``
also takes its fields by name (``create_model("sonet-32", rtol=0.01)``). The defaults are paper
D's: dopri5, atol = rtol = 0.1, T = 1, γ = 0.
"""
from __future__ import annotations

from torch import Tensor, nn

from stablenets.models.backbones import BOOL, IMAGE_INPUT, POSITIVE_INT, make_scheme, resnet10, wide_resnet
from stablenets.models.layers import Normalize, checked_normalization
from stablenets.models.network import SchemeNet
from stablenets.schemes.base import ResidualBlock
from stablenets.schemes.continuous import (FEATURE_Z0, ODESettings, SkewLinearODEClassifier, SkewODEBlock, channel_copy,
                                           group_norm)
from stablenets.settings import check, ranges

PAPER_D = ODESettings()
SKEW = dict(gamma=dict(ge=0), z0=dict(choices=FEATURE_Z0), norm=BOOL)  # the skew ODE block's own arguments


class SONet(nn.Module):
    """``classifier(pool(blocks(input_layer(x))))``: a stack of skew ODE blocks (D eq 6)."""

    input_kind = "image"

    def __init__(self, input_layer: nn.Module, blocks: list[SkewODEBlock], classifier: SkewLinearODEClassifier,
                 in_channels: int):
        super().__init__()
        self.in_channels = in_channels
        self.input_layer = input_layer
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = classifier

    def check_input(self, x: Tensor) -> None:
        SchemeNet.check_input(self, x)

    def features(self, x: Tensor) -> Tensor:
        self.check_input(x)
        return self.blocks(self.input_layer(x))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.pool(self.features(x)).flatten(1))


@ranges(width=POSITIVE_INT, blocks_per_stage=POSITIVE_INT, class_z0=dict(number=True), class_sigma_first=BOOL, **SKEW,
        **IMAGE_INPUT)
def sonet(width: int = 32, gamma: float = 0.0, blocks_per_stage: int = 1, z0: str = "input", class_z0: float = 1.0,
          norm: bool = True, class_sigma_first: bool = False, ode: ODESettings = PAPER_D, *, num_classes=10,
          in_channels=3, mean=None, std=None, image_size=32):
    check("blocks_per_stage", blocks_per_stage, ge=1, integer=True)
    mean, std = checked_normalization(in_channels, mean, std)

    def block(cin, cout, stride):
        return SkewODEBlock(cin, cout, stride, gamma, norm=norm, z0=z0, settings=ode)

    blocks, cin = [block(in_channels, width, 1)], width
    for stage, cout in enumerate((width, 2 * width, 4 * width, 8 * width)):
        for i in range(blocks_per_stage):
            blocks.append(block(cin, cout, 2 if stage > 0 and i == 0 else 1))
            cin = cout
    classifier = SkewLinearODEClassifier(cin, num_classes, gamma, z0=class_z0, settings=ode,
                                         sigma_first=class_sigma_first)
    return SONet(Normalize(mean, std), blocks, classifier, in_channels)


@ranges(width=POSITIVE_INT, skew=BOOL, **SKEW, **IMAGE_INPUT)
def soblock(width: int = 64, gamma: float = 0.0, z0: str = "input", norm: bool = True, ode: ODESettings = PAPER_D,
            skew: bool = True, *, num_classes=10, scheme="euler", scheme_args=None, in_channels=3, mean=None,
            std=None, image_size=32):
    stem = SkewODEBlock(in_channels, width, 1, gamma, norm=norm, z0=z0, settings=ode, skew=skew)
    return resnet10(width, num_classes=num_classes, scheme=scheme, scheme_args=scheme_args, in_channels=in_channels,
                    mean=mean, std=std, image_size=image_size, stem=stem)


@ranges(depth=dict(integer=True, ge=10), widen=POSITIVE_INT, skew=BOOL, **SKEW, **IMAGE_INPUT)
def soblock_wrn(depth: int = 34, widen: int = 10, gamma: float = 0.0, z0: str = "input", norm: bool = True,
                ode: ODESettings = PAPER_D, skew: bool = True, *, num_classes=10, scheme="euler", scheme_args=None,
                in_channels=3, mean=None, std=None, image_size=32):
    stem = SkewODEBlock(in_channels, 16, 1, gamma, norm=norm, z0=z0, settings=ode, skew=skew)
    return wide_resnet(depth, widen, num_classes=num_classes, scheme=scheme, scheme_args=scheme_args,
                       in_channels=in_channels, mean=mean, std=std, image_size=image_size, stem=stem)


class ChannelCopy(nn.Module):
    """g_channel-copy: repeat the input channels cyclically up to ``channels``."""

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels

    def forward(self, x: Tensor) -> Tensor:
        return channel_copy(x, self.channels)


class ODEBranch(nn.Sequential):
    """f(x) = GN(conv(ReLU(GN(conv(ReLU(GN(x))))))): the field of the authors' ODENet blocks."""

    def __init__(self, channels: int):
        super().__init__(group_norm(channels), nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1),
                         group_norm(channels), nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1),
                         group_norm(channels))


@ranges(width=POSITIVE_INT, blocks=POSITIVE_INT, **IMAGE_INPUT)
def odenet(width: int = 64, blocks: int = 10, *, num_classes=10, scheme="ode", scheme_args=None, in_channels=3,
           mean=None, std=None, image_size=32):
    check("blocks", blocks, ge=1, integer=True)
    mean, std = checked_normalization(in_channels, mean, std)
    chain = [ResidualBlock(ODEBranch(width), None, width, width) for _ in range(blocks)]
    head = nn.Sequential(group_norm(width), nn.AdaptiveAvgPool2d(3), nn.Flatten(), nn.Linear(9 * width, num_classes))
    return SchemeNet(Normalize(mean, std), ChannelCopy(width), chain, head, make_scheme(scheme, scheme_args), "image",
                     in_channels)
