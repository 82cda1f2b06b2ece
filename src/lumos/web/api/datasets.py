"""Datasets: list, inspect, browse, import (a folder or a zip), remove; resize previews."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import ValidationError

from lumos.data.dataset import list_datasets, remove_dataset
from lumos.data.formats import is_sample
from lumos.data.images import open_image
from lumos.data.import_job import ImportJob
from lumos.data.options import ImportOptions
from lumos.data.show import browse, resize_previews, tile
from lumos.errors import DataError
from lumos.jobs import queue_work
from lumos.recipe import describe_error
from lumos.tasks import suggested_network
from lumos.tasks.inputs import expand
from lumos.web.api.common import data_url, png_bytes, settings_of, state_of, uploads_dir
from lumos.web.api.jobs import queued_row
from lumos.web.security import (
    confined,
    image_upload_suffix,
    remove_quietly,
    save_upload,
    unpack_zip,
)

router = APIRouter()


@router.get("/datasets")
def datasets(request: Request) -> list[dict[str, Any]]:
    return list_datasets(settings_of(request).workspace)


@router.get("/datasets/{name}")
def dataset_info(request: Request, name: str) -> dict[str, Any]:
    dataset = state_of(request).datasets.get(name)
    return dataset.info() | {"suggested_network": suggested_network(dataset)}


@router.delete("/datasets/{name}")
def dataset_delete(request: Request, name: str) -> dict[str, str]:
    remove_dataset(name, settings_of(request).workspace)
    state_of(request).datasets.forget(name)
    return {"deleted": name}


@router.get("/datasets/{name}/records")
def dataset_records(
    request: Request,
    name: str,
    split: Annotated[str | None, Query(pattern="^(train|val|test)$")] = None,
    class_name: Annotated[str | None, Query(alias="class")] = None,
    page: Annotated[int, Query(ge=0)] = 0,
    per_page: Annotated[int, Query(ge=1, le=500)] = 60,
) -> dict[str, Any]:
    dataset = state_of(request).datasets.get(name)
    return browse(dataset, split=split, class_name=class_name or None, page=page, per_page=per_page)


@router.get("/datasets/{name}/records/{index}.png")
def dataset_record_image(request: Request, name: str, index: int) -> Response:
    dataset = state_of(request).datasets.get(name)
    return Response(
        png_bytes(tile(dataset, index)),
        media_type="image/png",
        headers={"Cache-Control": "private, max-age=3600"},
    )


@router.post("/datasets", status_code=202)
async def dataset_import(
    request: Request,
    name: Annotated[str, Form()],
    source: Annotated[str | None, Form()] = None,
    archive: Annotated[UploadFile | None, File()] = None,
    options: Annotated[str, Form(description="ImportOptions as JSON")] = "{}",
    overwrite: Annotated[bool, Form()] = False,
) -> dict[str, Any]:
    """Queue an import of a folder on the server (``source``) or an uploaded zip."""
    settings = settings_of(request)
    if settings.workspace.dataset_dir(name).exists() and not overwrite:
        raise DataError(None, f"dataset {name!r} already exists: tick 'replace' to overwrite it")
    chosen = _import_options(options)
    if (archive is None) == (not source):
        raise DataError(None, "give either a source folder or a zip archive, not both")
    upload = None
    if archive is None:
        location = source if is_sample(source) else confined(source or "", settings)
    else:
        if not (archive.filename or "").lower().endswith(".zip"):
            raise DataError(archive.filename, "uploads must be .zip archives")
        upload = Path(tempfile.mkdtemp(prefix="import-", dir=uploads_dir(settings)))
        try:
            location = unpack_zip(await save_upload(archive, upload, settings), settings)
        except DataError:
            remove_quietly(upload)
            raise
    work = ImportJob(str(location), name, chosen.model_dump(mode="json"), overwrite,
                     str(upload) if upload else None)  # fmt: skip
    return queued_row(request, queue_work(work, settings.workspace).id)


def _import_options(text: str) -> ImportOptions:
    try:
        return ImportOptions.model_validate(json.loads(text or "{}"))
    except json.JSONDecodeError as e:
        raise DataError(None, f"options are not JSON: {e}") from None
    except ValidationError as e:
        raise DataError(None, f"import options: {describe_error(e)}") from None


@router.post("/resize-preview")
async def resize_preview(
    request: Request,
    width: Annotated[int, Form(ge=1, le=1024)],
    height: Annotated[int, Form(ge=1, le=1024)],
    image: Annotated[UploadFile | None, File()] = None,
    path: Annotated[str | None, Form()] = None,
) -> dict[str, str]:
    """An image as each resize mode would store it: an upload, or a file under a root."""
    settings = settings_of(request)
    with tempfile.TemporaryDirectory(dir=uploads_dir(settings)) as scratch:
        if image is not None:
            image_upload_suffix(image)
            source = await save_upload(image, Path(scratch), settings)
        elif path:
            source = confined(path, settings)
            if source.is_dir():
                source = next(iter(expand([source])), None)
                if source is None:
                    raise DataError(path, "no image file in this folder")
        else:
            raise DataError(None, "give an image or the path of one")
        picture, _ = open_image(source, channels=3)
    previews = resize_previews(picture, (width, height))
    return {mode: data_url(png_bytes(im)) for mode, im in previews.items()}
