"""PGD-20 throughput: stablenets' ``pgd`` against torchattacks' ``PGD`` on the same model.

    python benchmarks/bench_attacks.py [--model resnet-20] [--batch 256] [--repeats 5] [--device auto]

Both attacks run the same algorithm, L∞ PGD-20 returning the last iterate (ε = 8/255,
α = 2/255, random start; ours with ``keep_best=False``), on the same batch of random CIFAR-sized images, interleaved (ours, theirs, ours, theirs, ...) after one warm-up each,
in one process, so that clock and thermal drift hit both alike. Time: CUDA events on a
GPU, ``perf_counter`` on a CPU. Prints images/s of each and the ratio ours / theirs
(> 1 means ours is faster); ours with ``keep_best=True`` (the default, one extra forward
pass to rank the last iterate) is timed too. Needs ``pip install --no-deps torchattacks==3.5.1``.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn


def build_model(name: str, device: torch.device) -> nn.Module:
    try:
        import stablenets
        model = stablenets.create_model(name, num_classes=10)
    except Exception as err:  # the model registry may not have this preset
        print(f"create_model({name!r}) failed ({err}); using a small conv net")
        model = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                              nn.Conv2d(32, 64, 3, padding=1, stride=2), nn.BatchNorm2d(64), nn.ReLU(),
                              nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
    return model.to(device).eval()


def timed(fn, device: torch.device) -> float:
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        return start.elapsed_time(end) / 1000
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="resnet-20")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    args = ap.parse_args()
    import torchattacks

    from stablenets.attacks import pgd

    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    model = build_model(args.model, device)
    g = torch.Generator(device="cpu").manual_seed(0)
    x = torch.rand(args.batch, 3, 32, 32, generator=g).to(device)
    y = torch.randint(0, 10, (args.batch,), generator=g).to(device)
    eps, alpha = 8 / 255, 2 / 255
    theirs_attack = torchattacks.PGD(model, eps=eps, alpha=alpha, steps=args.steps, random_start=True)

    def ours():
        pgd(model, x, y, eps, alpha, args.steps, keep_best=False)

    def ours_best():
        pgd(model, x, y, eps, alpha, args.steps)

    def theirs():
        theirs_attack(x, y)

    runs = {"ours": ours, "torchattacks": theirs, "ours_keep_best": ours_best}
    for fn in runs.values():  # warm-up (cuDNN autotuning, allocator)
        fn()
    times: dict[str, list[float]] = {k: [] for k in runs}
    for r in range(args.repeats):  # interleaved, order reversed every other round
        for name in (list(runs) if r % 2 == 0 else list(runs)[::-1]):
            times[name].append(timed(runs[name], device))
    mo, mt, mb = (statistics.median(times[k]) for k in ("ours", "torchattacks", "ours_keep_best"))
    print(f"device {device} ({torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu'}), "
          f"torch {torch.__version__}, model {args.model}, batch {args.batch}, PGD-{args.steps}, "
          f"{args.repeats} interleaved repeats (median)")
    print(f"ours        {args.batch / mo:9.1f} images/s   ({mo * 1000:.1f} ms)")
    print(f"torchattacks {args.batch / mt:8.1f} images/s   ({mt * 1000:.1f} ms)")
    print(f"ours, keep_best {args.batch / mb:5.1f} images/s   ({mb * 1000:.1f} ms)")
    print(f"ratio ours/torchattacks throughput: {mt / mo:.3f}  (keep_best: {mt / mb:.3f})")


if __name__ == "__main__":
    main()
