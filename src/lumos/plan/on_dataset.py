"""The plan of a recipe on a dataset: what the new-model form shows beside the network."""

from __future__ import annotations

import functools
import itertools
import time
from pathlib import Path
from typing import Any

import torch

from lumos.arithmetic import choose
from lumos.data import Dataset
from lumos.data.loader import BatchLoader
from lumos.models import input_for
from lumos.plan.hardware import Device
from lumos.plan.memory import workload
from lumos.plan.report import plan_report
from lumos.recipe import Recipe
from lumos.tasks import task_of

LOADER_IMAGES = 256  # read to measure the loader's rate

PRECISIONS = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}


def planned_precision(precision: str, device: Device | None) -> str:
    """``precision`` with ``auto`` resolved as training would: on ``device`` (CUDA
    autocast), else on this CPU."""
    if precision != "auto":
        return precision
    return device.automatic() if device else PRECISIONS[choose("auto", "cpu").dtype]


def dataset_plan(
    network: str,
    data: Dataset,
    batch: int,
    *,
    optimizer: str = "sgd",
    precision: str = "auto",
    device: Device | None = None,
    epochs: int = 10,
    workspace_root: Path | None = None,
    input_size: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """``network``'s memory at ``batch`` on ``data``'s images, at the input a training with
    ``input_size`` takes (and why); with ``device``, the largest batch there and an epoch
    of the training split's time and cost."""
    chosen = input_for(network, data.size, input_size)
    work = workload(
        network,
        (data.channels, *chosen.size),
        optimizer=optimizer,
        precision=planned_precision(precision, device),
        num_classes=len(task_of(network).outputs(data.classes)),
    )
    images = len(data.split("train")) or len(data)
    devices = [device] if device is not None else []
    rate = loader_rate(data, network, batch) if devices else None
    report = plan_report(work, [batch], devices=devices, images=images, epochs=epochs,
                         workspace_root=workspace_root, val_images=len(data.split("val")),
                         loader_rate=rate)  # fmt: skip
    answer: dict[str, Any] = {
        "memory": report.plans[0].as_dict(),
        "input": {"size": list(chosen.size), "reason": chosen.reason},
    }
    if report.share is not None:
        answer |= {"device": report.runs[0].as_dict(), "images": images,
                   "share": report.share.share, "step_seconds": report.share.step_seconds,
                   "loader_rate": rate}  # fmt: skip
    return answer


def loader_rate(data: Dataset, network: str, batch: int) -> float:
    """Images a second the training loader reads ``data``'s training split at on this
    machine, with the recipe's default threads (measured once a process)."""
    return _loader_rate(data.folder, data.manifest["fingerprint"], network, min(batch, 64))


@functools.lru_cache(maxsize=64)
def _loader_rate(folder: Path, fingerprint: str, network: str, batch: int) -> float:
    part = Dataset(folder).split("train")
    workers = Recipe.model_fields["workers"].default
    loader = BatchLoader(part, min(batch, len(part)), shuffle=True, workers=workers,
                         targets=task_of(network).targets)  # fmt: skip
    start, read = time.perf_counter(), 0
    for images, _ in itertools.islice(loader, max(LOADER_IMAGES // loader.batch_size, 1)):
        read += len(images)
    return read / max(time.perf_counter() - start, 1e-9)
