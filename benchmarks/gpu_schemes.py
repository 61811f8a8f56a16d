"""Scheme costs on a GPU, eager and under CUDA graphs, with a profile of one step.

    python -m benchmarks.gpu_schemes [--out DIR] [--data CIFAR_ROOT]

1. ``profile_step``: kernels, GPU busy time and wall time per training step (batch 512).
2. The scheme ratios of ``bench_schemes`` (eager, bf16, channels_last, batch 512).
3. The same for the explicit schemes with the training forward/backward compiled by
   ``torch.compile(mode="reduce-overhead")`` (CUDA graphs: no per-kernel host cost).
   IE-skip is left out: its inner ``autograd.grad(create_graph=True)`` is a double
   backward, which torch.compile does not capture.
4. Attacks against torchattacks (``bench_attack_speed``, batch 1024).
5. With ``--data``: resnet-20 training throughput on CIFAR-10 with the compiled step.
Writes ``gpu_schemes.json`` and ``.md``.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import stablenets
from benchmarks import bench_attack_speed, bench_schemes, profile_step
from benchmarks._common import environment, write_report

COMPILED = ("resnet", "in-resnet", "zerosnet-opt", "lm-resnet", "resnet-h0.1")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("docs/benchmarks"))
    p.add_argument("--data")
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--sections", nargs="+", default=["profile", "eager", "reduce_overhead", "attacks"],
                   choices=["profile", "eager", "reduce_overhead", "attacks"])
    p.add_argument("--stem", default="gpu_schemes", help="report file name (without extension)")
    a = p.parse_args()
    device = torch.device("cuda")
    torch.backends.cudnn.benchmark = True
    res, md = {"environment": environment(device)}, []

    def save():
        write_report(a.out, a.stem, res, "\n\n".join(md))

    def section(key, fn, fmt):
        t = time.perf_counter()
        try:
            res[key] = fn()
            md.append(fmt(res[key]))
        except Exception as err:  # keep the other sections
            res[key] = {"error": f"{type(err).__name__}: {err}"}
            md.append(f"{key}: {res[key]['error']}")
        print(f"[gpu_schemes] {key}: {time.perf_counter() - t:.0f}s", flush=True)
        save()

    todo = set(a.sections)
    if "profile" in todo:
        section("profile", lambda: profile_step.profile_all(batch=a.batch, device=device), profile_step.markdown)
    if "eager" in todo:
        section("eager", lambda: bench_schemes.scheme_costs((20, 56), a.batch, device, 20, True, True,
                                                            continuous=False),
                lambda r: bench_schemes.markdown(r, None))
    if "reduce_overhead" in todo:
        section("reduce_overhead", lambda: bench_schemes.scheme_costs((20,), a.batch, device, 20, True, True,
                                                                      schemes=COMPILED, compile_mode="reduce-overhead",
                                                                      continuous=False),
                lambda r: bench_schemes.markdown(r, None))
    if "attacks" in todo:
        section("attacks", lambda: bench_attack_speed.attack_speed("resnet-20", 1024, device, 5),
                bench_attack_speed.markdown)
    if a.data:
        from benchmarks import gpu

        meta = Path(a.data) / "cifar-10-batches-py" / "batches.meta"  # written last by the converter
        for _ in range(240):
            if meta.exists():
                break
            time.sleep(0.5)
        xtr, ytr, _, _ = gpu.load_cifar(a.data)
        def compiled_epochs():
            return {str(b): gpu.train_epochs(stablenets.create_model("resnet-20"), xtr, ytr, b, device,
                                             compile_mode="reduce-overhead", epochs=2) for b in (512, 1024)}

        def fmt(r):
            lines = [f"- batch {b}: {v['images_per_s']:,.0f} images/s (best epoch; median "
                     f"{v['images_per_s_median']:,.0f}), warm-up {v['warmup_s']:.0f} s" for b, v in r.items()]
            return "### resnet-20 on CIFAR-10, step compiled with mode='reduce-overhead'\n\n" + "\n".join(lines)

        section("cifar_reduce_overhead", compiled_epochs, fmt)
    print("\n\n".join(md))


if __name__ == "__main__":
    main()
