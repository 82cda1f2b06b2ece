"""Models: list, inspect, save from a job, download, evaluate, optimise, remove (trying one on
images: :mod:`lumos.web.api.trying`)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from lumos.bundle import Bundle, list_bundles, remove_bundle
from lumos.deploy.export import current_onnx
from lumos.deploy.from_job import SaveModelJob, queue_save
from lumos.deploy.optimize import OptimizeJob, queue_optimization
from lumos.evaluate.run import EvaluateJob, queue_evaluation
from lumos.jobs import find_jobs
from lumos.web.api.common import settings_of, state_of
from lumos.web.api.jobs import describe_job, queued_row, report_files
from lumos.workspace import validate_name

router = APIRouter()


@router.get("/models")
def models(request: Request) -> list[dict[str, Any]]:
    return list_bundles(settings_of(request).workspace)


@router.get("/models/{name}")
def model_detail(request: Request, name: str) -> dict[str, Any]:
    settings = settings_of(request)
    bundle = Bundle.load(validate_name(name, "model name"), settings.workspace)
    evaluations = [
        describe_job(state_of(request), row)
        for row in find_jobs(settings.workspace, "evaluate", state="done", model=name)
    ]
    for evaluation in evaluations:
        evaluation["files"] = report_files(settings.workspace.jobs_dir / evaluation["id"])
    return {
        "meta": bundle.meta.as_json(),
        "evaluations": evaluations,
        "prunable": bundle.task.prunable,
    }


@router.post("/models", status_code=202)
def model_save(request: Request, body: SaveModelJob) -> dict[str, Any]:
    """Queue a save of a training job's best weights as a model; the job's result names it."""
    return queued_row(request, queue_save(body, settings_of(request).workspace).id)


@router.delete("/models/{name}")
def model_delete(request: Request, name: str) -> dict[str, str]:
    remove_bundle(name, settings_of(request).workspace)
    return {"deleted": name}


@router.get("/models/{name}/download")
def model_download(request: Request, name: str) -> Response:
    bundle = Bundle.load(validate_name(name, "model name"), settings_of(request).workspace)
    with tempfile.TemporaryDirectory() as scratch:
        data = bundle.save(Path(scratch) / name).read_bytes()
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}.lumos"'},
    )


@router.get("/models/{name}/export.onnx")
def model_export(request: Request, name: str) -> FileResponse:
    """The model as ONNX (``lumos export``), checked against PyTorch; made once per version."""
    path = current_onnx(state_of(request).bundles.get(name))
    return FileResponse(path, media_type="application/octet-stream", filename=path.name)


@router.get("/models/{name}/artefacts/{artefact}")
def artefact_download(request: Request, name: str, artefact: str) -> FileResponse:
    """An optimised ONNX file of the model (see ``lumos optimize``)."""
    bundle = Bundle.load(validate_name(name, "model name"), settings_of(request).workspace)
    path = bundle.artefact(artefact)
    return FileResponse(path, media_type="application/octet-stream", filename=f"{name}-{path.name}")


@router.post("/optimize", status_code=202)
def optimize_job(request: Request, body: OptimizeJob) -> dict[str, Any]:
    """Queue ``lumos optimize`` for a model; its artefact is recorded in the model."""
    job = queue_optimization(body, settings_of(request).workspace)
    return queued_row(request, job.id)


@router.post("/evaluate", status_code=202)
def evaluate_job(request: Request, body: EvaluateJob) -> dict[str, Any]:
    job = queue_evaluation(
        body.model, body.dataset, body.split, workspace=settings_of(request).workspace
    )
    return queued_row(request, job.id)
