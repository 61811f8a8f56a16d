"""The fast path trains the same thing as the reference path (issue: paper scale on one GPU).

- The device-side augmentation has the reference's distribution: crop offsets uniform over the
  padded range in both axes and horizontal flips at rate ½ (torchvision's RandomCrop(32, padding=4)
  + RandomHorizontalFlip), read back from the augmented images themselves.
- A fixed number of float32 steps of the fast path (fused optimiser, channels_last, gradients zeroed
  in place as CUDA graphs need them) and of a plain reference loop, on the same batches, end with the
  same weights; so does ``train`` itself.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from stablenets.data import DeviceBatcher
from stablenets.training import TrainConfig, apply_overrides, train
from stablenets.training.fastpath import StepRunner, graphable_schedule
from stablenets.training.optim import build_optimizer

scipy_stats = pytest.importorskip("scipy.stats", reason="scipy (the test extra) runs the goodness-of-fit tests")


def _marked_images(n: int, size: int = 32) -> torch.Tensor:
    """Images with two marker pixels side by side (255 then 128): their place and order give the
    crop offset and whether the image was mirrored."""
    x = torch.zeros(n, 1, size, size, dtype=torch.uint8)
    x[:, 0, 16, 16] = 255
    x[:, 0, 16, 17] = 128
    return x


def _read_back(batch: torch.Tensor, pad: int = 4):
    """(dy, dx, flip) of each augmented image, from where its markers landed."""
    img = (batch[:, 0] * 255).round().long()
    n, H, W = img.shape
    flat_hi = (img == 255).flatten(1).float().argmax(1)
    flat_lo = (img == 128).flatten(1).float().argmax(1)
    i_hi, j_hi = flat_hi // W, flat_hi % W
    j_lo = flat_lo % W
    flip = j_lo < j_hi                                   # mirrored: the 128 pixel lands left of the 255 one
    j_unflipped = torch.where(flip, W - 1 - j_hi, j_hi)  # out[i, j] = padded[dy + i, dx + j] before the mirror
    dy = 16 + pad - i_hi
    dx = 16 + pad - j_unflipped
    return dy.numpy(), dx.numpy(), flip.numpy()


def test_device_augmentation_has_the_reference_distribution():
    n, pad = 18000, 4
    x = _marked_images(n)
    y = torch.zeros(n, dtype=torch.long)
    batcher = DeviceBatcher(x, y, batch_size=1000, augment=True, seed=7, pad=pad)
    got = [_read_back(xb, pad) for xb, _ in batcher]
    dy, dx, flip = (np.concatenate([g[k] for g in got]) for k in range(3))
    # every marker was found inside the image (offsets in range, nothing cut off)
    assert dy.min() >= 0 and dy.max() <= 2 * pad and dx.min() >= 0 and dx.max() <= 2 * pad
    k = 2 * pad + 1
    for offsets in (dy, dx, dy * k + dx):  # each axis and the pair uniform over the padded range
        counts = np.bincount(offsets, minlength=offsets.max() + 1)
        assert scipy_stats.chisquare(counts).pvalue > 1e-3
    assert scipy_stats.chisquare(np.bincount(dy * k + dx, minlength=k * k)).pvalue > 1e-3
    assert scipy_stats.binomtest(int(flip.sum()), n, 0.5).pvalue > 1e-3
    # flips independent of the offsets: the flip rate does not move with dx
    table = np.stack([np.bincount(dx[flip], minlength=k), np.bincount(dx[~flip], minlength=k)])
    assert scipy_stats.chi2_contingency(table).pvalue > 1e-3


def test_augmentation_is_not_the_identity():
    """The statistics above would be vacuous if the batcher ignored augment: offsets must vary."""
    x = _marked_images(500)
    batcher = DeviceBatcher(x, torch.zeros(500, dtype=torch.long), batch_size=500, augment=True, seed=1)
    dy, dx, flip = _read_back(next(iter(batcher))[0])
    assert len(set(dy.tolist())) == 9 and len(set(dx.tolist())) == 9 and 0 < flip.mean() < 1


CFG = ["data.dataset=embedded-mnist", "model.name=resnet-8", "model.overrides.widths=[4, 8, 8]",
       "data.batch_size=16", "data.train_subset=96", "data.test_subset=16", "run.epochs=2",
       "schedule.milestones=[1]", "optim.lr=0.05", "run.progress=false", "run.seed=5"]


def _reference(cfg, dtype=torch.float32):
    """The plain loop: model(x), cross-entropy, zero_grad(set_to_none), backward, SGD step."""
    from stablenets.data import load_splits
    from stablenets.training.trainer import _seed_everything, build_model

    _seed_everything(cfg.run.seed)
    data = load_splits(cfg.data.dataset, None, train_subset=cfg.data.train_subset, test_subset=cfg.data.test_subset)
    model = build_model(cfg, data.dataset).to(dtype)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.optim.lr, momentum=cfg.optim.momentum,
                          weight_decay=cfg.optim.weight_decay, nesterov=cfg.optim.nesterov)
    batcher = DeviceBatcher(data.x_train, data.y_train, cfg.data.batch_size, augment=cfg.data.augment,
                            seed=cfg.run.seed)
    for epoch in range(cfg.run.epochs):
        batcher.set_epoch(epoch)
        for g in opt.param_groups:
            g["lr"] = cfg.optim.lr * (cfg.schedule.gamma if epoch >= cfg.schedule.milestones[0] else 1)
        model.train()
        for xb, yb in batcher:
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(xb.to(dtype)), yb).backward()
            opt.step()
    return model, data, batcher


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 5e-3), (torch.float64, 1e-10)], ids=["float32", "float64"])
def test_fast_step_equals_the_reference_loop(dtype, tol):
    """float32: equal to rounding grown over 12 steps; float64: equal to 1e-10, so the two paths
    compute the same thing and differ only in the order of float operations (channels_last)."""
    cfg = apply_overrides(TrainConfig(), CFG)
    ref, data, _ = _reference(cfg, dtype)
    from stablenets.training.trainer import _seed_everything, build_model

    _seed_everything(cfg.run.seed)
    model = build_model(cfg, data.dataset).to(dtype).to(memory_format=torch.channels_last)
    opt = build_optimizer(model, cfg.optim, fused=True)  # torch's fused SGD kernel (CPU and CUDA)
    assert opt.param_groups[0]["fused"]

    def loss_fn(xb, yb):
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        return loss, loss.detach(), (logits.argmax(1) == yb).sum()

    runner = StepRunner(loss_fn, list(model.parameters()), opt, keep_grads=True)
    batcher = DeviceBatcher(data.x_train, data.y_train, cfg.data.batch_size, augment=cfg.data.augment,
                            seed=cfg.run.seed)
    for epoch in range(cfg.run.epochs):
        batcher.set_epoch(epoch)
        lr = cfg.optim.lr * (cfg.schedule.gamma if epoch >= 1 else 1)
        for xb, yb in batcher:
            runner.step(xb.to(dtype).contiguous(memory_format=torch.channels_last), yb, lr)
    assert runner.steps == 12
    for (name, a), b in zip(ref.state_dict().items(), model.state_dict().values()):
        assert torch.allclose(a, b, atol=tol, rtol=tol), name
    moved = [not torch.allclose(a, b.to(dtype)) for a, b in zip(ref.parameters(),
                                                                 build_model(cfg, data.dataset).parameters())]
    assert all(moved)  # the weights trained (equal-to-initial on both sides would pass vacuously)


def test_train_equals_the_reference_loop(tmp_path):
    cfg = apply_overrides(TrainConfig(), CFG)
    ref, _, _ = _reference(cfg)
    train(cfg, tmp_path / "run", device="cpu", log=lambda *_: None)
    got = load_file(str(tmp_path / "run" / "model.safetensors"))
    for name, a in ref.state_dict().items():
        assert torch.allclose(a.float(), got[name].float(), atol=2e-5, rtol=1e-4), name


def test_graphs_only_where_the_rate_is_constant_within_epochs():
    cfg = apply_overrides(TrainConfig(), CFG)
    assert graphable_schedule(cfg.schedule)
    assert not graphable_schedule(apply_overrides(cfg, ["schedule.kind=cosine"]).schedule)
    assert not graphable_schedule(apply_overrides(cfg, ["schedule.warmup_epochs=1"]).schedule)
