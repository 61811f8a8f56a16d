"""Paper D's masking claim at CPU scale: one SOBlock-style network, dopri5 (tol 0.1) against euler.

Paper D (Huang et al., §6.1, D-table2): an SOBlock integrated by DOPRI5 at tol 0.1 keeps 71 %
"robust" accuracy under PGD-20 where the same network with Euler keeps 0 %, and CW-L∞ and SPSA
break it: adaptive step sizes mask the gradient. Here, small enough for a shared 2-core CPU: the
digits average-pooled to 14 × 14, then a skew ODE block as the first layer (1 → 8 channels,
paper D's field, γ = 0, dopri5 at rtol = atol = 0.1 or euler with step 0.25), then a small conv
head; trained naturally on real MNIST (the first {train} training digits, 1 epoch, Adam), evaluated
with suite D's L∞ attacks at ε = {eps:g} on the first {n} test digits (PGD-20 as published, our PGD,
CW-L∞ cut to 30 iterations, SPSA to 10 iterations × 16 samples, no PGD-1000, L2 or AutoAttack),
with the masking diagnostics and the adaptive attacks (solver swap) on.

    python docs/results/d_solver_masking.py --data-root ../shared/data --out docs/results

Writes ``D-solver-masking.md`` (the comparison, hardware and time) and the two evaluation reports.
"""
from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch
from torch import nn

from stablenets.data import load
from stablenets.evaluation import evaluate_robustness, write_report
from stablenets.schemes.continuous import SkewODEBlock


def model(solver: str) -> nn.Module:
    torch.manual_seed(0)

    class Normalise(nn.Module):
        def forward(self, x):
            return (x - 0.1307) / 0.3081

    settings = {"solver": solver, "rtol": 0.1, "atol": 0.1, "step_size": 0.25}
    return nn.Sequential(Normalise(), nn.AvgPool2d(2), SkewODEBlock(1, 8, stride=1, settings=settings),
                         nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 7 * 7, 10))


def train(net: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int = 1, batch: int = 50) -> float:
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    g = torch.Generator().manual_seed(0)
    started = time.perf_counter()
    net.train()
    for _ in range(epochs):
        order = torch.randperm(x.shape[0], generator=g)
        for i in range(0, x.shape[0], batch):
            j = order[i:i + batch]
            opt.zero_grad()
            nn.functional.cross_entropy(net(x[j]), y[j]).backward()
            opt.step()
    net.eval()
    return time.perf_counter() - started


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data-root", type=Path, required=True)
    p.add_argument("--out", type=Path, default=Path("docs/results"))
    p.add_argument("--train", type=int, default=1000)
    p.add_argument("--n", type=int, default=30)
    p.add_argument("--eps", type=float, default=0.1)
    args = p.parse_args()
    begun = time.perf_counter()
    xtr, ytr = load("mnist", args.data_root, split="train")
    xte, yte = load("mnist", args.data_root, split="test")
    xtr, ytr = xtr[:args.train].float() / 255, ytr[:args.train].long()
    xte, yte = xte[:args.n].float() / 255, yte[:args.n].long()
    overrides = {"eps.linf": [args.eps], "diagnostics.n": args.n, "diagnostics.strong_steps": 40,
                 "diagnostics.strong_restarts": 1, "diagnostics.large_eps": [1.0],
                 "diagnostics.spsa": {"steps": 10, "samples": 16, "lr": 0.01}, "adaptive.steps": 20,
                 "adaptive.restarts": 1, "attacks.pgd_ours.restarts": 1, "attacks.pgd_margin_ours.restarts": 1,
                 "attacks.cw_linf.steps": 30, "attacks.spsa.steps": 10, "attacks.spsa.samples": 16,
                 **{f"attacks.{a}.eps": [] for a in ("pgd1000", "pgd20_l2", "pgd_l2_ours", "autoattack")}}
    rows = {}
    for solver in ("dopri5", "euler"):
        net = model(solver)
        seconds_train = train(net, xtr, ytr)
        started = time.perf_counter()
        r = evaluate_robustness(net, xte, yte, "D", overrides, batch_size=args.n, progress=False)
        r["seconds_train"] = seconds_train
        write_report(r, args.out, stem=f"D-solver-masking-{solver}")
        rows[solver] = (r, seconds_train, time.perf_counter() - started)
    key = f"{args.eps:.6g}"
    lines = ["# Paper D's solver masking at CPU scale (SOBlock-style network on real MNIST)", "",
             __doc__.split("\n\n")[1].replace("\n", " ").format(train=args.train, n=args.n, eps=args.eps), "",
             f"Hardware: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
             f"torch {torch.__version__}; a shared 2-core machine (times include other jobs).", "",
             "| solver | clean | PGD-20 (D §5.1) | CW-L∞ | SPSA | our PGD | adaptive | worst case | flags | "
             "batch composition | train s | eval s |", "|" + "---|" * 12]
    for solver, (r, ts, te) in rows.items():
        a = r["attacks"]
        acc = lambda name: f"{100 * a[name]['accuracy'][key]:.0f}" if name in a else "—"
        adaptive = ", ".join(f"{n[len('adaptive_'):]} {100 * a[n]['accuracy'][key]:.0f}" for n in a
                             if n.startswith("adaptive_")) or "none run"
        lines.append(f"| {solver} | {100 * r['clean']:.0f} | {acc('pgd20')} | {acc('cw_linf')} | "
                     f"{acc('spsa')} | {acc('pgd_ours')} | {adaptive} | "
                     f"{100 * r['worst_case']['linf'][key]['accuracy']:.0f} | "
                     f"{', '.join(r['flags_raised']) or 'none'} | "
                     f"{r['preflight']['values']['batch_composition']:.2g} | {ts:.0f} | {te:.0f} |")
    lines += ["", f"Accuracies in %, ε = {args.eps:g} (L∞), n = {args.n} test digits (one digit = "
              f"{100 / args.n:.1f} points); the flags' p-values and the adaptive attacks' details are in "
              "D-solver-masking-<solver>.md beside this file.", ""]
    lines += [f"Total {time.perf_counter() - begun:.0f} s.", ""]
    (args.out / "D-solver-masking.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
