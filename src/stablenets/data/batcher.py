"""Batches that live on the device: the whole uint8 set is copied there once.

Per epoch, a permutation and the augmentation draws (crop offsets dy, dx ∈ {0..2p} and
flip bits) are made on the host from a generator seeded by (seed, epoch) — one small
transfer per epoch, none per batch — so the batches of epoch e are a pure function of
(seed, e) on every device, and a resumed run that calls ``set_epoch(e)`` sees the same
batches. Each batch is gathered on the device; for uint8 images the random crop with
zero padding p and the horizontal flip are one vectorised gather (:func:`random_crop_flip`),
after which the batch becomes float32 in [0,1]. Text codes and points pass through as
they are.

Sharding for data-parallel training: rank r of w takes positions r, r+w, r+2w, ... of
the epoch's permutation, so the ranks' samples are disjoint and together cover the set
once per epoch. When w does not divide the set size, ranks may differ by one batch; use
``drop_last=True`` if every rank must run the same number of steps.

:class:`StreamingBatcher` keeps the set in host memory and moves each batch, for sets
too large for the device; :func:`make_batcher` picks one of the two.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from stablenets.data.prepare import to_model_input


PAD_MODES = ("zeros", "reflect")


def random_crop_flip(x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, flip: torch.Tensor,
                     pad: int = 4, pad_mode: str = "zeros") -> torch.Tensor:
    """Crop ``x`` (B,C,H,W) from its padded copy at offsets (dy, dx) and mirror where ``flip``.

    out[b, c, i, j] = xp[b, c, dy_b + i, dx_b + (W−1−j if flip_b else j)], with xp = x padded by
    ``pad`` zeros on every side (``pad_mode="reflect"``: the mirror image of the border, as paper A's
    code pads); dy = dx = pad and flip = False give back x.
    """
    B, C, H, W = x.shape
    xp = F.pad(x, (pad, pad, pad, pad), mode="reflect" if pad_mode == "reflect" else "constant").flatten(2)
    ar_h = torch.arange(H, device=x.device)
    ar_w = torch.arange(W, device=x.device)
    rows = dy[:, None] + ar_h
    cols = dx[:, None] + torch.where(flip[:, None], W - 1 - ar_w, ar_w)
    flat = (rows[:, :, None] * (W + 2 * pad) + cols[:, None, :]).view(B, 1, H * W).expand(B, C, H * W)
    return torch.gather(xp, 2, flat).view(B, C, H, W)


def _epoch_seed(seed: int, epoch: int) -> int:
    return int(np.random.SeedSequence([int(seed), int(epoch)]).generate_state(1, np.uint64)[0])


class DeviceBatcher:
    """Iterate over (x, y) batches of a data set held on ``device``.

    Args:
        images: uint8 N×C×H×W (scaled to float32 [0,1] per batch), or int64 text codes /
            float points (passed through).
        labels: int64 N.
        batch_size: samples per batch on this rank.
        device: where batches are produced; default the images' device.
        shuffle: a new permutation every epoch (else the stored order).
        augment: random crop with ``pad`` padding (``pad_mode`` zeros or reflect) and horizontal flip (images only).
        seed: with the epoch, fixes the permutation and the augmentation.
        drop_last: drop this rank's last incomplete batch.
        rank, world_size: this process's shard for data-parallel training.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, device=None,
                 shuffle: bool = True, augment: bool = False, seed: int = 0, drop_last: bool = False,
                 rank: int = 0, world_size: int = 1, pad: int = 4, pad_mode: str = "zeros"):
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"{images.shape[0]} images but {labels.shape[0]} labels")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"need 0 <= rank < world_size, got rank={rank}, world_size={world_size}")
        self.is_image = images.dtype == torch.uint8 and images.ndim == 4
        if pad_mode not in PAD_MODES:
            raise ValueError(f"pad_mode {pad_mode!r} must be one of {PAD_MODES}")
        self.pad_mode = pad_mode
        if augment and not self.is_image:
            raise ValueError(f"augment=True needs uint8 N×C×H×W images; got {images.dtype} of shape "
                             f"{tuple(images.shape)} (text and points are not augmented)")
        self.device = torch.device(device) if device is not None else images.device
        self.batch_size, self.shuffle, self.augment, self.seed = batch_size, shuffle, augment, seed
        self.drop_last, self.rank, self.world_size, self.pad = drop_last, rank, world_size, pad
        self.num_samples = images.shape[0]
        self._images, self._labels = self._store(images), self._store(labels)
        self._epoch = 0

    def _store(self, t: torch.Tensor) -> torch.Tensor:
        return t.to(self.device)

    @property
    def storage_device(self) -> torch.device:
        return self._images.device

    @property
    def rank_samples(self) -> int:
        """How many samples this rank sees per epoch (before drop_last)."""
        return len(range(self.rank, self.num_samples, self.world_size))

    def __len__(self) -> int:
        n = self.rank_samples
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    @property
    def epoch(self) -> int:
        """The epoch the next iteration will produce."""
        return self._epoch

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration produce epoch ``epoch`` (later ones follow on from it)."""
        self._epoch = int(epoch)

    def plan(self, epoch: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """This rank's sample order for ``epoch`` and its augmentation draws (dy, dx, flip) as an n×3 tensor."""
        g = torch.Generator().manual_seed(_epoch_seed(self.seed, epoch))
        n = self.num_samples
        order = torch.randperm(n, generator=g) if self.shuffle else torch.arange(n)
        aug = None
        if self.augment:
            offsets = torch.randint(0, 2 * self.pad + 1, (n, 2), generator=g)
            flips = torch.randint(0, 2, (n, 1), generator=g)
            aug = torch.cat([offsets, flips], 1)[self.rank::self.world_size]
        return order[self.rank::self.world_size], aug

    def __iter__(self):
        epoch = self._epoch
        self._epoch += 1
        order, aug = self.plan(epoch)
        order = order.to(self.storage_device)
        if aug is not None:
            aug = aug.to(self.device)
        bs = self.batch_size
        for k in range(len(self)):
            idx = order[k * bs:(k + 1) * bs]
            x = self._images[idx].to(self.device, non_blocking=True)
            y = self._labels[idx].to(self.device, non_blocking=True)
            if self.is_image:
                if aug is not None:
                    a = aug[k * bs:(k + 1) * bs]
                    x = random_crop_flip(x, a[:, 0], a[:, 1], a[:, 2].bool(), self.pad, self.pad_mode)
                x = to_model_input(x)
            yield x, y


class StreamingBatcher(DeviceBatcher):
    """Same batches as :class:`DeviceBatcher`, but the set stays in host memory (pinned when
    the device is CUDA) and each batch is gathered on the host and moved to ``device``."""

    def _store(self, t: torch.Tensor) -> torch.Tensor:
        t = t.cpu()
        return t.pin_memory() if self.device.type == "cuda" else t


def make_batcher(images: torch.Tensor, labels: torch.Tensor, batch_size: int, device=None,
                 max_fraction: float = 0.5, **kwargs) -> DeviceBatcher:
    """A :class:`DeviceBatcher` if the set takes at most ``max_fraction`` of the device's free
    memory, else a :class:`StreamingBatcher`. Other arguments as :class:`DeviceBatcher`."""
    device = torch.device(device) if device is not None else images.device
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        size = images.numel() * images.element_size() + labels.numel() * labels.element_size()
        if size > max_fraction * free:
            return StreamingBatcher(images, labels, batch_size, device, **kwargs)
    return DeviceBatcher(images, labels, batch_size, device, **kwargs)
