"""Will it fit? The memory a network needs to train and to run, traced from the network.

Weights, gradients and optimiser state follow from the parameter count. The activations
kept for the backward pass are not guessed from layer types: one training forward of the
real network records every tensor autograd saves (``saved_tensors_hooks``), at batch 1 and
batch 2, and the bytes grow linearly with the batch from there. The backward pass holds, beside
the activations it has not freed yet, the gradients (the seeds' "errors") of the layer it
is in: counted as the largest layer's input and output. Adam's step makes one more tensor
the size of the weights, after the backward pass has freed the activations. Inference
keeps no activations:
its working memory is the largest layer's input and output together. Measured against
the peak of a real training step (:mod:`lumos.plan.measure`), the estimate is an upper
bound within about 20% on the zoo's convolutional networks.

The seeds' rule of thumb is shown beside the figures: 4 bytes a parameter, twice more for
its gradient and momentum, 4 bytes a value twice (the activation and its error) for every
layer output of every image, and a byte a value of the input batch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lumos.errors import LumosError
from lumos.models import NetworkSpec, build_network
from lumos.tasks import task_of

BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}
STATE = {"sgd": 1, "adam": 2, "adamw": 2}  # optimiser values a parameter: momentum; two moments
AUTOCAST = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class PlanError(LumosError):
    """A plan that cannot be made: the message says why."""


@dataclass(frozen=True)
class MemoryPlan:
    """What training and inference of one network at one batch size hold, in bytes."""

    network: str
    input_shape: tuple[int, int, int]
    batch: int
    optimizer: str
    precision: str
    parameters: int  # count
    weights: int
    gradients: int
    optimizer_state: int
    activations: int  # saved for the backward pass
    errors: int  # gradients of a layer's input and output during the backward pass
    step: int  # what the optimiser's step makes beside its state (Adam: one tensor a weight)
    inputs: int
    inference: int  # weights and the largest layer's input and output
    layer_values: int  # the outputs of every layer for one image: the seeds' "activations"

    @property
    def training(self) -> int:
        held = self.weights + self.gradients + self.optimizer_state + self.inputs
        return held + max(self.activations + self.errors, self.step)

    def as_dict(self) -> dict[str, Any]:
        """Every figure, the totals too, as ``lumos plan --json`` prints them."""
        return asdict(self) | {"training": self.training, "rule_of_thumb": self.rule_of_thumb}

    @property
    def rule_of_thumb(self) -> tuple[int, int]:
        """The seeds' estimate: (training, inference) bytes."""
        values = math.prod(self.input_shape)
        train = 4 * self.parameters * 3 + self.batch * self.layer_values * 4 * 2
        return train + self.batch * values, 4 * self.parameters + self.batch * values


@dataclass(frozen=True)
class _Trace:
    activations: tuple[int, int]  # bytes saved for backward at batch 1 and 2
    largest_layer: int  # input + output bytes of the largest layer, one image
    layer_values: int


def estimate(
    network: str,
    input_shape: tuple[int, int, int],
    batches: Sequence[int],
    *,
    optimizer: str = "sgd",
    precision: str = "fp32",
    num_classes: int = 10,
) -> list[MemoryPlan]:
    """A plan for each batch size of ``batches``; ``input_shape`` is (C, H, W). Classifiers
    and segmenters (a detector's training forward needs boxes: refused)."""
    task = task_of(network)
    if task.finds_boxes:
        raise PlanError(f"{network} is a {task.noun}: lumos plan traces classifiers and segmenters")
    channels, height, width = input_shape
    spec = NetworkSpec.resolve(network, num_classes, channels, (height, width))
    with torch.random.fork_rng(devices=[]):
        model = build_network(spec)
    parameters = sum(p.numel() for p in model.parameters())
    trace = _trace(model, input_shape, precision)
    plans = []
    for batch in batches:
        growth = trace.activations[1] - trace.activations[0]
        activations = trace.activations[0] + growth * (batch - 1)
        plans.append(
            MemoryPlan(
                network=network,
                input_shape=input_shape,
                batch=batch,
                optimizer=optimizer,
                precision=precision,
                parameters=parameters,
                weights=4 * parameters,
                gradients=4 * parameters,
                optimizer_state=4 * parameters * STATE[optimizer],
                activations=activations,
                errors=batch * trace.largest_layer,
                step=4 * parameters * (STATE[optimizer] - 1),
                inputs=4 * batch * math.prod(input_shape),
                inference=4 * parameters + batch * trace.largest_layer,
                layer_values=trace.layer_values,
            )
        )
    return plans


def largest_batch(plan: MemoryPlan, memory: int) -> int:
    """The largest batch whose training fits in ``memory`` bytes (0 if none does), from
    ``plan``'s bytes an image."""
    fixed = plan.weights + plan.gradients + plan.optimizer_state
    if fixed + plan.step > memory:
        return 0
    per_image = (plan.activations + plan.errors + plan.inputs) / plan.batch
    return int((memory - fixed) // per_image)


def _trace(model: nn.Module, input_shape: tuple[int, int, int], precision: str) -> _Trace:
    """One training forward at batch 1 and 2, recording what autograd saves, and the
    layers' sizes at batch 1."""
    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved, sizes = [], []
    for batch in (1, 2):
        stored: dict[int, int] = {}
        with _recording(stored, parameters), autocast(precision), _layer_sizes(model) as seen:
            loss(model.train()(torch.rand(batch, *input_shape)))
        saved.append(sum(stored.values()))
        sizes = sizes or seen
    largest = max((given + made for given, made, _ in sizes), default=0)
    return _Trace((saved[0], saved[1]), largest, sum(values for _, _, values in sizes))


def loss(outputs: torch.Tensor) -> torch.Tensor:
    """A classifier's (N, K) or a segmenter's (N, K, H, W) cross-entropy against class 0."""
    targets = torch.zeros(outputs.shape[0], *outputs.shape[2:], dtype=torch.long)
    return F.cross_entropy(outputs.float(), targets)


@contextmanager
def _recording(stored: dict[int, int], skip: set[int]) -> Iterator[None]:
    """Record each storage autograd saves (once, by address), but not the weights'."""

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in skip:
            stored[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        yield


@contextmanager
def autocast(precision: str) -> Iterator[None]:
    """CPU autocast to ``precision`` (fp32: none)."""
    dtype = AUTOCAST[precision]
    with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        yield


@contextmanager
def _layer_sizes(model: nn.Module) -> Iterator[list[tuple[int, int, int]]]:
    """(input bytes, output bytes, output values) of every leaf layer's call."""
    sizes: list[tuple[int, int, int]] = []

    def hook(module: nn.Module, args: tuple, output: object) -> None:
        if isinstance(output, torch.Tensor) and args and isinstance(args[0], torch.Tensor):
            given = args[0].numel() * args[0].element_size()
            sizes.append((given, output.numel() * output.element_size(), output.numel()))

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        yield sizes
    finally:
        for handle in handles:
            handle.remove()
