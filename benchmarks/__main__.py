"""Every benchmark, one entry point: ``python -m benchmarks`` (with ``src/`` on the path or the package installed).

    python -m benchmarks [--device cpu|cuda] [--sections NAME ... | all] [--data ROOT [--no-verify]]
                         [--out docs/benchmarks] [--quick] [--threads N] [--compile-mode MODE]
                         [--note TEXT] [--commit REV]

Sections (``--sections``; each module's docstring says what it measures and how):

  schemes         scheme costs as ratios to the plain ResNet on the same backbone (training step,
                  inference, memory; targets In-ResNet ≤ 1.05×, ZeroSNet ≤ 1.10×, IE-skip K = 1 ≤ 2.5×)
                  and the continuous blocks with their NFE            (bench_schemes.py)
  compiled        the explicit schemes' ratios with the training step through
                  torch.compile(mode=--compile-mode)                 (bench_schemes.py)
  scaling         training step against depth and batch size, with line fits (bench_schemes.py)
  attacks         PGD, CW-L2 and SPSA against torchattacks, if installed (bench_attack_speed.py)
  data            DeviceBatcher and StreamingBatcher against a torch DataLoader (bench_datapath.py)
  profile         kernels, GPU busy and wall time of one training step (profile_step.py)
  cifar-train     resnet-20 training throughput on real CIFAR-10 per batch size (cifar.py; --data)
  cifar-compiled  the same through torch.compile(mode=--compile-mode)  (cifar.py; --data)
  cifar-pgd       PGD-20 over the CIFAR-10 test set: fp32, TF32, compiled  (cifar.py; --data)
  cifar-adv       one epoch of PGD-10 adversarial training               (cifar.py; --data)
  library         stablenets.training.train itself: eager, compiled, PGD-10  (cifar.py; --data)

Default: schemes, scaling, attacks and data on the CPU; on CUDA also compiled and profile, and
with ``--data`` every CIFAR-10 section. All cases of a section are timed interleaved in one run;
medians are reported. On the CPU torch runs on ``--threads`` threads (default 1: steadier on a
shared machine, and the clock is then the thread's CPU time).

Output: ``<out>/<cpu|cuda>.json`` and ``.md`` (``quick-<...>`` with ``--quick``). The run replaces
the sections it measures, each as soon as it is done, and keeps the others; every section is
stamped with commit, date, hardware, torch/CUDA/cuDNN versions and the command (benchmarks/report.py).
On a GPU machine: put CIFAR-10 (``cifar-10-batches-py/``) somewhere, optionally
``pip install --no-deps torchattacks`` for the attack comparison, and run
``python -m benchmarks --device cuda --data ROOT`` (``--commit REV`` where the tree has no git).
"""
from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import time
import traceback
from pathlib import Path
from typing import Callable

import torch

from benchmarks import bench_attack_speed, bench_datapath, bench_schemes, cifar, profile_step, report

SIZES = {  # per device kind: batch sizes and repetitions that fit the time budget
    "cpu": dict(batch=32, depths=(20, 56), repeats=5, cont_batch=8, scal_batch=16, scal_batches=(8, 16, 32, 64),
                scal_repeats=3, attack_batch=32, attack_repeats=5, data_n=20000, data_batch=256, profile_batch=32,
                cifar_batches=(128,), cifar_epochs=1, pgd_batch=500, library_epochs=1, cifar_subset=0),
    "cuda": dict(batch=512, depths=(20, 56), repeats=20, cont_batch=128, scal_batch=256,
                 scal_batches=(64, 128, 256, 512, 1024), scal_repeats=10, attack_batch=1024, attack_repeats=5,
                 data_n=50000, data_batch=512, profile_batch=512, cifar_batches=(512, 1024), cifar_epochs=2,
                 pgd_batch=2500, library_epochs=3, cifar_subset=0),
}
QUICK = dict(batch=8, depths=(20,), repeats=2, cont_batch=2, scal_batch=4, scal_batches=(4, 8), scal_repeats=2,
             attack_batch=4, attack_repeats=1, data_n=2000, data_batch=128, profile_batch=4, cifar_batches=(32,),
             cifar_epochs=1, pgd_batch=64, library_epochs=1, cifar_subset=256)


