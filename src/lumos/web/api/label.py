"""Label projects: create, upload images, agreement, pre-labelling jobs and the project into a
dataset (each image's label: :mod:`lumos.web.api.labelling`)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile
from pydantic import BaseModel, Field

from lumos.label import (
    RULE,
    agreement,
    conflicts,
    finish,
    images_below,
    list_projects,
    remove_project,
    start_project,
    summary,
)
from lumos.label.prelabel import PrelabelJob, queue_prelabel
from lumos.web.api.common import project_of, settings_of, state_of, uploads_dir
from lumos.web.api.jobs import queued_row
from lumos.web.security import IMAGE_TYPES, confined, remove_quietly, save_upload, unpack_zip

router = APIRouter(prefix="/label")


class NewProject(BaseModel):
    name: str
    task: str
    classes: list[str]
    multi_label: bool = False
    images: str | None = Field(None, description="a folder on the server (under its roots)")
    dataset: str | None = Field(None, description="a dataset to correct")


class Finish(BaseModel):
    dataset: str
    new_version: bool = False


class Prelabel(BaseModel):
    model: str


@router.get("")
def label_projects(request: Request) -> list[dict[str, Any]]:
    return [summary(p) for p in list_projects(settings_of(request).workspace)]


@router.post("", status_code=201)
def label_create(request: Request, body: NewProject) -> dict[str, Any]:
    """A project on a folder under the server's roots, a dataset, or nothing yet (upload)."""
    settings = settings_of(request)
    folder = confined(body.images, settings) if body.images else None
    project, problems = start_project(body.name, body.task, body.classes, images=folder,
                                      dataset=body.dataset, multi_label=body.multi_label,
                                      workspace=settings.workspace)  # fmt: skip
    return summary(project) | {"problems": problems}


@router.get("/{name}")
def label_project(request: Request, name: str) -> dict[str, Any]:
    return summary(project_of(request, name))


@router.delete("/{name}")
def label_delete(request: Request, name: str) -> dict[str, str]:
    remove_project(name, settings_of(request).workspace)
    return {"deleted": name}


@router.post("/{name}/images")
async def label_upload(
    request: Request, name: str, files: Annotated[list[UploadFile], File()]
) -> dict[str, Any]:
    """Add uploaded images (or zips of images) to a project; each bad file named."""
    project = project_of(request, name)
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
    return summary(project) | {"problems": problems}


@router.get("/{name}/agreement")
def label_agreement(request: Request, name: str) -> dict[str, Any]:
    return agreement(project_of(request, name))


@router.get("/{name}/conflicts")
def label_conflicts(request: Request, name: str) -> dict[str, Any]:
    """The images whose annotators disagree, and the rule the dataset will be made by."""
    return {"rule": RULE, "conflicts": conflicts(project_of(request, name))}


@router.post("/{name}/prelabel", status_code=202)
def label_prelabel(request: Request, name: str, body: Prelabel) -> dict[str, Any]:
    """Queue a pre-labelling job with a saved model."""
    job = queue_prelabel(PrelabelJob(name, body.model), settings_of(request).workspace)
    return queued_row(request, job.id)


@router.post("/{name}/dataset", status_code=201)
def label_finish(request: Request, name: str, body: Finish) -> dict[str, Any]:
    """The labelled images as a dataset (or a new version of one)."""
    workspace = settings_of(request).workspace
    folder = finish(project_of(request, name), body.dataset, new_version=body.new_version,
                    workspace=workspace)  # fmt: skip
    state_of(request).datasets.forget(folder.name)
    return {"dataset": folder.name}
