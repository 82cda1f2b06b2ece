"""The peak of live tensor bytes during one real training step on the CPU: what the
planner's estimate is checked against.

A ``TorchDispatchMode`` sees every tensor each operation makes; a storage counts from its
first tensor until it is freed (a weak reference to the storage says when), so views and
in-place results are not counted twice. The step is a steady-state one: the optimiser's
state exists from a step before, the gradients were set to None.
"""

from __future__ import annotations

import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from lumos.models import NetworkSpec, build_network
from lumos.plan.memory import autocast, loss


class LiveTensorBytes(TorchDispatchMode):
    """The largest sum of live storages made under this mode (``peak``, bytes); storages
    at the addresses ``held`` existed before (weights changed in place are not new)."""

    def __init__(self, held: set[int]) -> None:
        super().__init__()
        self.held = held
        self.live: dict[int, tuple[StorageWeakRef, int]] = {}
        self.peak = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        self.live = {k: v for k, v in self.live.items() if not v[0].expired()}
        for tensor in tree_leaves(result):
            if isinstance(tensor, torch.Tensor) and tensor.device.type == "cpu":
                storage = tensor.untyped_storage()
                address = storage.data_ptr()
                if address and address not in self.live and address not in self.held:
                    self.live[address] = (StorageWeakRef(storage), storage.nbytes())
        self.peak = max(self.peak, sum(size for _, size in self.live.values()))
        return result


def training_peak(
    network: str,
    input_shape: tuple[int, int, int],
    batch: int,
    *,
    optimizer: str = "sgd",
    precision: str = "fp32",
    num_classes: int = 10,
) -> int:
    """Bytes live at the peak of one training step: the weights, the optimiser's state and
    the input batch, and the largest sum of what the step makes."""
    channels, height, width = input_shape
    model = build_network(NetworkSpec.resolve(network, num_classes, channels, (height, width)))
    kinds = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
    options = {"momentum": 0.9} if optimizer == "sgd" else {}
    solver = kinds[optimizer](model.parameters(), lr=1e-3, **options)
    images = torch.rand(batch, *input_shape)

    def step() -> None:
        with autocast(precision):
            value = loss(model.train()(images))
        value.backward()
        solver.step()
        solver.zero_grad(set_to_none=True)

    step()  # the optimiser's state now exists
    held = [*_held(model, solver), images]
    with LiveTensorBytes({t.untyped_storage().data_ptr() for t in held}) as tracker:
        step()
    return sum(t.numel() * t.element_size() for t in held) + tracker.peak


def _held(model: torch.nn.Module, solver: torch.optim.Optimizer) -> list[torch.Tensor]:
    state = [v for s in solver.state.values() for v in s.values() if isinstance(v, torch.Tensor)]
    return [*model.parameters(), *model.buffers(), *state]