@dataclasses.dataclass
class Run:
    """What a section needs: the device, the sizes and the options of this run."""
    device: torch.device
    sizes: dict
    amp: bool
    compile_mode: str
    data_root: str | None = None
    verify: bool = True
    _cifar: tuple | None = None

    def cifar(self) -> tuple:
        """CIFAR-10 (train x, y, test x, y), loaded once; the first ``cifar_subset`` images when set."""
        if self._cifar is None:
            xtr, ytr, xte, yte = cifar.load_cifar(self.data_root, self.verify)
            n = self.sizes["cifar_subset"]
            self._cifar = (xtr[:n], ytr[:n], xte[:n], yte[:n]) if n else (xtr, ytr, xte, yte)
        return self._cifar


@dataclasses.dataclass(frozen=True)
class Section:
    title: str
    run: Callable[[Run], dict]
    markdown: Callable[[dict], str]
    needs_data: bool = False


def _schemes(r: Run) -> dict:
    s = r.sizes
    return bench_schemes.scheme_costs(s["depths"], s["batch"], r.device, s["repeats"], r.amp, r.amp, s["cont_batch"])


def _compiled(r: Run) -> dict:
    s = r.sizes
    return bench_schemes.scheme_costs(s["depths"][:1], s["batch"], r.device, s["repeats"], r.amp, r.amp,
                                      schemes=bench_schemes.COMPILABLE, compile_mode=r.compile_mode, continuous=False)


def _scaling(r: Run) -> dict:
    s = r.sizes
    return bench_schemes.scaling(batches=s["scal_batches"], batch=s["scal_batch"], device=r.device,
                                 repeats=s["scal_repeats"], amp=r.amp, channels_last=r.amp)


SECTIONS = {
    "schemes": Section("Schemes: training step, inference and memory against the ResNet on the same backbone",
                       _schemes, bench_schemes.markdown_costs),
    "compiled": Section("Schemes with the training step compiled", _compiled, bench_schemes.markdown_costs),
    "scaling": Section("Scaling with depth and batch size", _scaling, bench_schemes.markdown_scaling),
    "attacks": Section("Attacks against torchattacks", lambda r: bench_attack_speed.attack_speed(
        "resnet-20", r.sizes["attack_batch"], r.device, r.sizes["attack_repeats"]), bench_attack_speed.markdown),
    "data": Section("Data path", lambda r: bench_datapath.data_path(r.sizes["data_n"], r.sizes["data_batch"], r.device),
                    bench_datapath.markdown),
    "profile": Section("Profile of one training step", lambda r: profile_step.profile_all(
        batch=r.sizes["profile_batch"], device=r.device, amp=r.amp), profile_step.markdown),
    "cifar-train": Section("CIFAR-10 training throughput, eager", lambda r: cifar.throughput(
        r.cifar(), r.sizes["cifar_batches"], r.device, r.sizes["cifar_epochs"], amp=r.amp),
        cifar.markdown_throughput, needs_data=True),
    "cifar-compiled": Section("CIFAR-10 training throughput, compiled", lambda r: cifar.throughput(
        r.cifar(), r.sizes["cifar_batches"], r.device, r.sizes["cifar_epochs"], r.compile_mode, amp=r.amp),
        cifar.markdown_throughput, needs_data=True),
    "cifar-pgd": Section("PGD-20 over the CIFAR-10 test set", lambda r: cifar.pgd_section(
        r.cifar(), r.sizes["cifar_batches"][0], r.device, r.sizes["cifar_epochs"], r.sizes["pgd_batch"], amp=r.amp),
        cifar.markdown_pgd, needs_data=True),
    "cifar-adv": Section("PGD-10 adversarial training, one epoch", lambda r: cifar.adv_epoch(
        r.cifar(), r.sizes["cifar_batches"][0], r.device, amp=r.amp), cifar.markdown_adv, needs_data=True),
    "library": Section("stablenets.training.train end to end", lambda r: cifar.library(
        r.data_root, r.sizes["cifar_batches"][0], r.sizes["library_epochs"], r.device, r.compile_mode, r.verify,
        r.sizes["cifar_subset"]), cifar.markdown_library, needs_data=True),
}
DEFAULT = {"cpu": ("schemes", "scaling", "attacks", "data"),
           "cuda": ("schemes", "compiled", "scaling", "attacks", "data", "profile")}


