"""The HTML pages: server-rendered shells that load their data from the REST API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from lumos import __version__
from lumos.data.geometry import RESIZE_MODES
from lumos.data.samples import sample_descriptions
from lumos.errors import LumosError
from lumos.jobs import open_job
from lumos.label import LabelProject
from lumos.label.kinds import KINDS
from lumos.recipe import Recipe
from lumos.sweep import open_sweep
from lumos.workspace import validate_name

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.globals["version"] = __version__

RECIPE_GROUPS: dict[str, list[str]] = {
    "Solver": [
        "epochs", "batch_size", "optimizer", "lr", "momentum", "nesterov", "weight_decay",
        "accumulate", "clip_grad", "label_smoothing", "balance",
    ],
    "Learning-rate policy": [
        "lr_policy", "warmup_epochs", "step_size", "milestones", "gamma", "power",
        "plateau_patience", "min_lr",
    ],
    "Augmentation": [
        "hflip", "vflip", "crop_scale", "scale_jitter", "rotation", "color_jitter", "invert",
        "noise", "mixup", "cutmix", "normalize",
    ],
    "Run": [
        "input_size", "init", "finetune", "probe_epochs", "freeze_backbone", "freeze_stages",
        "unfreeze_every", "body_lr", "batchnorm", "seed",
        "precision", "channels_last", "ema",
        "val_every", "checkpoint_every", "checkpoint_steps", "checkpoint_minutes",
        "early_stopping", "metric", "workers", "threads", "nproc",
    ],
}  # fmt: skip


def recipe_fields() -> dict[str, list[dict[str, Any]]]:
    """The recipe's fields as form inputs, grouped, from its JSON schema (one source of truth)."""
    properties = Recipe.model_json_schema()["properties"]
    return {
        group: [_field(name, properties[name]) for name in names]
        for group, names in RECIPE_GROUPS.items()
    }


def _field(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    options = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
    kind = options[0]
    field = {
        "name": name,
        "label": name.replace("_", " "),
        "help": schema.get("description", ""),
    }
    default = schema.get("default")
    if "enum" in kind:
        return field | {
            "input": "select",
            "choices": kind["enum"],
            "default": default,
            "optional": len(options) < len(schema.get("anyOf", [1])),
        }
    if kind.get("type") == "boolean":
        return field | {
            "input": "checkbox" if "anyOf" not in schema else "tristate",
            "default": default,
        }
    if kind.get("type") in ("integer", "number"):
        return field | {
            "input": "number",
            "step": 1 if kind["type"] == "integer" else "any",
            "default": default,
        }
    if kind.get("type") == "array":
        return field | {"input": "list", "default": ",".join(map(str, default or []))}
    return field | {"input": "text", "default": default or ""}


def _page(request: Request, template: str, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, template, context)


def _entry_page(
    request: Request, template: str, check: Callable[[], object], **context: Any
) -> HTMLResponse:
    """A page about one entry, or a 404 page naming what is missing."""
    try:
        check()
    except LumosError as e:  # missing, or a name that cannot exist
        return templates.TemplateResponse(request, "missing.html", {"message": str(e)}, 404)
    return _page(request, template, **context)


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    return _page(request, "home.html")


@router.get("/datasets/new", response_class=HTMLResponse)
def dataset_new(request: Request) -> HTMLResponse:
    return _page(
        request, "dataset_new.html", resize_modes=RESIZE_MODES, samples=sample_descriptions()
    )


@router.get("/datasets/{name}", response_class=HTMLResponse)
def dataset_page(request: Request, name: str) -> HTMLResponse:
    state = request.app.state.lumos
    return _entry_page(request, "dataset.html", lambda: state.datasets.get(name), name=name)


@router.get("/datasets/{name}/transfer", response_class=HTMLResponse)
def transfer_page(request: Request, name: str) -> HTMLResponse:
    state = request.app.state.lumos
    return _entry_page(request, "transfer.html", lambda: state.datasets.get(name), name=name)


@router.get("/sweeps/{name}", response_class=HTMLResponse)
def sweep_page(request: Request, name: str) -> HTMLResponse:
    workspace = request.app.state.lumos.settings.workspace

    def found() -> object:
        return open_sweep(validate_name(name, "sweep name"), None, workspace)

    return _entry_page(request, "sweep.html", found, name=name)


@router.get("/label", response_class=HTMLResponse)
def label_projects_page(request: Request) -> HTMLResponse:
    return _page(request, "labels.html", kinds=list(KINDS))


@router.get("/label/{name}", response_class=HTMLResponse)
def label_page(request: Request, name: str) -> HTMLResponse:
    workspace = request.app.state.lumos.settings.workspace
    try:
        project = LabelProject.open(name, workspace)
    except LumosError as e:  # missing, or a name that cannot exist
        return templates.TemplateResponse(request, "missing.html", {"message": str(e)}, 404)
    return _page(request, "label.html", project=project.info)


@router.get("/models/new", response_class=HTMLResponse)
def model_new(request: Request) -> HTMLResponse:
    return _page(request, "model_new.html", groups=recipe_fields())


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: str) -> HTMLResponse:
    workspace = request.app.state.lumos.settings.workspace
    return _entry_page(request, "job.html", lambda: open_job(workspace, job_id), job_id=job_id)


@router.get("/models/{name}", response_class=HTMLResponse)
def model_page(request: Request, name: str) -> HTMLResponse:
    state = request.app.state.lumos
    return _entry_page(request, "model.html", lambda: state.bundles.get(name), name=name)
