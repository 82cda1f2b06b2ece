"""Training: queue a recipe; the zoo, layer summaries, schedule plots, the recipe schema."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from lumos.data import Dataset
from lumos.errors import NotFoundError
from lumos.models import NetworkSpec, build_network, summarize
from lumos.models.custom import parse_layers
from lumos.models.network import CUSTOM
from lumos.models.zoo import list_models
from lumos.pretrained.init import names_weights
from lumos.pretrained.pull import weights_for
from lumos.recipe import Recipe, RecipeError
from lumos.tasks import task_of, zoo_rows
from lumos.train.preview import augmentation_grid
from lumos.train.run import queue_training
from lumos.train.schedules import lr_curve
from lumos.web.api.common import data_url, png_bytes, settings_of, state_of
from lumos.web.api.jobs import queued_row
from lumos.web.security import confined
from lumos.web.settings import WebSettings
from lumos.workspace import validate_name

router = APIRouter()


class RecipeRequest(BaseModel):
    """A recipe as fields, or as YAML text."""

    recipe: dict[str, Any] | None = None
    yaml: str | None = None


class TrainRequest(RecipeRequest):
    """A recipe; ``network_yaml`` is a custom layer list."""

    network_yaml: str | None = None


@router.post("/train", status_code=202)
def train_job(request: Request, body: TrainRequest) -> dict[str, Any]:
    settings = settings_of(request)
    recipe = recipe_from(body)
    if body.network_yaml is None:
        check_network(recipe, settings)
    else:
        _check_layers(body.network_yaml, state_of(request).datasets.get(recipe.dataset))
    job = queue_training(recipe, settings.workspace, layers=body.network_yaml)
    return queued_row(request, job.id)


def _check_layers(text: str, dataset: Dataset) -> None:
    """Build a custom layer list once for the dataset's images: bad layers fail here."""
    spec = NetworkSpec(
        name=CUSTOM,
        layers=parse_layers(text, "network_yaml"),
        num_classes=len(dataset.classes),
        in_channels=dataset.channels,
        input_size=dataset.size,
    )
    build_network(spec, trust_code=False)


def recipe_from(body: RecipeRequest) -> Recipe:
    """The recipe a request sends, as fields or as YAML (one of them)."""
    if (body.recipe is None) == (body.yaml is None):
        raise RecipeError("send either recipe fields or recipe YAML")
    if body.yaml is not None:
        return Recipe.from_yaml(body.yaml)
    return Recipe.parse(body.recipe or {})


def check_network(recipe: Recipe, settings: WebSettings) -> None:
    """No code from the web: Python networks are refused, YAML layer files must be confined."""
    if recipe.network.endswith(".py"):
        raise RecipeError("network: Python networks cannot be trained from the web; use YAML")
    if recipe.network.endswith((".yaml", ".yml")):
        confined(recipe.network, settings)
    if recipe.init is not None and not names_weights(recipe.init):
        validate_name(recipe.init, "init model name")


@router.get("/networks")
def networks() -> list[dict[str, Any]]:
    return zoo_rows()


@router.get("/networks/{network}/weights")
def network_weights(network: str) -> list[dict[str, Any]]:
    """The published weights a run of ``network`` can start from (``init``), with what their
    library states: the headline figure, file size, parameters, licence."""
    if network not in {e.name for e in list_models()}:
        raise NotFoundError(f"unknown network {network!r}")
    return [{"spec": w.spec, "reported": w.reported} | w.about for w in weights_for(network)]


@router.get("/networks/{network}/summary")
def network_summary(
    request: Request,
    network: str,
    dataset: str | None = None,
    channels: Annotated[int, Query(ge=1, le=4)] = 3,
    height: Annotated[int, Query(ge=8, le=1024)] = 224,
    width: Annotated[int, Query(ge=8, le=1024)] = 224,
    classes: Annotated[int, Query(ge=1, le=10000)] = 10,
) -> dict[str, Any]:
    """Per-layer shapes, parameters and FLOPs, for a dataset's images or a given shape."""
    if network not in {e.name for e in list_models()}:
        raise NotFoundError(f"unknown network {network!r}")
    if dataset:
        data = state_of(request).datasets.get(dataset)
        channels, (height, width) = data.channels, data.size
        classes = len(task_of(network).outputs(data.classes))
    spec = NetworkSpec.resolve(network, classes, channels, (height, width))
    model = build_network(spec).eval()
    return {"network": network, **summarize(model, (channels, height, width)).as_dict()}


@router.post("/schedule")
def schedule(body: dict[str, Any]) -> dict[str, Any]:
    """The learning rate over a run of the recipe fields given (dataset not needed)."""
    recipe = Recipe.parse({**body, "dataset": "preview"})
    points = lr_curve(recipe)
    return {"epoch": [e for e, _ in points], "lr": [r for _, r in points]}


@router.get("/recipe/schema")
def recipe_schema() -> dict[str, Any]:
    return Recipe.model_json_schema()


@router.post("/augment-preview")
def augment_preview(request: Request, body: dict[str, Any]) -> dict[str, str]:
    """Training images of the recipe's dataset as stored and as augmented, as one PNG."""
    recipe = Recipe.parse(body)
    dataset = state_of(request).datasets.get(recipe.dataset)
    return {"picture": data_url(png_bytes(augmentation_grid(recipe, dataset)))}
