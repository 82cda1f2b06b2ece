"""The HTML pages: server-rendered shells that load their data from the REST API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from lumos import __version__
from lumos.choices import ArtefactPrecision, Pruning, ResizeMode, TaskKind
from lumos.data.samples import sample_descriptions
from lumos.errors import LumosError
from lumos.jobs import open_job
from lumos.label import LabelProject
from lumos.label.project import label_kinds
from lumos.sweep import open_sweep
from lumos.sweep.study import PRUNERS, SAMPLERS
from lumos.web.recipe_form import recipe_fields
from lumos.workspace import validate_name

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.globals["version"] = __version__


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
        request,
        "dataset_new.html",
        kinds=get_args(TaskKind),
        resize_modes=get_args(ResizeMode),
        samples=sample_descriptions(),
    )


@router.get("/datasets/{name}", response_class=HTMLResponse)
def dataset_page(request: Request, name: str) -> HTMLResponse:
    state = request.app.state.lumos
    return _entry_page(request, "dataset.html", lambda: state.datasets.get(name), name=name)


@router.get("/datasets/{name}/transfer", response_class=HTMLResponse)
def transfer_page(request: Request, name: str) -> HTMLResponse:
    state = request.app.state.lumos
    return _entry_page(request, "transfer.html", lambda: state.datasets.get(name), name=name)


@router.get("/sweeps", response_class=HTMLResponse)
def sweeps_page(request: Request) -> HTMLResponse:
    return _page(request, "sweeps.html", samplers=SAMPLERS, pruners=PRUNERS)


@router.get("/sweeps/{name}", response_class=HTMLResponse)
def sweep_page(request: Request, name: str) -> HTMLResponse:
    workspace = request.app.state.lumos.settings.workspace

    def found() -> object:
        return open_sweep(validate_name(name, "sweep name"), None, workspace)

    return _entry_page(request, "sweep.html", found, name=name)


@router.get("/label", response_class=HTMLResponse)
def label_projects_page(request: Request) -> HTMLResponse:
    return _page(request, "labels.html", kinds=list(label_kinds()))


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
    return _entry_page(
        request,
        "model.html",
        lambda: state.bundles.get(name),
        name=name,
        precisions=get_args(ArtefactPrecision),
        prunings=get_args(Pruning),
    )
