"""A residual MLP for 2-D points (two-moons), the feature-flow network of paper B.

The state keeps the input's dimension (2 by default), so every block's output
can be drawn in the plane: x_{n+1} = s(x_n) + h·f_n(x_n) with
f_n = Linear–tanh–Linear. A linear layer maps the final state to logits.
"""
from __future__ import annotations

from torch import nn

from stablenets.models.backbones import POSITIVE_INT, make_scheme
from stablenets.models.layers import MLPBranch
from stablenets.models.network import SchemeNet
from stablenets.schemes.base import ResidualBlock
from stablenets.settings import ranges


@ranges(blocks=POSITIVE_INT, hidden=POSITIVE_INT, num_classes=POSITIVE_INT, in_channels=POSITIVE_INT)
def residual_mlp(blocks: int = 10, hidden: int = 16, *, num_classes=2, scheme="euler", scheme_args=None,
                 in_channels: int = 2):
    chain = [ResidualBlock(MLPBranch(in_channels, hidden), None, in_channels, in_channels) for _ in range(blocks)]
    return SchemeNet(nn.Identity(), nn.Identity(), chain, nn.Linear(in_channels, num_classes),
                     make_scheme(scheme, scheme_args), "points", in_channels)
