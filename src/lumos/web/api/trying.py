"""Trying a model: its answer for one uploaded image, for a folder or a set of images, and
each layer's activations and weights."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile

from lumos.deploy.try_image import classify_many, inspect_layers, try_image
from lumos.errors import DataError
from lumos.models.inspect import TensorView
from lumos.tasks.inputs import expand
from lumos.web.api.common import data_url, png_bytes, settings_of, state_of, uploads_dir
from lumos.web.security import confined, image_upload_suffix, save_upload

router = APIRouter()


@router.post("/models/{name}/predict")
async def model_predict(
    request: Request, name: str, image: Annotated[UploadFile, File()]
) -> dict[str, Any]:
    """The model's answer for one uploaded image, with a picture of it."""
    settings = settings_of(request)
    bundle = state_of(request).bundles.get(name)
    image_upload_suffix(image)
    with tempfile.TemporaryDirectory(dir=uploads_dir(settings)) as scratch:
        path = await save_upload(image, Path(scratch), settings)
        predictor = state_of(request).predictor(name)
        answer = try_image(bundle, path, Path(scratch) / "out", predictor=predictor)
        answer["picture"] = data_url(answer["picture"].read_bytes())
    return answer


@router.post("/models/{name}/classify-many")
async def model_classify_many(
    request: Request,
    name: str,
    path: Annotated[str | None, Form()] = None,
    images: Annotated[list[UploadFile] | None, File()] = None,
) -> dict[str, Any]:
    """Classify a folder on the server (subfolders named after labels give per-class
    accuracy) or uploaded images."""
    settings = settings_of(request)
    bundle = state_of(request).bundles.get(name)
    predictor = state_of(request).predictor(name)
    if bool(path) == bool(images):
        raise DataError(None, "give either a folder or some images")
    if path:
        root = confined(path, settings)
        if not root.is_dir():
            raise DataError(path, "not a folder")
        return classify_many(bundle, expand([root]), root, predictor=predictor)
    with tempfile.TemporaryDirectory(dir=uploads_dir(settings)) as scratch:
        saved = []
        for number, upload in enumerate(images or []):
            image_upload_suffix(upload)
            saved.append(await save_upload(upload, Path(scratch) / str(number), settings))
        return classify_many(bundle, saved, predictor=predictor)


@router.post("/models/{name}/layers")
async def model_layers(
    request: Request, name: str, image: Annotated[UploadFile, File()]
) -> list[dict[str, Any]]:
    """Each layer's activations for one uploaded image, and its weights: pictures and stats."""
    settings = settings_of(request)
    bundle = state_of(request).bundles.get(name)
    image_upload_suffix(image)
    with tempfile.TemporaryDirectory(dir=uploads_dir(settings)) as scratch:
        views = inspect_layers(bundle, await save_upload(image, Path(scratch), settings))

    def described(view: TensorView | None) -> dict[str, Any] | None:
        if view is None:
            return None
        return {"picture": data_url(png_bytes(view.picture)), **view.as_dict()}

    return [
        {
            "name": v.name,
            "kind": v.kind,
            "output_shape": v.output_shape,
            "activations": described(v.activations),
            "weights": described(v.weights),
        }
        for v in views
    ]
