"""Continuous-depth backbones of paper D (Huang et al. 2021): SONet, SOBlock, ODENet, and ResNet10.

- SONet-W: normalise → channel-copy lift to W channels → skew ODE blocks
  W→W (stride 1), W→2W (stride 2), 2W→4W (stride 2) → global average pool →
  the skew linear ODE classification block (logits = z(T)).
- SOBlock-W: ResNet10 of width W whose first layer (the stem) is a skew ODE block.
- ODENet-W: the same layout as SONet with plain neural ODE blocks
  (dx/dt = f(x)), strided convolutions between them and a linear head.
ODE settings (solver, rtol, atol, t1, step_size, adjoint, record_steps) and
the damping γ are arguments.
"""
from __future__ import annotations

from torch import nn

from stablenets.models.backbones import imagenet_resnet
from stablenets.models.layers import Normalize, checked_normalization
from stablenets.models.network import SchemeNet
from stablenets.schemes.continuous import (ChannelLift, ODESettings, PlainODEBlock, SkewLinearODEClassifier,
                                           SkewODEBlock, group_norm)


def _settings(solver, rtol, atol, t1, step_size, adjoint, record_steps) -> ODESettings:
    return ODESettings(solver=solver, rtol=rtol, atol=atol, t1=t1, step_size=step_size, adjoint=adjoint,
                       record_steps=record_steps)


def sonet(width: int = 32, gamma: float = 0.0, solver: str = "dopri5", rtol: float = 1e-3, atol: float = 1e-3,
          t1: float = 1.0, step_size: float = 0.25, adjoint: bool = False, record_steps: bool = False, *,
          num_classes=10, in_channels=3, mean=None, std=None, image_size=32):
    s = _settings(solver, rtol, atol, t1, step_size, adjoint, record_steps)
    mean, std = checked_normalization(in_channels, mean, std)
    body = nn.Sequential(
        ChannelLift(width),
        SkewODEBlock(width, width, 1, gamma, settings=s),
        SkewODEBlock(width, 2 * width, 2, gamma, settings=s),
        SkewODEBlock(2 * width, 4 * width, 2, gamma, settings=s),
    )
    head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         SkewLinearODEClassifier(4 * width, num_classes, gamma, settings=s))
    return SchemeNet(Normalize(mean, std), body, [], head, "euler", "image", in_channels)


def soblock(width: int = 64, gamma: float = 0.0, solver: str = "dopri5", rtol: float = 1e-3, atol: float = 1e-3,
            t1: float = 1.0, step_size: float = 0.25, adjoint: bool = False, record_steps: bool = False, *,
            num_classes=10, scheme="euler", scheme_args=None, in_channels=3, mean=None, std=None, image_size=32):
    s = _settings(solver, rtol, atol, t1, step_size, adjoint, record_steps)
    stem = SkewODEBlock(in_channels, width, 1, gamma, settings=s)
    return imagenet_resnet(10, width, num_classes=num_classes, scheme=scheme, scheme_args=scheme_args,
                           in_channels=in_channels, mean=mean, std=std, image_size=image_size, stem=stem)


def odenet(width: int = 64, solver: str = "dopri5", rtol: float = 1e-3, atol: float = 1e-3, t1: float = 1.0,
           step_size: float = 0.25, adjoint: bool = False, record_steps: bool = False, *, num_classes=10,
           in_channels=3, mean=None, std=None, image_size=32):
    s = _settings(solver, rtol, atol, t1, step_size, adjoint, record_steps)
    mean, std = checked_normalization(in_channels, mean, std)
    body = nn.Sequential(
        ChannelLift(width), PlainODEBlock(width, s),
        nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), PlainODEBlock(2 * width, s),
        nn.Conv2d(2 * width, 4 * width, 3, stride=2, padding=1), PlainODEBlock(4 * width, s),
    )
    head = nn.Sequential(group_norm(4 * width), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4 * width, num_classes))
    return SchemeNet(Normalize(mean, std), body, [], head, "euler", "image", in_channels)
