"""Sweeps: start one (a job that runs its trials); the workspace's Optuna studies, their
trials (training jobs), best values, parameter importance and plots."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from pydantic import Field

from lumos.errors import NotFoundError
from lumos.sweep import Sweep, open_sweep
from lumos.sweep.job import queue_sweep
from lumos.sweep.report import IMPORTANCE, PARALLEL, best_row, current_report, importances, rows
from lumos.sweep.study import Pruner, Sampler, sweep_names
from lumos.web.api.common import settings_of
from lumos.web.api.jobs import queued_row
from lumos.web.api.training import RecipeRequest, check_network, recipe_from
from lumos.workspace import validate_name

router = APIRouter()
PICTURES = (IMPORTANCE, PARALLEL)


class SweepRequest(RecipeRequest):
    """The trials' base recipe (fields or YAML), the fields to vary (``NAME=SPEC``), how
    many trials, how they are drawn and pruned, and the sweep's name."""

    params: list[str] = Field(min_length=1, max_length=10)
    trials: int = Field(10, ge=1, le=500)
    sampler: Sampler = "tpe"
    prune: Pruner = "none"
    name: str = Field(max_length=64)


@router.post("/sweeps", status_code=202)
def sweep_start(request: Request, body: SweepRequest) -> dict[str, Any]:
    """Create a sweep and queue the job that runs its trials (each a training job)."""
    settings = settings_of(request)
    recipe = recipe_from(body)
    check_network(recipe, settings)
    options = {"trials": body.trials, "sampler": body.sampler, "prune": body.prune}
    job = queue_sweep(recipe, body.params, name=body.name, workspace=settings.workspace, **options)
    return {"sweep": body.name, "job": queued_row(request, job.id)}


@router.get("/sweeps")
def sweeps(request: Request) -> list[dict[str, Any]]:
    """Every sweep in the workspace's study database, with its best value so far."""
    workspace = settings_of(request).workspace
    listed = []
    for name in sweep_names(workspace):
        found_sweep = open_sweep(name, None, workspace)
        found = rows(found_sweep)
        best = best_row(found_sweep, found)
        listed.append({"name": name, "metric": found_sweep.metric, "trials": found_sweep.trials,
                       "finished": sum(r.state != "running" for r in found),
                       "best": best and best.value})  # fmt: skip
    return listed


@router.get("/sweeps/{name}")
def sweep(request: Request, name: str) -> dict[str, Any]:
    """One sweep: its parameters, its trials, the best, the importance of each parameter
    and its plots (written again when its trials changed)."""
    workspace = settings_of(request).workspace
    found_sweep = _sweep(name, request)
    found = current_report(found_sweep, workspace)
    best = best_row(found_sweep, found)
    folder = workspace.root / "sweeps" / name
    return {
        "name": name,
        "metric": found_sweep.metric,
        "params": [p.text for p in found_sweep.params],
        "trials_wanted": found_sweep.trials,
        "trials": [r.as_dict() for r in found],
        "best": best and best.as_dict(),
        "importance": importances(found_sweep),
        "pictures": [f"/api/sweeps/{name}/{p}" for p in PICTURES if (folder / p).is_file()],
    }


@router.get("/sweeps/{name}/{picture}")
def sweep_picture(request: Request, name: str, picture: str) -> FileResponse:
    """A sweep's importance or parallel-coordinate plot (PNG)."""
    _sweep(name, request)
    path = settings_of(request).workspace.root / "sweeps" / name / picture
    if picture not in PICTURES or not path.is_file():
        raise NotFoundError(f"sweep {name!r} has no picture {picture!r}")
    return FileResponse(path, media_type="image/png")


def _sweep(name: str, request: Request) -> Sweep:
    return open_sweep(validate_name(name, "sweep name"), None, settings_of(request).workspace)
