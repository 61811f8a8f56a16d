"""A network = input layer → stem → scheme trunk over residual blocks → head.

Every discrete backbone builds a :class:`SchemeNet`; the scheme (how the chain
of blocks steps) is the only thing that differs between a ResNet, an
In-ResNet, an IE-ResNet or a ZeroSNet on the same backbone.
"""
from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn

from stablenets.schemes import get_scheme
from stablenets.schemes.base import ResidualBlock, Scheme, SchemeStep, SchemeTrunk

INPUT_KINDS = ("image", "text", "points")


class SchemeNet(nn.Module):
    """``head(trunk(stem(input_layer(x))))`` with the trunk stepping the blocks under a scheme.

    Args:
        input_layer: normalisation for images (inputs in [0, 1]), an embedding for text.
        stem, head: modules before and after the chain of blocks.
        blocks: the residual blocks, in order, across all stages.
        scheme: a :class:`Scheme` or its name.
        input_kind: "image" (float N×C×H×W in [0, 1]), "text" (int64 N×L codes) or "points" (float N×D).
        in_channels: channels (images) or point dimension the model expects.
    """

    def __init__(self, input_layer: nn.Module, stem: nn.Module, blocks: Sequence[ResidualBlock], head: nn.Module,
                 scheme: Scheme | str, input_kind: str = "image", in_channels: int = 3):
        super().__init__()
        if input_kind not in INPUT_KINDS:
            raise ValueError(f"input_kind must be one of {INPUT_KINDS}, got {input_kind!r}")
        self.input_kind = input_kind
        self.in_channels = in_channels
        self.input_layer = input_layer
        self.stem = stem
        self.trunk = SchemeTrunk(list(blocks), get_scheme(scheme))
        self.head = head

    @property
    def scheme(self) -> Scheme:
        return self.trunk.scheme

    def check_input(self, x: Tensor) -> None:
        if self.input_kind == "image":
            if x.dim() != 4 or x.shape[1] != self.in_channels:
                raise ValueError(f"expected images of shape (N, {self.in_channels}, H, W), got {tuple(x.shape)}")
            if not x.is_floating_point():
                raise ValueError(f"expected float images in [0, 1], got dtype {x.dtype}; use x.float() / 255")
        elif self.input_kind == "text":
            if x.dim() != 2 or x.is_floating_point():
                raise ValueError(f"expected int64 character codes of shape (N, L), got {tuple(x.shape)} {x.dtype}")
        elif x.dim() != 2 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected points of shape (N, {self.in_channels}), got {tuple(x.shape)}")

    def features(self, x: Tensor) -> Tensor:
        self.check_input(x)
        return self.trunk(self.stem(self.input_layer(x)))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))

    def block_states(self, x: Tensor) -> list[Tensor]:
        """The state after the stem and after every block (for feature-flow and stability analyses)."""
        self.check_input(x)
        entering: list[list[Tensor]] = []
        final = self.trunk.run([self.stem(self.input_layer(x))], record=entering)
        return [history[0] for history in entering] + [final[0]]


def scheme_steps(model: nn.Module) -> list[SchemeStep]:
    return [m for m in model.modules() if isinstance(m, SchemeStep)]


def scheme_coefficients(model: nn.Module) -> dict[str, Tensor]:
    """Every block's effective scheme coefficients, keyed ``"<module path>.<name>"`` (detached)."""
    out = {}
    for path, module in model.named_modules():
        if isinstance(module, SchemeStep):
            for key, value in module.coefficients().items():
                out[f"{path}.{key}"] = value
    return out


def scheme_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The learnable parameters that belong to schemes (λ_n, h_n, k_n, gates), for weight-decay groups."""
    return [p for step in scheme_steps(model) for p in step.parameters()]
