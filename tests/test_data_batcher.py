"""The batcher's crop/flip is exact, epochs cover the set once, and batches depend only on (seed, epoch)."""
from __future__ import annotations

import pytest
import torch

from stablenets.data.batcher import DeviceBatcher, StreamingBatcher, make_batcher, random_crop_flip


def _coords(n, c=2, h=6, w=5):
    """uint8 images whose value encodes the pixel: 1 + row·w + col (0 is the padding)."""
    img = 1 + torch.arange(h * w, dtype=torch.uint8).view(1, 1, h, w)
    return img.expand(n, c, h, w).contiguous()


def test_crop_flip_on_constructed_image():
    x = _coords(4)
    pad, h, w = 4, 6, 5
    dy, dx = torch.tensor([4, 0, 8, 6]), torch.tensor([4, 0, 8, 1])
    flip = torch.tensor([False, False, True, True])
    out = random_crop_flip(x, dy, dx, flip, pad)
    for b in range(4):
        for i in range(h):
            for j in range(w):
                jj = w - 1 - j if flip[b] else j
                r, c = i + dy[b].item() - pad, jj + dx[b].item() - pad
                expect = 1 + r * w + c if 0 <= r < h and 0 <= c < w else 0
                assert out[b, :, i, j].tolist() == [expect, expect], (b, i, j)
    assert torch.equal(random_crop_flip(x, torch.full((4,), 4), torch.full((4,), 4), torch.zeros(4, dtype=torch.bool)), x)
    assert torch.equal(out[0], x[0]) and torch.equal(out[0].flip(-1), random_crop_flip(
        x[:1], torch.tensor([4]), torch.tensor([4]), torch.tensor([True]), pad)[0])


@pytest.mark.parametrize("augment", [False, True])
def test_every_sample_once_per_epoch(augment):
    n = 103
    images = _coords(n, c=1, h=8, w=8)
    b = DeviceBatcher(images, torch.arange(n), 10, augment=augment, seed=3)
    assert len(b) == 11
    for _ in range(2):
        seen = torch.cat([y for _, y in b])
        assert sorted(seen.tolist()) == list(range(n))
    x, y = next(iter(b))
    assert x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1 and y.dtype == torch.int64
    drop = DeviceBatcher(images, torch.arange(n), 10, drop_last=True)
    assert len(drop) == 10 and sum(len(y) for _, y in drop) == 100


def test_augmentation_statistics():
    n = 4000
    b = DeviceBatcher(_coords(n, c=1, h=8, w=8), torch.arange(n), 500, augment=True, seed=0)
    order, aug = b.plan(0)
    assert set(aug[:, 0].tolist()) == set(range(9)) and set(aug[:, 1].tolist()) == set(range(9))
    assert abs(aug[:, 2].float().mean().item() - 0.5) < 0.04
    centred = (aug[:, 0] == 4) & (aug[:, 1] == 4) & (aug[:, 2] == 0)
    xs = torch.cat([x for x, _ in b])
    levels = (xs[centred] * 255).round().to(torch.uint8)
    assert torch.equal(levels, _coords(int(centred.sum()), c=1, h=8, w=8))


def test_ddp_shards_disjoint_and_complete():
    n, ws = 50, 3
    shards = []
    for rank in range(ws):
        b = DeviceBatcher(torch.zeros(n, 2), torch.arange(n), 4, seed=1, rank=rank, world_size=ws)
        b.set_epoch(5)
        shards.append(torch.cat([y for _, y in b]).tolist())
    flat = [i for s in shards for i in s]
    assert sorted(flat) == list(range(n)) and len(set(flat)) == n


def test_resume_sees_identical_batches():
    images, labels = _coords(64, c=3, h=8, w=8), torch.arange(64)
    a = DeviceBatcher(images, labels, 16, augment=True, seed=9)
    for _ in range(3):
        list(a)
    run_a = list(a)  # epoch 3
    b = DeviceBatcher(images, labels, 16, augment=True, seed=9)
    b.set_epoch(3)
    run_b = list(b)
    assert all(torch.equal(xa, xb) and torch.equal(ya, yb) for (xa, ya), (xb, yb) in zip(run_a, run_b))
    b.set_epoch(4)
    assert not torch.equal(torch.cat([y for _, y in b]), torch.cat([y for _, y in run_b]))


def test_streaming_matches_device_batcher():
    images, labels = _coords(40, c=1, h=6, w=6), torch.arange(40)
    a = DeviceBatcher(images, labels, 7, augment=True, seed=2)
    s = StreamingBatcher(images, labels, 7, augment=True, seed=2)
    assert all(torch.equal(xa, xs) and torch.equal(ya, ys) for (xa, ya), (xs, ys) in zip(a, s))
    assert isinstance(make_batcher(images, labels, 7, device="cpu"), DeviceBatcher)


def test_text_and_points_pass_through():
    codes = torch.randint(0, 71, (20, 1014))
    x, _ = next(iter(DeviceBatcher(codes, torch.arange(20), 20, shuffle=False)))
    assert x.dtype == torch.int64 and torch.equal(x, codes)
    pts = torch.randn(20, 2)
    x, _ = next(iter(DeviceBatcher(pts, torch.arange(20), 20, shuffle=False)))
    assert torch.equal(x, pts)
    with pytest.raises(ValueError, match="augment"):
        DeviceBatcher(pts, torch.arange(20), 4, augment=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_batches_equal_cpu_batches_without_host_syncs():
    images, labels = _coords(300, c=3, h=8, w=8), torch.arange(300)
    cpu = list(DeviceBatcher(images, labels, 64, augment=True, seed=4))
    gpu_b = make_batcher(images, labels, 64, device="cuda", augment=True, seed=4)
    stream = StreamingBatcher(images, labels, 64, device="cuda", augment=True, seed=4)
    it = iter(gpu_b)
    first = next(it)  # the epoch's plan is moved once, before the first batch
    torch.cuda.set_sync_debug_mode("error")
    try:
        rest = list(it)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    for (xc, yc), (xg, yg), (xs, ys) in zip(cpu, [first] + rest, stream):
        assert xg.is_cuda and torch.equal(xc, xg.cpu()) and torch.equal(xs.cpu(), xc) and torch.equal(yc, yg.cpu())
