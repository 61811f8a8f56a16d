"""Shared building blocks: input normalisation, residual branches f_n, and shortcuts s_n.

Branches are pre-activation (He et al. 2016, "Identity mappings"): each starts
with BatchNorm–ReLU, so the state carried between blocks is never normalised
and a scheme combines raw states. ``norm=False`` replaces every BatchNorm by the
identity (paper B Fig. 5 trains ResNets without BN). :func:`he_init` is the
initialisation of He et al. 2016 that paper A §4.1 follows (and the reference
codes of papers A and E use): convolutions N(0, 2/(k²·C_out)), BatchNorm γ = 1, β = 0. Every branch maps (C_in, H, W) to
(C_out, H/stride, W/stride); the shortcut is None when the shape is kept, or a
1×1 (strided) projection otherwise.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from stablenets.schemes.base import ResidualBlock
from stablenets.settings import check

class Normalize(nn.Module):
    """(x − mean) / std per channel, with mean/std as buffers: the model's first layer."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        if len(mean) != len(std):
            raise ValueError(f"mean and std need one value per channel, got {len(mean)} and {len(std)}")
        if any(s <= 0 for s in std):
            raise ValueError(f"std must be positive, got {tuple(std)}")
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std


def input_normalization(model: nn.Module) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """(mean, std) per channel of the model's normalising first layer, or None (text, points).

    The model maps x in [0, 1] to (x − mean)/std before anything else; a training mode that puts noise
    on "every normalized pixel" (paper B §4.2) adds σ·std in pixel units to get σ in normalised units.
    """
    for module in model.modules():
        if isinstance(module, Normalize):
            return tuple(module.mean.flatten().tolist()), tuple(module.std.flatten().tolist())
    return None


def checked_normalization(in_channels: int, mean, std) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """mean/std as tuples with one value per input channel (``create_model`` fills them from the preset's data set).

    A single number stands for every channel: ``mean=0, std=1`` turns the input normalisation off
    (inputs stay in [0, 1], as in the public codes of papers C and D).
    """
    if mean is None or std is None:
        raise ValueError("an image model needs its input mean and std: create_model fills them from the "
                         "preset's data set (dataset=...), or pass mean= and std=")
    if isinstance(mean, (int, float)):
        mean = (mean,) * in_channels
    if isinstance(std, (int, float)):
        std = (std,) * in_channels
    mean, std = tuple(float(m) for m in mean), tuple(float(s) for s in std)
    if len(mean) != in_channels or len(std) != in_channels:
        raise ValueError(f"mean/std have {len(mean)}/{len(std)} values but the model has {in_channels} input channels")
    return mean, std


def he_init(model: nn.Module) -> nn.Module:
    """He et al. 2016's initialisation: conv weights N(0, 2/(k²·C_out)), BatchNorm γ = 1, β = 0 (linears keep torch's)."""
    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return model


NORMS = ("batch", "group", "none")


def norm_kind(norm: bool | str) -> str:
    """The normalisation layer kind: True is "batch", False is "none"; a string must be one of ``NORMS``."""
    if isinstance(norm, bool):
        return "batch" if norm else "none"
    return check("norm", norm, choices=NORMS)


def norm_layer(channels: int, norm: bool | str, dims: int = 2) -> nn.Module:
    """The normalisation of a branch or head over ``channels`` (1-D or 2-D): BatchNorm ("batch" or True),
    GroupNorm with one group ("group": layer statistics per sample, as paper C's public code uses
    everywhere), or the identity ("none" or False)."""
    kind = norm_kind(norm)
    if kind == "none":
        return nn.Identity()
    if kind == "group":
        return nn.GroupNorm(1, channels)
    return nn.BatchNorm2d(channels) if dims == 2 else nn.BatchNorm1d(channels)


def conv3x3(cin: int, cout: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, groups=groups, bias=False)


def projection(cin: int, cout: int, stride: int, dims: int = 2, kernel: int = 1,
               norm: bool = False) -> nn.Module | None:
    """The shortcut s_n: None (identity) when the shape is kept, else a strided convolution.

    ``kernel`` 1 is the usual 1×1 projection; paper C (Fig. 2) uses 3×3 convolutions for the
    dimension-changing shortcuts of its IE-ResNets. ``norm`` appends a BatchNorm, as the
    post-activation ResNets' shortcuts do.
    """
    check("shortcut_kernel", kernel, choices=(1, 3))
    if cin == cout and stride == 1:
        return None
    conv = nn.Conv2d if dims == 2 else nn.Conv1d
    layer = conv(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False)
    if not norm:
        return layer
    return nn.Sequential(layer, nn.BatchNorm2d(cout) if dims == 2 else nn.BatchNorm1d(cout))


