"""Planning: the GPU catalogue, and what a recipe needs (memory, and on a GPU the largest
batch, an epoch's time and cost) for the new-model form."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import torch
from fastapi import APIRouter, Query, Request

from lumos.arithmetic import choose
from lumos.errors import NotFoundError
from lumos.models.zoo import list_models
from lumos.plan import Planner, workload
from lumos.plan.hardware import catalogue, device
from lumos.plan.timing import efficiency, on_device
from lumos.tasks import task_of
from lumos.web.api.common import settings_of, state_of

router = APIRouter()
DTYPES = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}


@router.get("/gpus")
def gpus(request: Request) -> list[dict[str, Any]]:
    """The catalogue: key, name, memory, price."""
    root = settings_of(request).workspace.root
    return [
        {"key": d.key, "name": d.name, "memory_gb": d.memory_gb, "usd_per_hour": d.usd_per_hour}
        for d in catalogue(root).values()
    ]


@router.get("/plan")
def plan(
    request: Request,
    network: Annotated[str, Query(max_length=200)],
    dataset: Annotated[str, Query(max_length=200)],
    batch: Annotated[int, Query(ge=1, le=65536)] = 64,
    optimizer: Literal["sgd", "adam", "adamw", "rmsprop"] = "sgd",
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto",
    gpu: Annotated[str | None, Query(max_length=100)] = None,
    epochs: Annotated[int, Query(ge=1, le=100000)] = 10,
) -> dict[str, Any]:
    """A recipe's memory at ``batch`` on ``dataset``'s images; with ``gpu``, the largest
    batch there, an epoch's time and cost."""
    if network not in {e.name for e in list_models()}:
        raise NotFoundError(f"unknown network {network!r}")
    root = settings_of(request).workspace.root
    chosen = device(gpu, root) if gpu else None
    data = state_of(request).datasets.get(dataset)
    if precision == "auto":
        precision = chosen.automatic() if chosen else DTYPES[choose("auto", "cpu").dtype]
    work = workload(
        network,
        (data.channels, *data.size),
        optimizer=optimizer,
        precision=precision,
        num_classes=len(task_of(network).outputs(data.classes)),
    )
    planner = Planner(work)
    answer: dict[str, Any] = {"memory": planner.plan(batch).as_dict()}
    if chosen:
        share = efficiency(work, root / "plan" / "efficiency.json")
        images = len(data.split("train")) or len(data)
        run = on_device(planner, chosen, batch, images=images, epochs=epochs, measured=share)
        answer |= {"device": run.as_dict(), "images": images, "share": share.share}
    return answer
