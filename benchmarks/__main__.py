"""Run every benchmark on one device and write JSON + Markdown into docs/benchmarks/.

    python -m benchmarks [--device cpu|cuda] [--out docs/benchmarks] [--quick] [--data ROOT]
    bash benchmarks/run ...            (the same)

Sections (each module's docstring says what it measures and how): scheme costs as ratios
to the plain ResNet on the same backbone (training step, inference, memory; targets
In-ResNet ≤ 1.05×, ZeroSNet ≤ 1.10×, IE-skip K = 1 ≤ 2.5×) and the continuous blocks with
their NFE; scaling with depth and batch size; attacks against torchattacks; the data path
against a torch DataLoader; on CUDA with ``--data``, the CIFAR-10 GPU path (benchmarks/gpu.py).
All cases of a section are timed interleaved in one run; medians are reported. On the CPU
torch runs on ``--threads`` threads (default 1: steadier on a shared machine).
Writes ``<out>/<cpu|cuda>.json`` and ``.md``.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from benchmarks import bench_attack_speed, bench_datapath, bench_schemes
from benchmarks._common import environment, write_report

SIZES = {  # per device kind: batch sizes and repetitions that fit the time budget
    "cpu": dict(batch=32, depths=(20, 56), repeats=5, cont_batch=8, scal_batch=16, scal_batches=(8, 16, 32, 64),
                scal_repeats=3, attack_batch=32, attack_repeats=5, data_n=20000, data_batch=256),
    "cuda": dict(batch=512, depths=(20, 56), repeats=20, cont_batch=128, scal_batch=256,
                 scal_batches=(64, 128, 256, 512, 1024), scal_repeats=10, attack_batch=1024, attack_repeats=5,
                 data_n=50000, data_batch=512),
}
QUICK = dict(batch=8, depths=(20,), repeats=2, cont_batch=2, scal_batch=4, scal_batches=(4, 8), scal_repeats=2,
             attack_batch=4, attack_repeats=1, data_n=2000, data_batch=128)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "docs" / "benchmarks")
    p.add_argument("--quick", action="store_true", help="tiny sizes: checks that everything runs (~1 min)")
    p.add_argument("--threads", type=int, default=1, help="torch threads on the CPU")
    p.add_argument("--amp", action="store_true", help="bf16 autocast and channels_last (default on CUDA)")
    p.add_argument("--data", help="CIFAR-10 root for the GPU path (CUDA only)")
    p.add_argument("--skip", nargs="*", default=[], choices=["schemes", "scaling", "attacks", "data"])
    p.add_argument("--compile", metavar="MODE", help="time the schemes' training step through torch.compile(mode=MODE) "
                   "(explicit schemes only; IE-skip's double backward cannot be compiled)")
    p.add_argument("--stem", help="report file name (default: <cpu|cuda>, quick-<...> with --quick)")
    a = p.parse_args(argv)
    device = torch.device(a.device)
    if device.type == "cpu":
        torch.set_num_threads(a.threads)
    amp = a.amp or device.type == "cuda"
    s = QUICK if a.quick else SIZES["cuda" if device.type == "cuda" else "cpu"]
    results = {"environment": environment(device), "amp_bf16": amp, "channels_last": amp, "sizes": s}
    md = [f"# Benchmarks on {results['environment']['device_name']}",
          f"torch {torch.__version__}, git {results['environment']['git']}, {results['environment']['date']}; "
          f"bf16 autocast + channels_last: {'on' if amp else 'off'}. Command: `python -m benchmarks --device "
          f"{a.device}{' --quick' if a.quick else ''}{' --compile ' + a.compile if a.compile else ''}`. Ratios are to the plain ResNet timed in the same run "
          "(interleaved, medians)."]

    stem = a.stem or ("quick-" if a.quick else "") + ("cuda" if device.type == "cuda" else "cpu")

    def section(key, fn):
        t = time.perf_counter()
        results[key] = fn()
        print(f"[benchmarks] {key} done in {time.perf_counter() - t:.0f}s", flush=True)
        write_report(a.out, stem, results, "\n\n".join(md))  # partial results survive a killed run

    if "schemes" not in a.skip:
        schemes = bench_schemes.COMPILABLE if a.compile else bench_schemes.SCHEMES
        section("schemes", lambda: bench_schemes.scheme_costs(s["depths"], s["batch"], device, s["repeats"], amp, amp,
                                                              s["cont_batch"], schemes, a.compile,
                                                              continuous=not a.compile))
    if "scaling" not in a.skip:
        section("scaling", lambda: bench_schemes.scaling(batches=s["scal_batches"], batch=s["scal_batch"],
                                                         device=device, repeats=s["scal_repeats"], amp=amp,
                                                         channels_last=amp))
    md.append(bench_schemes.markdown(results.get("schemes", {}), results.get("scaling")))
    if "attacks" not in a.skip:
        section("attacks", lambda: bench_attack_speed.attack_speed("resnet-20", s["attack_batch"], device,
                                                                   s["attack_repeats"]))
        md.append(bench_attack_speed.markdown(results["attacks"]))
    if "data" not in a.skip:
        section("data", lambda: bench_datapath.data_path(s["data_n"], s["data_batch"], device))
        md.append(bench_datapath.markdown(results["data"]))
    if a.data and device.type == "cuda":
        from benchmarks import gpu

        section("gpu_cifar", lambda: gpu.run_all(a.data))
        md.append(gpu.markdown(results["gpu_cifar"]))
    text = "\n\n".join(md)
    js, mdp = write_report(a.out, stem, results, text)
    print(text)
    print(f"\nwrote {js} and {mdp}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
