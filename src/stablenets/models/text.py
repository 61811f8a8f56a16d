"""A residual network of 1-D convolutions for character-level text (VDCNN-like).

Conneau et al. 2017 ("Very deep convolutional networks for text
classification") layouts at depths 9/17/29/49, the depths paper B (Zhang et al.
IJCAI 2019) trains on AG-NEWS. Characters are codes 0…70 (0 = padding/unknown,
1…70 the alphabet of Zhang et al. 2015), embedded in 16 dimensions; four stages
of 64/128/256/512 channels, the first block of each later stage halving the
length; k-max pooling (k = 8) and three fully-connected layers make the logits.
The alphabet size comes from the data set's facts (:mod:`stablenets.data.info`).
``norm=False`` drops every BatchNorm (paper B Fig. 5).
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


@ranges(depth=dict(choices=tuple(sorted(VDCNN_LAYOUTS))), embed_dim=POSITIVE_INT, kmax=POSITIVE_INT,
        hidden=POSITIVE_INT, norm=BOOL, num_classes=POSITIVE_INT, vocab_size=dict(integer=True, ge=2, optional=True))
def text_resnet(depth: int = 9, embed_dim: int = 16, kmax: int = 8, hidden: int = 2048, norm: bool = True, *,
                num_classes=4, scheme="euler", scheme_args=None, vocab_size: int | None = None):
    if depth not in VDCNN_LAYOUTS:
        raise ValueError(f"text ResNets come in depths {sorted(VDCNN_LAYOUTS)}, got {depth}")
    vocab_size = vocab_size or dataset_info("ag_news").in_channels
    blocks, cout = build_stages(64, (64, 128, 256, 512), VDCNN_LAYOUTS[depth],
                                lambda cin, planes, stride: text_block(cin, planes, stride, norm))
    embed = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
    stem = nn.Conv1d(embed_dim, 64, 3, padding=1)
    head = nn.Sequential(norm_layer(cout, norm, 1), nn.ReLU(), nn.AdaptiveMaxPool1d(kmax), nn.Flatten(),
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
