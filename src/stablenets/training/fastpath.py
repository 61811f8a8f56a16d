"""One training step, run eagerly or replayed as a whole-step CUDA graph.

A small CIFAR ResNet's eager training step on a GPU is launch-bound: a few hundred kernels of a
few microseconds each, the GPU idle between them (docs/benchmarks). :class:`StepRunner` removes the
launches without changing the arithmetic: after ``warmup`` ordinary (eager) steps it captures the
whole step — zeroing the gradients, the forward and backward pass, the optimiser's update — as
one ``torch.cuda.CUDAGraph`` per (learning rate, batch shape), and replays it. Replaying a graph
executes exactly the kernels the eager step launches, on the same tensors, so a graphed run
trains the same thing as an eager one; only the host's work disappears.

The graph needs what does not change between replays: the batch is copied into static input
tensors, the gradients live in the same ``.grad`` tensors every step (zeroed in place, never set
to None), and the learning rate is baked into the optimiser's kernels — hence one graph per
learning rate. Schedules whose rate changes every step (cosine, warm-up) run eagerly; the
trainer decides (:func:`graphable_schedule`). All graphs of a runner share one memory pool, and
the batch shapes of an epoch are two at most (full batches and the last one), so a multistep
schedule with three milestones holds eight graphs.

The step function returns device tensors (a loss and a count of correct predictions, scalars
or one per packed run); nothing in a step reads a value back to the host.
"""
from __future__ import annotations

from typing import Callable

import torch

__all__ = ["StepRunner", "graphable_schedule", "fused_available", "is_compile_error"]


def is_compile_error(err: BaseException) -> bool:
    """Whether ``err`` came from torch.compile (dynamo or a backend such as inductor), not from the model."""
    from torch._dynamo.exc import TorchDynamoException

    return isinstance(err, TorchDynamoException) or type(err).__module__.startswith(("torch._dynamo", "torch._inductor"))

LossFn = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


def graphable_schedule(schedule) -> bool:
    """Whether the learning rate is constant within each epoch (multistep or constant, no warm-up)."""
    return schedule.kind in ("multistep", "constant") and not schedule.warmup_epochs > 0


def fused_available(optimizer_name: str, device: torch.device) -> bool:
    """Whether torch has a fused kernel for this optimiser on this device (SGD and Adam on CUDA)."""
    return device.type == "cuda" and optimizer_name in ("sgd", "adam")


class StepRunner:
    """Run training steps of ``loss_fn`` over ``params`` with ``optimizer``; optionally as CUDA graphs.

    Args:
        loss_fn: ``(x, y) -> (loss, reported_loss, correct)``: the scalar to differentiate and the
            per-run loss and correct-count tensors to accumulate (all on the device, no host reads).
        params: the tensors the optimiser updates (their ``.grad`` are zeroed in place).
        optimizer: a torch optimiser over ``params``; its learning rate is set per step.
        graphs: capture whole steps as CUDA graphs (needs CUDA; the caller checks the schedule).
        autocast: bf16 autocast for the forward pass (CUDA training only).
        warmup: eager steps before the first capture (cuDNN picks its algorithms, lazy state is made).
        keep_grads: zero the gradients in place instead of dropping them (default: with ``graphs``,
            which need the same tensors every replay).
        grad_clip: clip the global gradient norm of ``params`` to this (0: off).
    """

    def __init__(self, loss_fn: LossFn, params: list[torch.Tensor], optimizer: torch.optim.Optimizer, *,
                 graphs: bool = False, autocast: bool = False, warmup: int = 3, grad_clip: float = 0.0,
                 before_step: Callable[[], None] | None = None, keep_grads: bool | None = None):
        self.loss_fn, self.params, self.optimizer = loss_fn, params, optimizer
        self.graphs, self.autocast, self.warmup, self.grad_clip = graphs, autocast, warmup, grad_clip
        self.keep_grads = graphs if keep_grads is None else keep_grads
        self.before_step = before_step
        self.steps = 0
        self._graphs: dict = {}
        self._pool = None
        self.captured = 0
        self.failure: str | None = None

    def _set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def _zero_grads(self) -> None:
        if not self.keep_grads:  # eager: drop them, the backward pass writes new ones (no zeroing pass)
            for p in self.params:
                p.grad = None
            return
        grads = [p.grad for p in self.params if p.grad is not None]
        if grads:
            torch._foreach_zero_(grads)

    def _eager(self, x: torch.Tensor, y: torch.Tensor):
        self._zero_grads()
        device_type = x.device.type
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=self.autocast, cache_enabled=False):
            loss, reported, correct = self.loss_fn(x, y)
        loss.backward()
        if self.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.params, self.grad_clip)
        if self.before_step is not None:
            self.before_step()
        self.optimizer.step()
        return reported.detach(), correct.detach()

    def step(self, x: torch.Tensor, y: torch.Tensor, lr: float):
        """One training step on (x, y) at ``lr``; returns (loss, correct) device tensors.

        With graphs the returned tensors are the graph's static outputs: read or accumulate
        them before the next call.
        """
        self._set_lr(lr)
        self.steps += 1
        if not self.graphs or self.failure is not None:
            return self._eager(x, y)
        if self.steps <= self.warmup:  # as torch.cuda.graph asks: warm up on a side stream, then wait for it
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                out = self._eager(x, y)
            torch.cuda.synchronize()
            return out
        key = (lr, tuple(x.shape), tuple(y.shape))
        graph = self._graphs.get(key)
        if graph is None:
            try:
                graph = self._capture(x, y)
            except Exception as err:  # a model whose step cannot be captured (any error of the capture): stay eager
                self.failure = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
                torch.cuda.synchronize()
                return self._eager(x, y)
            self._graphs[key] = graph
        g, sx, sy, out = graph
        sx.copy_(x, non_blocking=True)
        sy.copy_(y, non_blocking=True)
        g.replay()
        return out

    def _capture(self, x: torch.Tensor, y: torch.Tensor):
        for p in self.params:  # the gradients must be the same tensors in every replay
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        sx, sy = x.clone(), y.clone()
        if self._pool is None:
            self._pool = torch.cuda.graph_pool_handle()
        torch.cuda.synchronize()
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g, pool=self._pool):
            out = self._eager(sx, sy)
        self.captured += 1
        g.replay()  # capture records the step without running it: this is the step itself
        return g, sx, sy, out
