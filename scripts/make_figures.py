"""Regenerate the README figures in docs/figures from real runs (a script, not part of the library):

    python scripts/make_figures.py --out docs/figures --data-root ../shared/data

1. ``euler_regions.png``, ``ivp.png`` — stability regions of explicit/implicit Euler and
   ẋ = −2.3x solved with several h (papers B, C, Fig. 1); pure mathematics.
2. ``zerosnet_region.png`` — ZeroSNet(λ)'s zero-stable region and spurious root moduli (paper E).
3. ``feature_flow.png`` — two-moons test points through the 10 blocks of "mlp-moons" (h = 1)
   and "mlp-moons-h0.1", both trained here with :func:`stablenets.training.train` (paper B Fig. 7).
4. ``landscape.png`` — loss surface and predicted classes along FGSM × random directions of
   "resnet-8" and "in-resnet-8" trained briefly on MNIST (the idx files under --data-root, else the
   embedded subset), on a Gaussian-noise-corrupted test digit (paper A Fig. 2).

Training runs go to ``--runs`` (default: a temporary folder). The numbers behind the figures
(accuracies, settings) go to ``figures.json`` beside them. Every PNG is kept small (< 150 KB).
"""
from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import torch

from stablenets.data import to_model_input
from stablenets.analysis import flow, landscape, stability
from stablenets.analysis._io import plot_dpi, save_json

DPI = 80


def _train(name: str, dataset: str, run_dir: Path, device, *, epochs: int, lr: float, root=None, subset: int = 0,
           batch_size: int = 128, optimizer: str = "adam"):
    from stablenets.checkpoint import load_model
    from stablenets.training import TrainConfig, train

    cfg = TrainConfig()
    cfg.model.name = name
    cfg.data.dataset, cfg.data.root, cfg.data.batch_size = dataset, root, batch_size
    cfg.data.train_subset, cfg.data.augment = subset, False
    cfg.optim.name, cfg.optim.lr, cfg.optim.weight_decay = optimizer, lr, 0.0
    cfg.schedule.kind, cfg.run.epochs, cfg.run.progress, cfg.run.seed = "constant", epochs, False, 0
    if not (run_dir / "model.safetensors").is_file():
        train(cfg, run_dir, device=device, log=lambda *a: None)
    model, meta = load_model(run_dir, device)
    return model, meta


def _accuracy(model, x, y, device, batch_size: int = 500) -> float:
    correct = 0
    with torch.no_grad():
        for xb, yb in zip(x.split(batch_size), y.split(batch_size)):
            correct += int((model(to_model_input(xb.to(device))).argmax(1).cpu() == yb).sum())
    return correct / len(y)


def _mnist_name(root) -> str:
    from stablenets.data import load

    try:
        load("mnist", root, split="test")
        return "mnist"
    except (FileNotFoundError, ValueError) as err:
        print(f"MNIST not readable under {root} ({str(err).splitlines()[0]}); using the embedded subset")
        return "embedded-mnist"


def make_figures(out: str | Path, data_root=None, runs: str | Path | None = None, device="cpu",
                 mnist_epochs: int = 2, mnist_subset: int = 12000, index: int = 0) -> dict:
    """Write the figures into ``out``; returns the facts saved in figures.json."""
    from stablenets.data import load, load_test_points

    out = Path(out)
    runs = Path(runs or tempfile.mkdtemp(prefix="stablenets-figures-"))
    facts: dict = {}

    data = stability.stability_analysis(hs=(0.1, 0.5, 0.8, 0.9, 1.0))
    stability.plot_euler_regions(data["regions"], out / "euler_regions.png")
    stability.plot_ivp(data["ivp"], out / "ivp.png")
    stability.plot_zerosnet_region(data["zerosnet"], out / "zerosnet_region.png")

    flows = {}
    x, y = load("moons", split="test", n=300)
    for name in ("mlp-moons", "mlp-moons-h0.1"):
        model, _ = _train(name, "moons", runs / name, device, epochs=30, lr=0.01, batch_size=100)
        flows[name] = flow.feature_flow(model, x.to(device), y.to(device))
        facts[name] = {"test_points": len(y), "test_acc": flows[name]["accuracy"],
                       "mean_step_length": flows[name]["step_lengths"]}
    flow.plot_feature_flow(flows, out / "feature_flow.png", columns=[0, 2, 4, 6, 8, 10])

    dataset = _mnist_name(data_root)
    xt, yt = load(dataset, data_root if dataset == "mnist" else None, split="test")
    xi, yi, _ = load_test_points(dataset, data_root if dataset == "mnist" else None, n=1, start=index)
    xi, yi = xi.to(device), yi.to(device)
    models = {}
    for name in ("resnet-8", "in-resnet-8"):
        models[name], meta = _train(name, dataset, runs / f"{name}-{dataset}", device, epochs=mnist_epochs, lr=0.1,
                                    root=data_root, subset=mnist_subset, optimizer="sgd")
        acc = _accuracy(models[name], xt[:2000], yt[:2000], device)
        facts[f"{name}-{dataset}"] = {"epochs": mnist_epochs, "train_subset": mnist_subset, "test_points": 2000,
                                      "test_acc": acc}
    land = landscape.compare_landscapes(models, xi, yi, "gaussian_noise", 5, radius=32.0, n=25)
    landscape.plot_landscapes(land, out / "landscape.png")
    facts["landscape"] = {"dataset": dataset, "test_index": index, "input": land["input"],
                          **{k: {"input_loss": m["input_loss"], "input_pred": m["input_pred"], "label": m["label"]}
                             for k, m in land["models"].items()}}
    save_json(facts, out / "figures.json")
    return facts


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="docs/figures")
    p.add_argument("--data-root", default=os.environ.get("STABLENETS_DATA"), help="folder holding MNIST/raw")
    p.add_argument("--runs", help="where the training runs go (default: a temporary folder)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--mnist-epochs", type=int, default=2)
    p.add_argument("--index", type=int, default=0, help="MNIST test digit of the landscape figure")
    args = p.parse_args(argv)
    from stablenets.device import resolve_device

    torch.manual_seed(0)
    with plot_dpi(DPI):
        facts = make_figures(args.out, args.data_root, args.runs, resolve_device(args.device), args.mnist_epochs,
                             index=args.index)
    for path in sorted(Path(args.out).glob("*.png")):
        print(f"{path}  {path.stat().st_size // 1024} KB")
    print(f"numbers: {Path(args.out) / 'figures.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
