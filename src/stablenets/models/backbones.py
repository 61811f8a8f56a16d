"""Backbones: stems, stages of residual blocks, heads — no scheme logic here.

Each builder returns a :class:`SchemeNet` and takes the same trailing
arguments: ``num_classes``, ``scheme`` (a name or a Scheme), ``scheme_args``,
``in_channels`` and the input ``mean``/``std`` (images arrive in [0, 1] and are
normalised by the model's first layer; ``create_model`` fills them from the
preset's data set), and ``init``: "torch" (PyTorch's layer defaults, the
builders' default) or "he" (He et al. 2016, the initialisation paper A §4.1
follows and the reference codes of paper E and of Lu et al. 2018 use; every
paper preset sets it).

- :func:`cifar_resnet`: pre-activation ResNet for 32×32 images, widths 16/32/64,
  depth 6n+2 with basic branches (ResNet-20/32/44/56/110/218) or 9n+2 with
  bottleneck branches (PreResNet-164/326); ``norm=False`` drops every BatchNorm
  (paper B Fig. 5). ``post_activation=True`` builds the original ResNet of He et al. 2016a
  instead (basic branches only): a conv–BN–ReLU stem, blocks x_{n+1} = ReLU(s_n(x_n) + h·f_n(x_n))
  with f_n = conv–BN–ReLU–conv–BN and a strided 1×1 conv + BN projection, and a pool–linear head
  (paper B's public code, zjfheart/Robust-ResNet cifar-10_torch/run.py; the CIFAR-10 "ResNet"
  cells of E-table4 at 20–56 layers).

``norm`` (:func:`~stablenets.models.layers.norm_layer`) is the normalisation layer of the branches
and the head of the pre-activation backbones: "batch" (BatchNorm, the papers' text), "group"
(GroupNorm with one group, paper C's public code) or "none"; True/False mean "batch"/"none".
- :func:`wide_resnet`: WRN-d-k, depth 6n+4 (WRN-34-10).
- :func:`resnext`: ResNeXt-29 (c×wd) for CIFAR.
- :func:`imagenet_resnet`: ResNet-10/18/34/50 layouts with a base ``width``
  (the IE-skip paper shrinks it to 8 or 16); a 3×3 stem for small images, the
  7×7/2 stem with max-pooling for larger ones.
- :func:`resnet10`: paper D's ResNet10 (§5.1), a post-activation stem and one basic
  block per stage.

``shortcut_kernel`` (1 or 3) is the kernel of the dimension-changing shortcuts: 1×1 by
default, 3×3 in paper C's IE-ResNets (C Fig. 2).
"""
from __future__ import annotations

from functools import partial
from typing import Sequence

from torch import nn

from stablenets.models.layers import (Normalize, PreActHead, basic_block, bottleneck_block, checked_normalization,
                                      conv3x3, he_init, NORMS, norm_kind, norm_layer, post_basic_block,
                                      post_relu_block)
from stablenets.settings import check, ranges
from stablenets.models.network import SchemeNet
from stablenets.schemes import get_scheme

SMALL_IMAGE = 64  # images up to this size get the 3×3 stem without down-sampling


def make_scheme(scheme, scheme_args):
    return get_scheme(scheme, **(scheme_args or {}))


INITS = ("he", "torch")

# Declared ranges of the builders' arguments (stablenets.settings.ranges), checked by create_model before
# anything is built. A depth's finer rule (6n+2, a known layout) is the builder's own error.
POSITIVE_INT = dict(integer=True, ge=1)
BOOL = dict(choices=(False, True))
SHORTCUT_KERNEL = dict(choices=(1, 3))
NORM = dict(choices=(False, True) + NORMS)
IMAGE_INPUT = dict(num_classes=POSITIVE_INT, in_channels=POSITIVE_INT, image_size=POSITIVE_INT,
                   mean=dict(nonempty=True, each=dict(number=True), broadcast=True),
                   std=dict(nonempty=True, each=dict(gt=0), broadcast=True))
INIT = dict(choices=INITS)


def _image_net(blocks, stem, head_channels, num_classes, scheme, scheme_args, in_channels, mean, std, init="torch",
               norm=True):
    mean, std = checked_normalization(in_channels, mean, std)
    check("init", init, choices=INITS)
    net = SchemeNet(Normalize(mean, std), stem, blocks, PreActHead(head_channels, num_classes, norm=norm),
                    make_scheme(scheme, scheme_args), "image", in_channels)
    return he_init(net) if init == "he" else net


