"""The REST API under ``/api/``: everything the pages do, for scripts too (see ``/docs``).

Each route calls the library and turns its answer into JSON; errors become JSON with one
``error`` line (404 for a missing entry, 400 for a bad request, 413 for an oversized upload).
"""

from __future__ import annotations

import base64
import io
import json
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, Response, StreamingResponse
from PIL import Image
from pydantic import BaseModel, ValidationError

from lumos.data import Dataset
from lumos.data.dataset import list_datasets, remove_dataset
from lumos.data.images import open_image
from lumos.data.options import ImportOptions
from lumos.data.show import browse, resize_previews, tile
from lumos.deploy.bundle import Bundle, list_bundles, remove_bundle
from lumos.deploy.from_job import bundle_from_job
from lumos.deploy.trial import try_image
from lumos.errors import DataError, NotFoundError
from lumos.jobs import Job, abort_job, create_job, delete_job, list_jobs, open_job
from lumos.models import NetworkSpec, build_network, summarize
from lumos.models.zoo import list_models, model_task
from lumos.train.callbacks import METRICS, read_metrics
from lumos.train.recipe import Recipe, RecipeError, describe_error
from lumos.train.run import queue_training
from lumos.train.schedules import lr_curve
from lumos.web.events import job_events
from lumos.web.security import (
    confined,
    image_upload_suffix,
    remove_quietly,
    save_upload,
    unpack_zip,
)
from lumos.web.settings import WebSettings
from lumos.web.state import ServerState
from lumos.workspace import validate_name

router = APIRouter(prefix="/api")
REPORT_TYPES = (".png", ".csv", ".json")


def state_of(request: Request) -> ServerState:
    return request.app.state.lumos


def settings_of(request: Request) -> WebSettings:
    return state_of(request).settings


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


# ---- datasets ---------------------------------------------------------------------------


@router.get("/datasets")
def datasets(request: Request) -> list[dict[str, Any]]:
    return list_datasets(settings_of(request).workspace)


@router.get("/datasets/{name}")
def dataset_info(request: Request, name: str) -> dict[str, Any]:
    return state_of(request).datasets.get(name).info()


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
        _png(tile(dataset, index)),
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
    validate_name(name, "dataset name")
    chosen = _import_options(options)
    if (archive is None) == (not source):
        raise DataError(None, "give either a source folder or a zip archive, not both")
    if archive is None:
        location = confined(source or "", settings)
    else:
        if not (archive.filename or "").lower().endswith(".zip"):
            raise DataError(archive.filename, "uploads must be .zip archives")
        upload = Path(tempfile.mkdtemp(prefix="import-", dir=_uploads(settings)))
        try:
            location = unpack_zip(await save_upload(archive, upload, settings), settings)
        except DataError:
            remove_quietly(upload)
            raise
    params = {
        "source": str(location),
        "name": name,
        "options": chosen.model_dump(mode="json"),
        "overwrite": overwrite,
    }
    return _job_row(state_of(request), create_job(settings.workspace, "import", params).id)


def _uploads(settings: WebSettings) -> Path:
    settings.uploads_dir.mkdir(parents=True, exist_ok=True)
    return settings.uploads_dir


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
    with tempfile.TemporaryDirectory(dir=_uploads(settings)) as scratch:
        if image is not None:
            image_upload_suffix(image)
            source = await save_upload(image, Path(scratch), settings)
        elif path:
            source = confined(path, settings)
            if source.is_dir():
                source = _first_image(source)
        else:
            raise DataError(None, "give an image or the path of one")
        picture, _ = open_image(source, channels=3)
    previews = resize_previews(picture, (width, height))
    return {mode: data_url(_png(im)) for mode, im in previews.items()}


def _first_image(folder: Path) -> Path:
    from lumos.data.images import is_image_name

    for candidate in sorted(folder.rglob("*")):
        if candidate.is_file() and is_image_name(candidate):
            return candidate
    raise DataError(folder, "no image file in this folder")


# ---- jobs -------------------------------------------------------------------------------


def _job_row(state: ServerState, job_id: str) -> dict[str, Any]:
    open_job(state.settings.workspace, job_id)  # checks the id, marks a dead job failed
    with state.settings.workspace.db() as db:
        row = dict(db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone())
    return describe_job(state, row)


