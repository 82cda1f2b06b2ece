"""Label projects: create, upload images, the queue, each image's label (saved with the
revision it started from: 409 with what is stored if that moved on), reviews, agreement,
pre-labelling jobs and the project into a dataset."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from lumos.jobs import queue_work
from lumos.label import (
    LabelProject,
    agreement,
    finish,
    images_below,
    list_projects,
    progress,
    queue,
    remove_project,
    start_project,
)
from lumos.label.prelabel import PrelabelJob, model_for
from lumos.web.api.common import settings_of, state_of, uploads_dir
from lumos.web.api.jobs import job_row
from lumos.web.security import IMAGE_TYPES, confined, remove_quietly, save_upload, unpack_zip

router = APIRouter(prefix="/label")


class NewProject(BaseModel):
    name: str
    task: str
    classes: list[str]
    multi_label: bool = False
    images: str | None = Field(None, description="a folder on the server (under its roots)")
    dataset: str | None = Field(None, description="a dataset to correct")


class Save(BaseModel):
    annotator: str
    value: dict[str, Any]
    base: int = Field(ge=0, description="the revision the editor started from (0: none)")
    saved_by: str | None = Field(None, description="a reviewer saving an annotator's label")


class Review(BaseModel):
    annotator: str
    reviewer: str
    verdict: str


class Finish(BaseModel):
    dataset: str
    new_version: bool = False


class Prelabel(BaseModel):
    model: str


def _project(request: Request, name: str) -> LabelProject:
    return LabelProject.open(name, settings_of(request).workspace)


def _summary(project: LabelProject) -> dict[str, Any]:
    info = project.info
    return {"name": info.name, "task": info.task, "classes": info.classes,
            "multi_label": info.multi_label, "source": info.source, "created": info.created,
            "progress": progress(project)}  # fmt: skip


@router.get("")
def label_projects(request: Request) -> list[dict[str, Any]]:
    return [_summary(p) for p in list_projects(settings_of(request).workspace)]


@router.post("", status_code=201)
def label_create(request: Request, body: NewProject) -> dict[str, Any]:
    """A project on a folder under the server's roots, a dataset, or nothing yet (upload)."""
    settings = settings_of(request)
    folder = confined(body.images, settings) if body.images else None
    project, problems = start_project(body.name, body.task, body.classes, images=folder,
                                      dataset=body.dataset, multi_label=body.multi_label,
                                      workspace=settings.workspace)  # fmt: skip
    return _summary(project) | {"problems": problems}


@router.get("/{name}")
def label_project(request: Request, name: str) -> dict[str, Any]:
    return _summary(_project(request, name))


@router.delete("/{name}")
def label_delete(request: Request, name: str) -> dict[str, str]:
    remove_project(name, settings_of(request).workspace)
    return {"deleted": name}


@router.post("/{name}/images")
async def label_upload(
    request: Request, name: str, files: Annotated[list[UploadFile], File()]
) -> dict[str, Any]:
    """Add uploaded images (or zips of images) to a project; each bad file named."""
    project = _project(request, name)
    settings = settings_of(request)
    scratch = Path(tempfile.mkdtemp(prefix="label-", dir=uploads_dir(settings)))
    try:
        found: list[tuple[Path, str]] = []
        problems = []
        for upload in files:
            path = await save_upload(upload, scratch / "files", settings)
            if path.suffix.lower() == ".zip":
                found += images_below(unpack_zip(path, settings))
            elif path.suffix.lower() in IMAGE_TYPES:
                found.append((path, path.name))
            else:
                problems.append(f"{path.name}: not an image or a zip of images")
        problems += project.add_images(found)
    finally:
        remove_quietly(scratch)
    return _summary(project) | {"problems": problems}


@router.get("/{name}/queue")
def label_queue(
    request: Request,
    name: str,
    annotator: str = "",
    show: str = "all",
    order: Annotated[str, Query(pattern="^(file|uncertain)$")] = "file",
) -> dict[str, list[int]]:
    return {"images": queue(_project(request, name), annotator, show=show, order=order)}  # type: ignore[arg-type]


@router.get("/{name}/images/{image_id}/file")
def label_image_file(request: Request, name: str, image_id: int) -> FileResponse:
    path = _project(request, name).image_path(image_id)
    return FileResponse(path, headers={"Cache-Control": "private, max-age=86400"})


@router.get("/{name}/images/{image_id}")
def label_image(request: Request, name: str, image_id: int, annotator: str = "") -> dict[str, Any]:
    return _project(request, name).label(image_id, annotator)


@router.put("/{name}/images/{image_id}")
def label_save(request: Request, name: str, image_id: int, body: Save) -> dict[str, int]:
    project = _project(request, name)
    revision = project.save(image_id, body.annotator, body.value, body.base, saved_by=body.saved_by)
    return {"revision": revision}


@router.delete("/{name}/images/{image_id}")
def label_clear(
    request: Request, name: str, image_id: int, annotator: str, base: Annotated[int, Query(ge=0)]
) -> dict[str, int]:
    """Undo an image back to unlabelled (if the label is still revision ``base``)."""
    project = _project(request, name)
    project.clear(image_id, annotator, base)
    return {"revision": project.label(image_id, annotator)["revision"]}


@router.post("/{name}/images/{image_id}/review")
def label_review(request: Request, name: str, image_id: int, body: Review) -> dict[str, str]:
    _project(request, name).review(image_id, body.annotator, body.reviewer, body.verdict)
    return {"verdict": body.verdict}


@router.get("/{name}/agreement")
def label_agreement(request: Request, name: str) -> dict[str, Any]:
    return agreement(_project(request, name))


@router.post("/{name}/prelabel", status_code=202)
def label_prelabel(request: Request, name: str, body: Prelabel) -> dict[str, Any]:
    """Queue a pre-labelling job with a saved model."""
    project = _project(request, name)
    state = state_of(request)
    model_for(project, body.model, state.settings.workspace)  # refused now, not in the job
    job = queue_work(PrelabelJob(project.name, body.model), state.settings.workspace)
    return job_row(state, job.id)


@router.post("/{name}/dataset", status_code=201)
def label_finish(request: Request, name: str, body: Finish) -> dict[str, Any]:
    """The labelled images as a dataset (or a new version of one)."""
    workspace = settings_of(request).workspace
    folder = finish(_project(request, name), body.dataset, new_version=body.new_version,
                    workspace=workspace)  # fmt: skip
    state_of(request).datasets.forget(folder.name)
    return {"dataset": folder.name}
