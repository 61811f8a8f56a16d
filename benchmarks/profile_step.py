"""Section ``profile``: where a training step's time goes: kernels launched, GPU busy time, host time.

For each model, one bf16/channels_last (on CUDA) training step as timed by the scheme
benchmark is profiled with ``torch.profiler`` over a few steps after a warm-up: the number
of device kernels per step, the summed kernel time per step (GPU busy), and the step's
wall time from CUDA events. When busy ≪ wall, the step is bound by the host (Python,
dispatch, kernel launches), and a scheme's cost is the count of the kernels it adds, not
their arithmetic; CUDA graphs (``torch.compile(mode="reduce-overhead")``) remove that.
The top operators by host time are listed for the first model and the others' extra ops.
"""
from __future__ import annotations

from collections import Counter

import torch
from torch.profiler import ProfilerActivity, profile

from benchmarks._common import TrainStep, markdown_table, prepare, random_batch, time_call
from benchmarks.bench_schemes import build

MODELS = ("resnet-20", "in-resnet-20", "zerosnet-opt-20", "ie-resnet-1-20", "lm-resnet-20")


def profile_step(name: str, batch: int, device: torch.device, steps: int = 3, amp: bool = True) -> dict:
    cl = amp and device.type == "cuda"
    torch.manual_seed(0)
    x, y = random_batch(batch, device, cl)
    step = TrainStep(prepare(build(name), device, cl), x, y, amp)
    for _ in range(3):
        step()
    wall = sorted(time_call(step, device) for _ in range(5))[2]
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=acts) as prof:
        for _ in range(steps):
            step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    kernels, busy_us, ops = 0, 0.0, Counter()
    for ev in prof.events():
        if ev.device_type == torch.autograd.DeviceType.CUDA:
            kernels += 1
            busy_us += ev.device_time_total if hasattr(ev, "device_time_total") else ev.cuda_time_total
        elif ev.name.startswith("aten::"):
            ops[ev.name] += 1
    top = sorted(((a.key, a.count / steps, a.self_cpu_time_total / steps / 1e3) for a in prof.key_averages()
                  if a.key.startswith("aten::")), key=lambda t: -t[2])[:12]
    return {"model": name, "batch": batch, "wall_ms": wall * 1e3, "kernels_per_step": kernels / steps,
            "gpu_busy_ms": busy_us / steps / 1e3, "aten_ops_per_step": sum(ops.values()) / steps,
            "ops": {k: v / steps for k, v in ops.items()}, "top_host_ops": top}


def profile_all(models=MODELS, batch=512, device=torch.device("cuda"), amp=True) -> dict:
    return {m: profile_step(m, batch, device, amp=amp) for m in models}


def markdown(res: dict) -> str:
    rows = [[r["model"], f"{r['wall_ms']:.2f}", f"{r['gpu_busy_ms']:.2f}", f"{r['kernels_per_step']:.0f}",
             f"{r['aten_ops_per_step']:.0f}"] for r in res.values()]
    parts = ["One training step, profiled (batch %d)\n\n" % next(iter(res.values()))["batch"] + markdown_table(
        ["model", "wall ms", "GPU busy ms", "kernels/step", "aten ops/step"], rows)]
    base = next(iter(res.values()))
    parts.append(f"Top host-time operators of {base['model']} (ms per step): " + ", ".join(
        f"{k} ×{c:.0f} {t:.2f}" for k, c, t in base["top_host_ops"]))
    for r in list(res.values())[1:]:
        extra = {k: v - base["ops"].get(k, 0) for k, v in r["ops"].items() if v - base["ops"].get(k, 0) >= 1}
        parts.append(f"{r['model']}: extra aten ops per step vs {base['model']}: " + ", ".join(
            f"{k} +{v:.0f}" for k, v in sorted(extra.items(), key=lambda kv: -kv[1])[:10]))
    return "\n\n".join(parts)
