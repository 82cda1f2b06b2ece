"""Planning: the GPU catalogue, and what a recipe needs (memory, and on a GPU the largest
batch, an epoch's time and cost) for the new-model form."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from lumos.errors import NotFoundError
from lumos.models.zoo import list_models
from lumos.plan.hardware import catalogue, device
from lumos.plan.on_dataset import dataset_plan
from lumos.plan.presets import finetune
from lumos.recipe import Optimizer, Precision, Recipe
from lumos.web.api.common import settings_of, state_of

router = APIRouter()


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
    optimizer: Optimizer = "sgd",
    precision: Precision = "auto",
    gpu: Annotated[str | None, Query(max_length=100)] = None,
    epochs: Annotated[int, Query(ge=1, le=100000)] = 10,
    input_size: Annotated[str | None, Query(pattern=r"^\d{1,5},\d{1,5}$")] = None,
) -> dict[str, Any]:
    """A recipe's memory at ``batch`` on ``dataset``'s images (at ``input_size``,
    "HEIGHT,WIDTH", else what training takes); with ``gpu``, the largest batch there, an
    epoch's time and cost."""
    if network not in {e.name for e in list_models()}:
        raise NotFoundError(f"unknown network {network!r}")
    root = settings_of(request).workspace.root
    chosen = device(gpu, root) if gpu else None
    data = state_of(request).datasets.get(dataset)
    size = tuple(int(side) for side in input_size.split(",")) if input_size else None
    return dataset_plan(network, data, batch, optimizer=optimizer, precision=precision,
                        device=chosen, epochs=epochs, workspace_root=root,
                        input_size=size)  # fmt: skip


class PresetRequest(BaseModel):
    """The dataset a preset fills a recipe for, and the minutes its run may take."""

    dataset: str = Field(max_length=200)
    time_limit: float | None = Field(None, gt=0)


@router.post("/preset")
def preset(request: Request, body: PresetRequest) -> dict[str, Any]:
    """``preset=finetune`` for the dataset: the recipe's fields it chose, and why."""
    state_of(request).datasets.get(body.dataset)  # a missing dataset is a 404
    given = Recipe.parse(body.model_dump(exclude_none=True))
    chosen = finetune(given, settings_of(request).workspace)
    return {"recipe": chosen.recipe.model_dump(mode="json"), "said": chosen.said}