def build_stages(cin: int, widths: Sequence[int], counts: Sequence[int], make_block, first_stride: int = 1):
    """Blocks of every stage; the first block of each stage after the first halves the resolution."""
    blocks = []
    for stage, (planes, count) in enumerate(zip(widths, counts)):
        for i in range(count):
            stride = (first_stride if stage == 0 else 2) if i == 0 else 1
            block = make_block(cin, planes, stride)
            blocks.append(block)
            cin = block.out_channels
    return blocks, cin


@ranges(depth=dict(integer=True, ge=8), bottleneck=BOOL, widths=dict(nonempty=True, each=POSITIVE_INT),
        shortcut_kernel=SHORTCUT_KERNEL, norm=NORM, post_activation=BOOL, init=INIT, **IMAGE_INPUT)
def cifar_resnet(depth: int, bottleneck: bool = False, widths: Sequence[int] = (16, 32, 64), shortcut_kernel: int = 1,
                 norm: bool | str = True, post_activation: bool = False, *, num_classes=10, scheme="euler",
                 scheme_args=None, in_channels=3, mean=None, std=None, image_size=32, init="torch"):
    per, kind = (9, "bottleneck") if bottleneck else (6, "basic")
    if depth < per + 2 or (depth - 2) % per:
        raise ValueError(f"a CIFAR ResNet with {kind} branches has depth {per}n+2 (e.g. "
                         f"{', '.join(str(per * n + 2) for n in (1, 3, 6, 18))}), got {depth}")
    n = (depth - 2) // per
    if post_activation:
        return _post_activation_net(depth, bottleneck, widths, n, shortcut_kernel, norm, num_classes, scheme,
                                    scheme_args, in_channels, mean, std, init)

    def make(cin, planes, stride):
        return (bottleneck_block if bottleneck else basic_block)(cin, planes, stride, shortcut_kernel=shortcut_kernel,
                                                                  norm=norm)

    blocks, cout = build_stages(widths[0], widths, [n] * len(widths), make)
    return _image_net(blocks, conv3x3(in_channels, widths[0]), cout, num_classes, scheme, scheme_args,
                      in_channels, mean, std, init, norm)


def _post_activation_net(depth, bottleneck, widths, n, shortcut_kernel, norm, num_classes, scheme, scheme_args,
                         in_channels, mean, std, init):
    """The original (post-activation) CIFAR ResNet of He et al. 2016a, every block with the ReLU after its step."""
    if bottleneck:
        raise ValueError(f"post_activation=True builds basic blocks only; depth {depth} here has bottleneck branches")
    mean, std = checked_normalization(in_channels, mean, std)
    check("init", init, choices=INITS)
    blocks, cout = build_stages(widths[0], widths, [n] * len(widths),
                                partial(post_relu_block, shortcut_kernel=shortcut_kernel, norm=norm))
    stem = nn.Sequential(conv3x3(in_channels, widths[0]), norm_layer(widths[0], norm), nn.ReLU())
    head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cout, num_classes))
    net = SchemeNet(Normalize(mean, std), stem, blocks, head, make_scheme(scheme, scheme_args), "image", in_channels)
    return he_init(net) if init == "he" else net


@ranges(depth=dict(integer=True, ge=10), widen=POSITIVE_INT, dropout=dict(ge=0, lt=1),
        shortcut_kernel=SHORTCUT_KERNEL, norm=NORM, init=INIT, **IMAGE_INPUT)
def wide_resnet(depth: int = 34, widen: int = 10, dropout: float = 0.0, shortcut_kernel: int = 1,
                norm: bool | str = "batch", *, num_classes=10, scheme="euler", scheme_args=None, in_channels=3,
                mean=None, std=None, image_size=32, stem: nn.Module | None = None, init="torch"):
    if depth < 10 or (depth - 4) % 6:
        raise ValueError(f"a wide ResNet has depth 6n+4 (e.g. 16, 28, 34), got {depth}")
    n = (depth - 4) // 6
    widths = [16 * widen, 32 * widen, 64 * widen]
    norm = norm_kind(norm)
    blocks, cout = build_stages(16, widths, [n] * 3, partial(basic_block, dropout=dropout,
                                                             shortcut_kernel=shortcut_kernel, norm=norm))
    return _image_net(blocks, stem if stem is not None else conv3x3(in_channels, 16), cout, num_classes, scheme,
                      scheme_args, in_channels, mean, std, init, norm)