class PreActBasic(nn.Sequential):
    """BN–ReLU–conv3×3–BN–ReLU–conv3×3 (optionally with dropout between, as in wide ResNets)."""

    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1, dropout: float = 0.0, norm: bool = True):
        layers = [norm_layer(cin, norm), nn.ReLU(inplace=False), conv3x3(cin, planes, stride),
                  norm_layer(planes, norm), nn.ReLU(inplace=False)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers.append(conv3x3(planes, planes))
        super().__init__(*layers)


class PreActBottleneck(nn.Sequential):
    """BN–ReLU–conv1×1–BN–ReLU–conv3×3 (grouped for ResNeXt)–BN–ReLU–conv1×1, out = expansion·planes."""

    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1, groups: int = 1, inner: int | None = None,
                 expansion: int | None = None, norm: bool = True):
        inner = inner or planes
        out = planes * (expansion or self.expansion)
        super().__init__(
            norm_layer(cin, norm), nn.ReLU(), nn.Conv2d(cin, inner, 1, bias=False),
            norm_layer(inner, norm), nn.ReLU(), conv3x3(inner, inner, stride, groups=groups),
            norm_layer(inner, norm), nn.ReLU(), nn.Conv2d(inner, out, 1, bias=False),
        )


class PreActBasic1d(nn.Sequential):
    """The 1-D branch for character sequences: BN–ReLU–conv3–BN–ReLU–conv3."""

    def __init__(self, cin: int, planes: int, stride: int = 1, norm: bool = True):
        super().__init__(
            norm_layer(cin, norm, 1), nn.ReLU(), nn.Conv1d(cin, planes, 3, stride=stride, padding=1, bias=False),
            norm_layer(planes, norm, 1), nn.ReLU(), nn.Conv1d(planes, planes, 3, padding=1, bias=False),
        )


class MLPBranch(nn.Sequential):
    """Linear–tanh–Linear on points: the residual branch of the 2-D feature-flow networks."""

    def __init__(self, dim: int, hidden: int):
        super().__init__(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, dim))


class PostActBasic(nn.Sequential):
    """conv3×3–BN–ReLU–conv3×3–BN: the branch of the original (post-activation) basic block; ``norm``
    "none" (or False) leaves the BatchNorms out."""

    def __init__(self, cin: int, planes: int, stride: int = 1, norm: bool | str = "batch"):
        super().__init__(conv3x3(cin, planes, stride), norm_layer(planes, norm), nn.ReLU(inplace=False),
                         conv3x3(planes, planes), norm_layer(planes, norm))


def basic_block(cin: int, planes: int, stride: int = 1, dropout: float = 0.0, shortcut_kernel: int = 1,
                norm: bool = True) -> ResidualBlock:
    return ResidualBlock(PreActBasic(cin, planes, stride, dropout, norm),
                         projection(cin, planes, stride, kernel=shortcut_kernel), cin, planes)


def post_basic_block(cin: int, planes: int, stride: int = 1) -> ResidualBlock:
    """The post-activation basic block's branch with a 1×1 conv + BN projection (paper D's ResNet10)."""
    return ResidualBlock(PostActBasic(cin, planes, stride), projection(cin, planes, stride, norm=True), cin, planes)


def post_relu_block(cin: int, planes: int, stride: int = 1, shortcut_kernel: int = 1,
                    norm: bool | str = "batch") -> ResidualBlock:
    """The original basic block (He et al. 2016a): x_{n+1} = ReLU(s_n(x_n) + f_n(x_n)) under explicit Euler,
    f_n = conv–BN–ReLU–conv–BN, s_n a strided convolution + BN where the shape changes (no BN with
    ``norm`` "none"); the ReLU after the step is the block's ``after``."""
    shortcut = projection(cin, planes, stride, kernel=shortcut_kernel)
    if shortcut is not None and norm_kind(norm) != "none":
        shortcut = nn.Sequential(shortcut, norm_layer(planes, norm))
    return ResidualBlock(PostActBasic(cin, planes, stride, norm), shortcut, cin, planes, after=nn.ReLU())


def bottleneck_block(cin: int, planes: int, stride: int = 1, groups: int = 1, inner: int | None = None,
                     expansion: int = 4, shortcut_kernel: int = 1, norm: bool = True) -> ResidualBlock:
    out = planes * expansion
    branch = PreActBottleneck(cin, planes, stride, groups=groups, inner=inner, expansion=expansion, norm=norm)
    return ResidualBlock(branch, projection(cin, out, stride, kernel=shortcut_kernel), cin, out)


class PreActHead(nn.Sequential):
    """BN–ReLU–global average pool–linear: the pre-activation networks' classifier."""

    def __init__(self, channels: int, num_classes: int, dims: int = 2, norm: bool = True):
        pool = nn.AdaptiveAvgPool2d(1) if dims == 2 else nn.AdaptiveAvgPool1d(1)
        super().__init__(norm_layer(channels, norm, dims), nn.ReLU(), pool, nn.Flatten(),
                         nn.Linear(channels, num_classes))