def describe_job(state: ServerState, row: dict[str, Any]) -> dict[str, Any]:
    """A job's row as the pages show it: a title, its progress and, for training, its score."""
    params = json.loads(row["params"])
    folder = state.settings.workspace.jobs_dir / row["id"]
    job = Job(row["id"], row["kind"], row["state"], params, folder)
    described = {k: v for k, v in row.items() if k != "pid"} | {"params": params}
    described["progress"] = job.read_progress()
    described["title"] = {
        "train": lambda: f"{params.get('network')} on {params.get('dataset')}",
        "import": lambda: f"import {params.get('name')}",
        "evaluate": lambda: f"evaluate {params.get('model')} on {params.get('dataset')}",
    }.get(row["kind"], lambda: row["kind"])()
    if row["kind"] == "train":
        described["summary"] = state.summary(job)
    return described


@router.get("/jobs")
def jobs(request: Request) -> list[dict[str, Any]]:
    settings = settings_of(request)
    return [describe_job(state_of(request), row) for row in list_jobs(settings.workspace)]


@router.get("/jobs/{job_id}")
def job_detail(request: Request, job_id: str) -> dict[str, Any]:
    return _job_row(state_of(request), job_id)


@router.get("/jobs/{job_id}/metrics")
def job_metrics(
    request: Request, job_id: str, since: Annotated[int, Query(ge=0)] = 0
) -> list[dict[str, Any]]:
    """Training records from line ``since`` on (step records and epoch records)."""
    job = open_job(settings_of(request).workspace, job_id)
    return read_metrics(job.folder / METRICS)[since:]


@router.get("/jobs/{job_id}/log")
def job_log(
    request: Request, job_id: str, lines: Annotated[int, Query(ge=1, le=5000)] = 200
) -> dict[str, list[str]]:
    job = open_job(settings_of(request).workspace, job_id)
    return {"log": tail(job.log_path, lines), "output": tail(job.folder / "output.txt", lines)}


@router.get("/jobs/{job_id}/events")
async def job_stream(request: Request, job_id: str) -> StreamingResponse:
    """Server-sent events: new metrics, progress, log lines and state changes, live."""
    job = open_job(settings_of(request).workspace, job_id)
    return StreamingResponse(
        job_events(request, settings_of(request).workspace, job),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post("/jobs/{job_id}/abort")
def job_abort(request: Request, job_id: str) -> dict[str, Any]:
    settings = settings_of(request)
    abort_job(settings.workspace, job_id)
    return _job_row(state_of(request), job_id)


@router.delete("/jobs/{job_id}")
def job_delete(request: Request, job_id: str) -> dict[str, str]:
    delete_job(settings_of(request).workspace, job_id)
    return {"deleted": job_id}


@router.get("/jobs/{job_id}/clone")
def job_clone(request: Request, job_id: str) -> dict[str, Any]:
    """What a new job like this one starts from: its kind and parameters (a recipe's YAML)."""
    job = open_job(settings_of(request).workspace, job_id)
    clone: dict[str, Any] = {"kind": job.kind, "params": job.params}
    if job.kind == "train":
        clone["yaml"] = (job.folder / "recipe.yaml").read_text(encoding="utf-8")
    return clone


@router.get("/jobs/{job_id}/report")
def job_report(request: Request, job_id: str) -> dict[str, list[str]]:
    """The names of the pictures, CSV and JSON files a job wrote (an evaluation's report)."""
    return {"files": report_files(open_job(settings_of(request).workspace, job_id).folder)}


def report_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix in REPORT_TYPES)


@router.get("/jobs/{job_id}/files/{file_name}")
def job_file(request: Request, job_id: str, file_name: str) -> FileResponse:
    """A picture, CSV or JSON a job wrote (its report), by name."""
    job = open_job(settings_of(request).workspace, job_id)
    validate_name(file_name, "file name")
    path = job.folder / file_name
    if not path.is_file() or path.suffix not in REPORT_TYPES:
        raise NotFoundError(f"job {job_id} has no file {file_name!r}")
    return FileResponse(path)


def tail(path: Path, lines: int) -> list[str]:
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 200 * lines))
            text = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return []
    return text.splitlines()[-lines:]


# ---- training ---------------------------------------------------------------------------


class TrainRequest(BaseModel):
    """A recipe as fields, or as YAML text; ``network_yaml`` is a custom layer list."""

    recipe: dict[str, Any] | None = None
    yaml: str | None = None
    network_yaml: str | None = None


