"""``stablenets demo``: one backbone, four numerical schemes, one robustness table, in minutes on a CPU.

On the MNIST digits packaged with stablenets (5,000 training and 1,000 test images; no
download), the same small pre-activation ResNet-8 backbone is trained with four schemes:

    ResNet        x_{n+1} = x_n + f_n(x_n)                        explicit Euler
    In-ResNet     x_{n+1} = (1 − ReLU(λ_n)) x_n + f_n(x_n)        damped, λ_n learned (paper A)
    ZeroSNet-Opt  x_{n+1} = ⅓x_n + 5⁄9x_{n−1} + 1⁄9x_{n−2} + 16⁄9 f_n(x_n)   (paper E)
    IE-skip       one implicit-Euler correction of x_n + f_n(x_n)  (paper C)

with the same data order, optimiser and budget, through the ordinary training pipeline
(each run folder holds its checkpoint and metrics). Each model is then evaluated on the
first ``--n`` test digits: clean, Gaussian noise (σ = 0.3), impulse noise (CIFAR-10-C
severity 5: 7% of the pixels set to 0 or 1), FGSM and PGD-10 at ε = 0.1 and 0.2 (L∞, pixel
units). The table is printed and saved as ``demo.md`` and ``demo.json`` in the run folder.

The numbers are what this small budget gives, on 28×28 digits with a tiny network: they
show that training works and how the schemes compare here, not what the papers report.
The paper-scale comparison is ``stablenets train <experiment>`` (see ``--help``).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from stablenets.device import add_device_argument, resolve_device

__all__ = ["register", "run_demo", "MODELS"]

MODELS = {"ResNet": "resnet-8", "In-ResNet": "in-resnet-8", "ZeroSNet-Opt": "zerosnet-opt-8",
          "IE-skip": "ie-resnet-1-8"}
WIDTHS = [8, 16, 32]
GAUSSIAN_SIGMA = 0.3
IMPULSE_SEVERITY = 5
EPS = (0.1, 0.2)
PAPER_SCALE = ("stablenets train a-cifar10-in-resnet-110 --seeds 0 1 2   (and model.name=resnet-110, "
               "zerosnet-opt-110, ie-resnet-1-110 for the other columns; e-cifar10-zerosnet-opt-110, "
               "c-cifar10-ie-resnet-18-pgd10 for papers E and C)")


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("demo", help="train four schemes on packaged MNIST and compare robustness (CPU, minutes)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=2, help="training epochs per model (default: 2)")
    p.add_argument("--n", type=int, default=500, help="test digits evaluated (default: 500)")
    p.add_argument("--out", type=Path, default=None, help="run folder (default: runs/demo-<time>)")
    p.add_argument("--train-subset", type=int, default=0,
                   help="train on the first N of the 5000 digits only (default: all; for quick checks)")
    p.add_argument("--seed", type=int, default=0)
    add_device_argument(p)
    p.set_defaults(func=run_demo)
    return p


def demo_config(model: str, epochs: int, seed: int, train_subset: int = 0):
    """The training configuration every column shares (only the preset differs)."""
    from stablenets.training.config import TrainConfig, apply_overrides

    return apply_overrides(TrainConfig(experiment="demo"), [
        "data.dataset=embedded-mnist", "data.augment=false", "data.batch_size=32", "data.eval_batch_size=500",
        f"model.name={model}", f"model.overrides.widths={WIDTHS}", "optim.lr=0.05", "optim.nesterov=true",
        "optim.weight_decay=5e-4", "schedule.kind=cosine", "schedule.warmup_epochs=0.2",
        f"run.epochs={epochs}", f"run.seed={seed}", "run.progress=false", f"data.train_subset={train_subset}"])


@torch.no_grad()
def _accuracy(model, x, y) -> float:
    return float((model(x).argmax(1) == y).float().mean())


def evaluate_demo(model, x: torch.Tensor, y: torch.Tensor, seed: int = 0) -> dict[str, float]:
    """Accuracies of ``model`` (eval mode, float32) on clean, noisy and attacked digits."""
    from stablenets.attacks import fgsm, pgd
    from stablenets.data.corruptions import corrupt, gaussian_noise

    model.eval()
    row = {"clean": _accuracy(model, x, y),
           f"gauss σ={GAUSSIAN_SIGMA}": _accuracy(model, gaussian_noise(x, GAUSSIAN_SIGMA, seed=seed), y),
           f"impulse s{IMPULSE_SEVERITY}": _accuracy(model, corrupt(x, "impulse_noise", IMPULSE_SEVERITY,
                                                                   seed=seed), y)}
    for eps in EPS:
        row[f"FGSM ε={eps}"] = _accuracy(model, fgsm(model, x, y, eps=eps), y)
    for eps in EPS:
        row[f"PGD-10 ε={eps}"] = _accuracy(model, pgd(model, x, y, eps=eps, alpha=eps / 4, steps=10,
                                                      keep_best=False, seed=seed), y)
    return row


def format_table(rows: dict[str, dict[str, float]], seconds: dict[str, float]) -> str:
    """A Markdown table: one row per scheme, accuracies in percent."""
    columns = list(next(iter(rows.values())))
    lines = ["| scheme | " + " | ".join(columns) + " | train s |",
             "|---|" + "---:|" * (len(columns) + 1)]
    for name, row in rows.items():
        cells = " | ".join(f"{100 * row[c]:.1f}" for c in columns)
        lines.append(f"| {name} | {cells} | {seconds[name]:.0f} |")
    return "\n".join(lines)


def run_demo(args: argparse.Namespace) -> int:
    from stablenets.atomic import write_text_atomic
    from stablenets.checkpoint import load_model
    from stablenets.data import load_test_points
    from stablenets.training import train

    if args.epochs < 1 or args.n < 1:
        raise ValueError(f"--epochs and --n must be at least 1, got {args.epochs} and {args.n}")
    device = resolve_device(args.device)
    out = args.out or Path("runs") / f"demo-{time.strftime('%Y%m%d-%H%M%S')}"
    x, y, _ = load_test_points("embedded-mnist", n=args.n)
    x, y = x.to(device), y.to(device)
    rows, seconds, runs, notes = {}, {}, {}, []
    started = time.perf_counter()
    print(f"stablenets demo: 4 schemes on the ResNet-8 backbone (widths {WIDTHS}), packaged MNIST "
          f"({args.train_subset or 5000} train / {args.n} test digits), {args.epochs} epochs each, "
          f"device {device}", flush=True)
    for name, preset in MODELS.items():
        t0 = time.perf_counter()
        summary = train(demo_config(preset, args.epochs, args.seed, args.train_subset), out / preset, device=device,
                        log=lambda *_: None)
        seconds[name] = time.perf_counter() - t0
        model, _ = load_model(out / preset, device)
        rows[name] = evaluate_demo(model, x, y, args.seed)
        runs[name] = summary["run_dir"]
        train_acc = summary["final"]["train_acc"]
        if rows[name]["clean"] < 0.5 * train_acc:
            notes.append(f"{name}: {100 * train_acc:.1f}% on its training batches (train mode) but "
                         f"{100 * rows[name]['clean']:.1f}% clean in eval mode; the eval-mode batch-norm "
                         f"statistics do not fit this model (reported as it is).")
        print(f"  {name:<13} trained in {seconds[name]:5.1f}s  clean {100 * rows[name]['clean']:.1f}%", flush=True)
    table = format_table(rows, seconds)
    note = (f"Accuracy (%) on the first {args.n} packaged MNIST test digits; ε in pixel units [0, 1]; "
            f"{args.epochs} epochs, seed {args.seed}, total {time.perf_counter() - started:.0f}s on {device}.")
    note = "\n".join([note, *notes])
    text = f"# stablenets demo\n\n{note}\n\n{table}\n\nSame comparison at paper scale:\n\n    {PAPER_SCALE}\n"
    write_text_atomic(out / "demo.md", text)
    record = {"accuracy": rows, "train_seconds": seconds, "runs": runs, "epochs": args.epochs, "n": args.n,
              "seed": args.seed, "notes": notes, "device": str(device)}
    write_text_atomic(out / "demo.json", json.dumps(record, indent=2) + "\n")
    print(f"\n{table}\n\n{note}\nsaved: {out / 'demo.md'}, {out / 'demo.json'}\n"
          f"same comparison at paper scale: {PAPER_SCALE}")
    sys.stdout.flush()
    return 0
