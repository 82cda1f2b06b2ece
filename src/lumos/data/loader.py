"""Feeding a stored dataset to PyTorch: whole batches read from the memory map at once.

Reading a batch is one fancy-indexed copy out of the shards, not ``batch_size`` decodes.
Worker *threads* (not processes) read ahead: the copy and the float conversion release the
GIL, and threads hand tensors over without the pickling and shared-memory copies that
process workers need, which for data this cheap to read would cost more than the read.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from lumos.data.dataset import Dataset

Targets = Literal["labels", "masks", "boxes"]
Batch = tuple[torch.Tensor, Any]


INPUT_RESAMPLING = "bilinear, antialiased (torch.nn.functional.interpolate)"


def at_size(images: torch.Tensor, size: tuple[int, int] | list[int]) -> torch.Tensor:
    """A (N, C, H, W) batch at ``size`` (height, width): resized (bilinear, antialiased)
    only if it is not that size already."""
    if tuple(images.shape[2:]) == tuple(size):
        return images
    return F.interpolate(images, size=tuple(size), mode="bilinear", antialias=True)


class BatchLoader:
    """Batches of (images, targets) from a dataset or split.

    Targets are class labels (N,) or (N, K) for multi-label, class-index masks (N, H, W)
    with ``targets="masks"``, or with ``targets="boxes"`` one dict per image of ``boxes``
    (k, 4) x1y1x2y2 float32 in stored pixels, ``labels`` (k,) class indices and ``crowd`` (k,).

    Images are (N, C, H, W) float32 in 0-1 (uint8 with ``to_float=False``) in channels-last
    memory order. ``workers`` threads read up to ``2 * workers`` batches ahead; 0 reads in
    the calling thread. Shuffling depends on ``seed`` and the epoch given to
    :meth:`set_epoch`, so a resumed run sees the same order.

    ``shard=(rank, processes)``: each of the run's processes reads its contiguous part of
    every batch (parts differ by at most one image), so that ``batch_size`` is the batch of
    the whole run, as on one process; :meth:`weight` says what a part's mean counts for.
    ``batch_size`` must be at least ``processes``.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        *,
        shuffle: bool = False,
        drop_last: bool = False,
        workers: int = 0,
        seed: int = 0,
        to_float: bool = True,
        pin_memory: bool = False,
        sample_weights: np.ndarray | None = None,
        targets: Targets = "labels",
        shard: tuple[int, int] = (0, 1),
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.rank, self.processes = shard
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.workers = workers
        self.seed = seed
        self.to_float = to_float
        self.pin_memory = pin_memory
        self.targets = targets
        self.epoch = 0
        self.sample_weights = (
            None if sample_weights is None else sample_weights / sample_weights.sum()
        )
        self._labels = torch.from_numpy(np.asarray(dataset.labels()))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        """Batches an epoch (a last one too small to give each process an image: dropped)."""
        full, rest = divmod(len(self.dataset), self.batch_size)
        return full + (1 if rest >= self.processes and not self.drop_last else 0)

    def _batches(self) -> list[np.ndarray]:
        n = len(self.dataset)
        order = (
            np.random.default_rng((self.seed, self.epoch)).permutation(n)
            if self.shuffle
            else np.arange(n)
        )
        whole = [
            order[i : i + self.batch_size]
            for i in range(0, len(self) * self.batch_size, self.batch_size)
        ]
        if self.processes == 1:
            return whole
        return [np.array_split(batch, self.processes)[self.rank] for batch in whole]

    def weight(self, position: int) -> float:
        """What this process's part of batch ``position`` counts for among the parts: its
        share of the batch times the processes (1 for equal parts), so that the mean of
        the parts' weighted mean losses is the whole batch's mean."""
        if self.processes == 1:
            return 1.0
        size = min(self.batch_size, len(self.dataset) - position * self.batch_size)
        part = len(np.array_split(np.arange(size), self.processes)[self.rank])
        return part * self.processes / size

    def read(self, positions: np.ndarray) -> Batch:
        """One uint8 batch for the given positions (runs in the worker threads)."""
        images = torch.from_numpy(self.dataset.images(positions)).permute(0, 3, 1, 2)
        if self.pin_memory:
            images = images.pin_memory()
        if self.targets == "masks":
            return images, torch.from_numpy(self.dataset.masks(positions)).long()
        if self.targets == "boxes":
            return images, [
                {
                    "boxes": torch.from_numpy(boxes).float(),
                    "labels": torch.from_numpy(labels).long(),
                    "crowd": torch.from_numpy(crowd),
                }
                for boxes, labels, crowd in self.dataset.boxes(positions)
            ]
        return images, self._labels[torch.from_numpy(positions)]

    def _finish(self, batch: Batch) -> Batch:
        # Converted in the consuming thread, where torch's own intra-op threads do it
        # without competing with the readers; float().mul_() measured 2x faster than mul().
        images, labels = batch
        return (images.float().mul_(1.0 / 255) if self.to_float else images), labels

    def __iter__(self) -> Iterator[Batch]:
        return self.iterate()

    def iterate(self, start: int = 0) -> Iterator[Batch]:
        """The epoch's batches from batch number ``start`` on (to resume mid-epoch)."""
        for batch in self._read_ahead(self._batches()[start:]):
            yield self._finish(batch)

    def _read_ahead(self, batches: list[np.ndarray]) -> Iterator[Batch]:
        if self.workers <= 0:
            yield from map(self.read, batches)
            return
        with ThreadPoolExecutor(self.workers, thread_name_prefix="lumos-loader") as pool:
            ahead: deque[Future[Batch]] = deque()
            upcoming = iter(batches)
            for positions in upcoming:
                ahead.append(pool.submit(self.read, positions))
                if len(ahead) >= 2 * self.workers:
                    break
            while ahead:
                batch = ahead.popleft().result()
                next_positions = next(upcoming, None)
                if next_positions is not None:
                    ahead.append(pool.submit(self.read, next_positions))
                yield batch