def render(rep: dict) -> str:
    """The Markdown of a report (every section, in the order of ``SECTIONS``)."""
    return report.render(rep, {k: s.markdown for k, s in SECTIONS.items()}, {k: s.title for k, s in SECTIONS.items()},
                         list(SECTIONS))


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cpu or cuda[:N]")
    p.add_argument("--sections", nargs="+", metavar="NAME", choices=[*SECTIONS, "all"],
                   help="sections to run (default: see above); 'all' for every one")
    p.add_argument("--data", help="CIFAR-10 root (holding cifar-10-batches-py/) for the cifar-* and library sections")
    p.add_argument("--no-verify", action="store_true", help="skip the md5 checks of the CIFAR-10 files")
    p.add_argument("--out", type=Path, default=report.REPO / "docs" / "benchmarks")
    p.add_argument("--stem", help="report file name (default: <cpu|cuda>, quick-<...> with --quick)")
    p.add_argument("--quick", action="store_true", help="tiny sizes: checks that everything runs (~1 min on a CPU)")
    p.add_argument("--threads", type=int, default=1, help="torch threads on the CPU (default 1)")
    p.add_argument("--amp", action="store_true", help="bf16 autocast and channels_last (always on on CUDA)")
    p.add_argument("--compile-mode", default="reduce-overhead",
                   help="torch.compile mode of the compiled sections (default reduce-overhead: CUDA graphs); "
                        "IE-skip's double backward cannot be compiled, so it is left out")
    p.add_argument("--note", help="free text written into every stamp (e.g. 'shared machine')")
    p.add_argument("--commit", help="commit to stamp where the working tree has no git (default: git's HEAD)")
    a = p.parse_args(argv)
    try:
        a.device = torch.device(a.device)
    except RuntimeError as err:
        p.error(f"--device: {err}")
    if a.device.type not in SIZES:
        p.error(f"--device {a.device}: only cpu and cuda are supported")
    if a.device.type == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: no CUDA device is available")
    if a.threads < 1:
        p.error("--threads must be at least 1")
    if a.sections is None:
        a.sections = list(DEFAULT[a.device.type]) + (
            [k for k, s in SECTIONS.items() if s.needs_data] if a.data and a.device.type == "cuda" else [])
    elif "all" in a.sections:
        a.sections = list(SECTIONS)
    a.sections = [k for k in SECTIONS if k in a.sections]  # the canonical order, each once
    need = [k for k in a.sections if SECTIONS[k].needs_data]
    if need and not a.data:
        p.error(f"sections {', '.join(need)} need --data ROOT (CIFAR-10)")
    if a.data and not Path(a.data).is_dir():
        p.error(f"--data {a.data}: no such folder")
    return a


def main(argv=None) -> int:
    a = parse(argv)
    device = a.device
    if device.type == "cpu":
        torch.set_num_threads(a.threads)
    else:
        torch.backends.cudnn.benchmark = True
    amp = a.amp or device.type == "cuda"
    sizes = QUICK if a.quick else SIZES[device.type]
    run = Run(device, sizes, amp, a.compile_mode, a.data, not a.no_verify)
    stem = a.stem or ("quick-" if a.quick else "") + device.type
    path = a.out / f"{stem}.json"
    rep = report.load(path)
    rep["device"] = device.type
    command = "python -m benchmarks " + shlex.join(sys.argv[1:] if argv is None else argv)
    failed = []
    for key in a.sections:
        t = time.perf_counter()
        try:
            results = SECTIONS[key].run(run)
        except Exception:  # a failed section keeps its earlier results and must not lose the others
            failed.append(key)
            print(f"[benchmarks] {key} FAILED:\n{traceback.format_exc()}", file=sys.stderr, flush=True)
            continue
        settings = {"sizes": sizes, "amp_bf16": amp, "channels_last": amp, "quick": a.quick}
        if key in ("compiled", "cifar-compiled", "library"):
            settings["compile_mode"] = a.compile_mode
        rep["sections"][key] = {"stamp": report.stamp(device, command=command, commit=a.commit, note=a.note),
                                "settings": settings, "results": results}
        report.write(a.out, stem, rep, render(rep))  # partial results survive a killed run
        print(f"[benchmarks] {key} done in {time.perf_counter() - t:.0f}s\n\n{SECTIONS[key].markdown(results)}\n",
              flush=True)
    print(f"wrote {path} and {path.with_suffix('.md')}" if len(failed) < len(a.sections) else "nothing written")
    if failed:
        print(f"[benchmarks] failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