@ranges(depth=dict(integer=True, ge=11), cardinality=POSITIVE_INT, base_width=POSITIVE_INT, init=INIT,
        **IMAGE_INPUT)
def resnext(depth: int = 29, cardinality: int = 8, base_width: int = 64, *, num_classes=10, scheme="euler",
            scheme_args=None, in_channels=3, mean=None, std=None, image_size=32, init="torch"):
    if (depth - 2) % 9:
        raise ValueError(f"ResNeXt for CIFAR has depth 9n+2 (e.g. 29), got {depth}")
    n = (depth - 2) // 9

    def make(cin, planes, stride):
        inner = cardinality * base_width * planes // 64
        return bottleneck_block(cin, planes, stride, groups=cardinality, inner=inner)

    blocks, cout = build_stages(64, [64, 128, 256], [n] * 3, make)
    return _image_net(blocks, conv3x3(in_channels, 64), cout, num_classes, scheme, scheme_args,
                      in_channels, mean, std, init)


IMAGENET_LAYOUTS = {10: ((1, 1, 1, 1), False), 18: ((2, 2, 2, 2), False), 34: ((3, 4, 6, 3), False),
                    50: ((3, 4, 6, 3), True)}


def imagenet_stem(in_channels: int, width: int, image_size: int, norm: str = "batch") -> nn.Module:
    if image_size <= SMALL_IMAGE:
        return conv3x3(in_channels, width)
    return nn.Sequential(nn.Conv2d(in_channels, width, 7, stride=2, padding=3, bias=False), norm_layer(width, norm),
                         nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1))


@ranges(depth=dict(choices=tuple(sorted(IMAGENET_LAYOUTS))), width=POSITIVE_INT, shortcut_kernel=SHORTCUT_KERNEL,
        norm=NORM, init=INIT, **IMAGE_INPUT)
def imagenet_resnet(depth: int = 18, width: int = 64, shortcut_kernel: int = 1, norm: bool | str = "batch", *,
                    num_classes=10, scheme="euler", scheme_args=None, in_channels=3, mean=None, std=None,
                    image_size=32, stem: nn.Module | None = None, init="torch"):
    if depth not in IMAGENET_LAYOUTS:
        raise ValueError(f"ImageNet-style ResNets come in depths {sorted(IMAGENET_LAYOUTS)}, got {depth}")
    counts, bottleneck = IMAGENET_LAYOUTS[depth]
    norm = norm_kind(norm)
    make = partial(bottleneck_block if bottleneck else basic_block, shortcut_kernel=shortcut_kernel, norm=norm)
    widths = [width, 2 * width, 4 * width, 8 * width]
    blocks, cout = build_stages(width, widths, counts, make)
    stem = stem if stem is not None else imagenet_stem(in_channels, width, image_size, norm)
    return _image_net(blocks, stem, cout, num_classes, scheme, scheme_args, in_channels, mean, std, init, norm)


@ranges(width=POSITIVE_INT, init=INIT, **IMAGE_INPUT)
def resnet10(width: int = 64, *, num_classes=10, scheme="euler", scheme_args=None, in_channels=3, mean=None,
             std=None, image_size=32, stem: nn.Module | None = None, init="torch"):
    """Paper D's ResNet10 (§5.1): conv3×3–BN–ReLU, then four 1-layer basic blocks, pooling, a linear layer.

    The stages have widths W, 2W, 4W, 8W (strides 1, 2, 2, 2), W = 32 or 64 in D-table1. The
    blocks are the original basic block's branch conv–BN–ReLU–conv–BN with a 1×1 conv + BN
    projection, as in the authors' code. One deliberate difference: the post-activation block
    applies a ReLU after each addition; a scheme's step is the whole update x_{n+1} = Φ(x_n, f_n(x_n)),
    so the state stays the sum and the last ReLU opens the head (ReLU–average pool–linear).
    ``stem`` replaces the first layer (SOBlock).
    """
    mean, std = checked_normalization(in_channels, mean, std)
    check("init", init, choices=INITS)
    widths = [width, 2 * width, 4 * width, 8 * width]
    blocks, cout = build_stages(width, widths, (1, 1, 1, 1), post_basic_block)
    if stem is None:
        stem = nn.Sequential(conv3x3(in_channels, width), nn.BatchNorm2d(width), nn.ReLU())
    head = nn.Sequential(nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cout, num_classes))
    net = SchemeNet(Normalize(mean, std), stem, blocks, head, make_scheme(scheme, scheme_args), "image", in_channels)
    return he_init(net) if init == "he" else net
