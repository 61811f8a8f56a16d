"""A residual network of 1-D convolutions for character-level text (VDCNN-like).

Conneau et al. 2017 ("Very deep convolutional networks for text
classification") layouts at depths 9/17/29/49, the depths paper B (Zhang et al.
IJCAI 2019) trains on AG-NEWS. Characters are codes 0…70 (0 = padding/unknown,
1…70 the alphabet of Zhang et al. 2015), embedded in 16 dimensions; four stages
of 64/128/256/512 channels, the first block of each later stage halving the
length; k-max pooling (k = 8) and three fully-connected layers make the logits.
The alphabet size comes from the data set's facts (:mod:`stablenets.data.info`).
``norm=False`` drops every BatchNorm (paper B Fig. 5).

``post_activation=True`` is the layout of Conneau et al.'s VDCNN as paper B's public code builds it
(zjfheart/Robust-ResNet, ag-news_torch/net.py and net_wobn.py, ``VDCNN``): post-activation blocks
x_{n+1} = ReLU(s_n(x_n) + h·f_n(x_n)) with f_n = conv3–BN–ReLU–conv3–BN (convolutions with bias), the
length halved by MaxPool1d(3, stride 2, padding 1) between stages instead of by a strided
convolution, a 1×1 convolution + BN projection where the width changes (no BN when ``norm`` is
off), and k-max pooling straight after the last block (no BN–ReLU before it). The pool is the first
layer of both the branch and the shortcut of each later stage's first block, so that block computes
ReLU(s(pool(x)) + h·f(pool(x))), the code's pool-then-block.
"""
from __future__ import annotations

from torch import nn

from stablenets.data.info import dataset_info
from stablenets.models.backbones import BOOL, POSITIVE_INT, build_stages, make_scheme
from stablenets.models.layers import PreActBasic1d, norm_layer, projection
from stablenets.models.network import SchemeNet
from stablenets.schemes.base import ResidualBlock
from stablenets.settings import ranges

VDCNN_LAYOUTS = {9: (1, 1, 1, 1), 17: (2, 2, 2, 2), 29: (5, 5, 2, 2), 49: (8, 8, 5, 3)}


def text_block(cin: int, planes: int, stride: int, norm: bool = True) -> ResidualBlock:
    return ResidualBlock(PreActBasic1d(cin, planes, stride, norm), projection(cin, planes, stride, dims=1), cin, planes)


def vdcnn_block(cin: int, planes: int, stride: int, norm: bool = True) -> ResidualBlock:
    """A post-activation block of B's code; ``stride`` 2 (a later stage's first block) pools its input first."""
    branch = nn.Sequential(nn.Conv1d(cin, planes, 3, padding=1), norm_layer(planes, norm, 1), nn.ReLU(),
                           nn.Conv1d(planes, planes, 3, padding=1), norm_layer(planes, norm, 1))
    shortcut = None
    if cin != planes:
        shortcut = nn.Conv1d(cin, planes, 1, bias=False)
        if norm:
            shortcut = nn.Sequential(shortcut, norm_layer(planes, norm, 1))
    if stride != 1:
        pool = nn.MaxPool1d(3, stride=stride, padding=1)
        branch = nn.Sequential(pool, *branch)
        shortcut = nn.Sequential(pool, *(shortcut if isinstance(shortcut, nn.Sequential) else
                                         [shortcut] if shortcut is not None else []))
    return ResidualBlock(branch, shortcut, cin, planes, after=nn.ReLU())


@ranges(depth=dict(choices=tuple(sorted(VDCNN_LAYOUTS))), embed_dim=POSITIVE_INT, kmax=POSITIVE_INT,
        hidden=POSITIVE_INT, norm=BOOL, post_activation=BOOL, num_classes=POSITIVE_INT,
        vocab_size=dict(integer=True, ge=2, optional=True))
def text_resnet(depth: int = 9, embed_dim: int = 16, kmax: int = 8, hidden: int = 2048, norm: bool = True,
                post_activation: bool = False, *, num_classes=4, scheme="euler", scheme_args=None,
                vocab_size: int | None = None):
    if depth not in VDCNN_LAYOUTS:
        raise ValueError(f"text ResNets come in depths {sorted(VDCNN_LAYOUTS)}, got {depth}")
    vocab_size = vocab_size or dataset_info("ag_news").in_channels
    make = vdcnn_block if post_activation else text_block
    blocks, cout = build_stages(64, (64, 128, 256, 512), VDCNN_LAYOUTS[depth],
                                lambda cin, planes, stride: make(cin, planes, stride, norm))
    embed = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
    stem = nn.Conv1d(embed_dim, 64, 3, padding=1)
    opening = [] if post_activation else [norm_layer(cout, norm, 1), nn.ReLU()]
    head = nn.Sequential(*opening, nn.AdaptiveMaxPool1d(kmax), nn.Flatten(),
                         nn.Linear(cout * kmax, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, num_classes))
    return SchemeNet(_EmbedChannelsFirst(embed), stem, blocks, head, make_scheme(scheme, scheme_args), "text",
                     in_channels=1)


class _EmbedChannelsFirst(nn.Module):
    """Codes (N, L) → embeddings (N, E, L) for 1-D convolutions."""

    def __init__(self, embedding: nn.Embedding):
        super().__init__()
        self.embedding = embedding

    def forward(self, codes):
        return self.embedding(codes).transpose(1, 2)
