"""The processes one training run is split among (torch.distributed), as the trainer sees
them: which one this is, which one keeps the job's files, and the few things they agree on.

One process is the :data:`ALONE` group and every method is free. In a group, the model is
wrapped in ``DistributedDataParallel`` (gradients averaged across the processes in the
backward pass), the epoch's sums are added up across the processes before they are
logged, each process validates its own share of the validation split (the counts merged
before the metrics are computed), and each process draws its own random numbers from the
run's seed, its rank and its place in the run, so a resumed run draws them again exactly.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from lumos.data import Dataset


@dataclass(frozen=True)
class Group:
    """This process's place among the run's processes."""

    rank: int = 0
    processes: int = 1
    writes: bool = True  # keeps the job's log, metrics and checkpoints

    @property
    def shard(self) -> tuple[int, int]:
        return self.rank, self.processes

    def wrap(self, model: nn.Module, device: torch.device) -> nn.Module:
        """The model the training step calls: one that averages gradients in a group."""
        if self.processes == 1:
            return model
        ids = [device.index] if device.type == "cuda" else None
        # Gradients live in the all-reduce buckets: no copy in and out of them each step.
        return DistributedDataParallel(model, device_ids=ids, gradient_as_bucket_view=True)

    def total(self, sums: dict[str, float]) -> dict[str, float]:
        """``sums`` added up across the processes."""
        if self.processes == 1:
            return sums
        values = torch.tensor(list(sums.values()), dtype=torch.float64)
        dist.all_reduce(values)
        return dict(zip(sums, values.tolist(), strict=True))

    def gather(self, found: Any) -> list[Any]:
        """What every process found, in rank order (a :data:`lumos.tasks.base.Merge`)."""
        if self.processes == 1:
            return [found]
        everyone: list[Any] = [None] * self.processes
        dist.all_gather_object(everyone, found)
        return everyone

    def part(self, split: Dataset) -> Dataset:
        """This process's contiguous share of ``split`` (shares differ by at most one
        record; together they hold every record once): what it validates."""
        if self.processes == 1:
            return split
        return split.subset(np.array_split(np.arange(len(split)), self.processes)[self.rank])

    def anyone(self, flag: bool) -> bool:
        """Whether ``flag`` is true in any process (all of them learn it at once)."""
        if self.processes == 1:
            return flag
        value = torch.tensor([float(flag)])
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def seed_batch(self, seed: int, epoch: int, batch: int, generator: torch.Generator) -> None:
        """Seed this process's random numbers (dropout and mixing; ``generator``, the
        augmentation's) for one batch: from the run's seed, the epoch, the batch and the
        rank."""
        if self.processes == 1:
            return
        key = f"{seed}/{epoch}/{batch}/{self.rank}".encode()
        drawn = int.from_bytes(hashlib.sha256(key).digest()[:8], "little") >> 1
        torch.manual_seed(drawn)
        generator.manual_seed(drawn)


ALONE = Group()
