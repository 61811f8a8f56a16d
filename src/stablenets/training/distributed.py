"""Data-parallel training under torchrun, with PyTorch's DistributedDataParallel.

    torchrun --nproc_per_node 8 -m stablenets.cli train e-cifar10-zerosnet-opt-110
    torchrun --nnodes 2 --node_rank R --master_addr HOST --nproc_per_node 8 -m stablenets.cli train ...

torchrun sets RANK, LOCAL_RANK and WORLD_SIZE; with WORLD_SIZE > 1 the process group is
initialised (nccl on CUDA, gloo on CPU), each process takes device cuda:LOCAL_RANK, the
model is wrapped in DDP (gradients averaged across ranks in backward), and the batcher
gives rank r the samples r, r+w, r+2w, ... of each epoch's permutation (drop_last, so
every rank runs the same number of steps). Rank 0 alone writes the run directory.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from stablenets.device import resolve_device

__all__ = ["DistContext", "setup", "all_reduce_sum", "all_reduce_min", "barrier"]


@dataclass(frozen=True)
class DistContext:
    rank: int
    world_size: int
    device: torch.device

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(device: str | torch.device = "auto") -> DistContext:
    """This process's rank, world size and device; joins the process group under torchrun."""
    device = resolve_device(device)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext(0, 1, device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return DistContext(dist.get_rank(), dist.get_world_size(), device)


def all_reduce_sum(t: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    if ctx.active:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def all_reduce_min(t: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    if ctx.active:
        dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return t


def barrier(ctx: DistContext) -> None:
    if ctx.active:
        dist.barrier()
