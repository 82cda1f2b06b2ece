"""Labelling one image: the queue of images, each image's file and label (saved with the
revision it started from: 409 with what is stored if that moved on), undo, reviews."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from lumos.label import queue
from lumos.label.queue import Order
from lumos.web.api.common import project_of

router = APIRouter(prefix="/label")


class Save(BaseModel):
    annotator: str
    value: dict[str, Any]
    base: int = Field(ge=0, description="the revision the editor started from (0: none)")
    saved_by: str | None = Field(None, description="a reviewer saving an annotator's label")


class Review(BaseModel):
    annotator: str
    reviewer: str
    verdict: str


@router.get("/{name}/queue")
def label_queue(
    request: Request,
    name: str,
    annotator: str = "",
    show: str = "all",
    order: Order = "file",
) -> dict[str, list[int]]:
    return {"images": queue(project_of(request, name), annotator, show=show, order=order)}


@router.get("/{name}/images/{image_id}/file")
def label_image_file(request: Request, name: str, image_id: int) -> FileResponse:
    path = project_of(request, name).image_path(image_id)
    return FileResponse(path, headers={"Cache-Control": "private, max-age=86400"})


@router.get("/{name}/images/{image_id}")
def label_image(request: Request, name: str, image_id: int, annotator: str = "") -> dict[str, Any]:
    return project_of(request, name).label(image_id, annotator)


@router.put("/{name}/images/{image_id}")
def label_save(request: Request, name: str, image_id: int, body: Save) -> dict[str, int]:
    project = project_of(request, name)
    revision = project.save(image_id, body.annotator, body.value, body.base, saved_by=body.saved_by)
    return {"revision": revision}


@router.delete("/{name}/images/{image_id}")
def label_clear(
    request: Request, name: str, image_id: int, annotator: str, base: Annotated[int, Query(ge=0)]
) -> dict[str, int]:
    """Undo an image back to unlabelled (if the label is still revision ``base``)."""
    project = project_of(request, name)
    project.clear(image_id, annotator, base)
    return {"revision": project.label(image_id, annotator)["revision"]}


@router.post("/{name}/images/{image_id}/review")
def label_review(request: Request, name: str, image_id: int, body: Review) -> dict[str, str]:
    project_of(request, name).review(image_id, body.annotator, body.reviewer, body.verdict)
    return {"verdict": body.verdict}
