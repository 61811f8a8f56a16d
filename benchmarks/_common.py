"""What every benchmark shares: interleaved timing, memory, training steps, and the report.

Timing: cases are timed *interleaved* — repetition r runs every case once, in an
order rotated by r, so drifts of the machine (clock boost, other processes, a
thermal limit) fall on every case alike — after ``warmup`` untimed calls of each.
On CUDA a case is timed with CUDA events around it (one synchronisation per timed
call, outside the case itself); on the CPU with ``time.perf_counter``. The median
over repetitions is reported, with the spread (max − min over median). On the CPU with one torch thread the clock
is the thread's CPU time (``time.thread_time``): the forward, the backward and the update
all run on the calling thread then, and time lost to other processes on a shared machine
is not counted; with more threads it is the wall clock.

Memory: on CUDA the peak allocated bytes of one call above what was allocated before
it (``torch.cuda.max_memory_allocated``); on every device the bytes the autograd graph
saves for the backward pass (distinct storages, via ``saved_tensors_hooks``), which is
what a training step's activation memory is made of and is exact on the CPU too.
"""
from __future__ import annotations

import contextlib
import statistics
import time
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], object], device: torch.device) -> float:
    """Seconds one call of ``fn`` takes on ``device`` (CUDA events there, a host clock elsewhere)."""
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3
    clock = cpu_clock()
    t = clock()
    fn()
    return clock() - t


def cpu_clock():
    """The CPU-side clock: this thread's CPU time when torch computes on one thread, else wall time."""
    return time.thread_time if torch.get_num_threads() == 1 else time.perf_counter


def interleaved(cases: dict[str, Callable[[], object]], device: torch.device, repeats: int,
                warmup: int = 1) -> dict[str, dict]:
    """Median seconds per call of each case, the cases timed round-robin (see the module docstring)."""
    for fn in cases.values():
        for _ in range(warmup):
            fn()
    sync(device)
    names = list(cases)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            times[name].append(time_call(cases[name], device))
    out = {}
    for name, ts in times.items():
        med = statistics.median(ts)
        out[name] = {"median_s": med, "spread": (max(ts) - min(ts)) / med if med > 0 else 0.0, "repeats": len(ts)}
    return out


def peak_memory(fn: Callable[[], object], device: torch.device) -> int | None:
    """Peak CUDA bytes allocated by one call above the bytes allocated before it (None off CUDA)."""
    if device.type != "cuda":
        return None
    sync(device)
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    fn()
    sync(device)
    return torch.cuda.max_memory_allocated(device) - base


@contextlib.contextmanager
def count_saved_bytes():
    """Count the bytes of the distinct storages autograd saves for backward inside the block."""
    seen: dict[tuple, int] = {}
    total = {"bytes": 0}

    def pack(t: torch.Tensor):
        key = (t.device.type, t.untyped_storage().data_ptr())
        if key not in seen:
            seen[key] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        yield total
    total["bytes"] = sum(seen.values())


def autocast(device: torch.device, amp: bool):
    """bf16 autocast on ``device`` when ``amp``, else a no-op context."""
    if not amp:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


class TrainStep:
    """One SGD step (momentum 0.9, weight decay 5e-4) on a fixed batch: forward, cross-entropy, backward, update."""

    def __init__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, amp: bool = False, forward=None):
        self.model, self.x, self.y, self.amp = model.train(), x, y, amp
        self.forward = model if forward is None else forward  # e.g. a torch.compile-d model
        self.opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

    def loss(self, forward=None) -> torch.Tensor:
        with autocast(self.x.device, self.amp):
            return F.cross_entropy((self.forward if forward is None else forward)(self.x), self.y)

    def __call__(self) -> None:
        loss = self.loss()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()

    def saved_bytes(self) -> int:
        with count_saved_bytes() as counted:
            loss = self.loss(self.model)  # eager: the model's activations, whatever runs the timed step
        loss.backward()
        self.opt.zero_grad(set_to_none=True)
        return counted["bytes"]


class Inference:
    """An eval-mode forward pass without gradients (``no_grad``: IE-skip enables grad inside)."""

    def __init__(self, model: nn.Module, x: torch.Tensor, amp: bool = False, forward=None):
        self.model, self.x, self.amp = model, x, amp
        self.forward = model if forward is None else forward

    def __call__(self) -> None:
        self.model.eval()
        with torch.no_grad(), autocast(self.x.device, self.amp):
            self.forward(self.x)
        self.model.train()


def random_batch(batch: int, device: torch.device, channels_last: bool = False, classes: int = 10, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, 3, 32, 32, generator=g).to(device)
    y = torch.randint(0, classes, (batch,), generator=g).to(device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, y


def prepare(model: nn.Module, device: torch.device, channels_last: bool = False) -> nn.Module:
    model = model.to(device)
    return model.to(memory_format=torch.channels_last) if channels_last else model


def markdown_table(header: list[str], rows: list[list]) -> str:
    def cell(v):
        if isinstance(v, float):
            return f"{v:,.3g}" if abs(v) < 100 else f"{v:,.0f}"
        return "—" if v is None else str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
