"""A network other threads run too (the P2L reference, a model the server holds): what one
thread collects through hooks is its own forward passes, never another thread's."""

from __future__ import annotations

import threading

import torch
from torch import nn

from lumos.models.features import features, head_of
from lumos.models.inspect import layer_views


class Slow(nn.Module):
    """A tiny classifier whose forward waits at a barrier: two threads are inside it at once."""

    def __init__(self, barrier: threading.Barrier) -> None:
        super().__init__()
        self.barrier = barrier
        self.body = nn.Conv2d(1, 4, 3)
        self.head = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.barrier.wait(timeout=30)
        return self.head(self.body(x).mean((2, 3)))


def test_two_threads_collect_only_their_own_features_and_layers() -> None:
    model = Slow(threading.Barrier(2))
    sizes = {"a": 3, "b": 5}
    collected: dict[str, int] = {}

    def collect(name: str) -> None:
        batches = [(torch.rand(sizes[name], 1, 8, 8), torch.zeros(sizes[name]))] * 4
        collected[name] = len(features(model, head_of(model), batches)[0])

    threads = [threading.Thread(target=collect, args=(n,)) for n in sizes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert collected == {"a": 12, "b": 20}

    images = {"a": torch.zeros(1, 1, 8, 8), "b": torch.ones(1, 1, 8, 8)}
    model.barrier = threading.Barrier(1)
    alone = {n: layer_views(model, x)[0] for n, x in images.items()}
    model.barrier = threading.Barrier(2)
    seen: dict[str, float] = {}

    def views(name: str) -> None:
        seen[name] = layer_views(model, images[name])[0].activations.mean

    threads = [threading.Thread(target=views, args=(n,)) for n in images]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {n: view.activations.mean for n, view in alone.items()}