@router.post("/train", status_code=202)
def train_job(request: Request, body: TrainRequest) -> dict[str, Any]:
    settings = settings_of(request)
    recipe = _recipe(body)
    if body.network_yaml is None:
        _check_network(recipe, settings)
    else:
        _check_layers(body.network_yaml, state_of(request).datasets.get(recipe.dataset))
    job = queue_training(recipe, settings.workspace)
    if body.network_yaml is not None:
        layers = job.folder / "network.yaml"
        layers.write_text(body.network_yaml, encoding="utf-8")
        recipe.network = str(layers)
        (job.folder / "recipe.yaml").write_text(recipe.to_yaml())
    return _job_row(state_of(request), job.id)


def _check_layers(text: str, dataset: Dataset) -> None:
    """Build a custom layer list once for the dataset's images: bad layers fail here."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "network.yaml"
        path.write_text(text, encoding="utf-8")
        spec = NetworkSpec.resolve(str(path), len(dataset.classes), dataset.channels, dataset.size)
    build_network(spec, trust_code=False)


def _recipe(body: TrainRequest) -> Recipe:
    if (body.recipe is None) == (body.yaml is None):
        raise RecipeError("send either recipe fields or recipe YAML")
    if body.yaml is not None:
        return Recipe.from_yaml(body.yaml)
    return Recipe.parse(body.recipe or {})


def _check_network(recipe: Recipe, settings: WebSettings) -> None:
    """No code from the web: Python networks are refused, YAML layer files must be confined."""
    if recipe.network.endswith(".py"):
        raise RecipeError("network: Python networks cannot be trained from the web; use YAML")
    if recipe.network.endswith((".yaml", ".yml")):
        confined(recipe.network, settings)
    if recipe.init is not None:
        validate_name(recipe.init, "init model name")


@router.get("/networks")
def networks() -> list[dict[str, str]]:
    return [
        {"name": e.name, "family": e.family, "description": e.description, "task": e.task}
        for e in list_models()
    ]


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
        classes = len(data.classes) + (model_task(network) != "classification")
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


# ---- models -----------------------------------------------------------------------------


@router.get("/models")
def models(request: Request) -> list[dict[str, Any]]:
    return list_bundles(settings_of(request).workspace)


@router.get("/models/{name}")
def model_detail(request: Request, name: str) -> dict[str, Any]:
    settings = settings_of(request)
    bundle = Bundle.load(validate_name(name, "model name"), settings.workspace)
    evaluations = [
        describe_job(state_of(request), row)
        for row in list_jobs(settings.workspace)
        if row["kind"] == "evaluate"
        and row["state"] == "done"
        and json.loads(row["params"]).get("model") == name
    ]
    for evaluation in evaluations:
        evaluation["files"] = report_files(settings.workspace.jobs_dir / evaluation["id"])
    return {"meta": bundle.meta, "evaluations": evaluations}


class SaveModel(BaseModel):
    job: str
    name: str
    overwrite: bool = False


@router.post("/models", status_code=201)
def model_save(request: Request, body: SaveModel) -> dict[str, Any]:
    settings = settings_of(request)
    folder = bundle_from_job(
        body.job, body.name, workspace=settings.workspace, overwrite=body.overwrite
    )
    return {"name": folder.name}


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


@router.post("/models/{name}/predict")
async def model_predict(
    request: Request, name: str, image: Annotated[UploadFile, File()]
) -> dict[str, Any]:
    """The model's answer for one uploaded image, with a picture of it."""
    settings = settings_of(request)
    bundle = state_of(request).bundles.get(name)
    image_upload_suffix(image)
    with tempfile.TemporaryDirectory(dir=_uploads(settings)) as scratch:
        path = await save_upload(image, Path(scratch), settings)
        answer = try_image(bundle, path, Path(scratch) / "out")
        answer["picture"] = data_url(answer["picture"].read_bytes())
    return answer


class EvaluateRequest(BaseModel):
    model: str
    dataset: str
    split: str = "test"


@router.post("/evaluate", status_code=202)
def evaluate_job(request: Request, body: EvaluateRequest) -> dict[str, Any]:
    settings = settings_of(request)
    Bundle.load(validate_name(body.model, "model name"), settings.workspace)
    state_of(request).datasets.get(body.dataset)
    if body.split not in ("train", "val", "test"):
        raise DataError(None, f"unknown split {body.split!r}: choose from train, val, test")
    job = create_job(settings.workspace, "evaluate", body.model_dump())
    return _job_row(state_of(request), job.id)
