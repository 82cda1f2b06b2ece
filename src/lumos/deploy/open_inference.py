"""The Open Inference Protocol (KServe v2, as Triton speaks it) on ``lumos serve``.

``/v2/health/live``, ``/v2/health/ready``, ``/v2`` (server metadata), ``/v2/models/NAME``
``[/versions/1]`` (metadata), ``.../ready`` and ``.../infer``; and Triton's model
repository extension: ``POST /v2/repository/index``, ``.../models/NAME/load`` and
``.../unload``. Inputs, either or both:

- ``images``: FP32 ``[N, C, H, W]`` in 0-1 at the network's input size (what the ONNX
  export takes), run at once;
- ``image_bytes``: BYTES ``[N]``, image files (decoded and preprocessed as ``/v1/predict``
  does; base64 strings in a JSON body), through the model's batcher.

Outputs are the task's (``Task.tensors``): a classifier's ``probabilities`` (FP32
``[N, K]``) and ``labels`` (BYTES ``[N]``, the top class); a detector's ``image`` (INT64
``[M]``, whose box), ``boxes`` (FP32 ``[M, 4]``, the file's pixels, or input pixels for
``images``), ``scores`` and ``labels``; a segmenter's ``mask`` (UINT8 ``[N, H, W]`` at the
input size). Tensors travel as JSON or, with the binary tensor extension tritonclient uses
for large data, after the JSON header (``Inference-Header-Content-Length``). Errors are
``{"error": "..."}`` with a 4xx status.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
import time
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from lumos import __version__
from lumos.deploy.model_control import repository_routes
from lumos.deploy.repository import ModelRepository, ServedModel, ServeError
from lumos.errors import DataError

HEADER = "Inference-Header-Content-Length"
VERSION = "1"
DTYPES = {"FP32": np.float32, "FP64": np.float64, "FP16": np.float16, "UINT8": np.uint8,
          "INT32": np.int32, "INT64": np.int64}  # fmt: skip
NAMES = {np.dtype(kind): name for name, kind in DTYPES.items()}


def metadata(bundle: Any, max_batch: int) -> dict[str, Any]:
    channels, (height, width) = bundle.preprocessing.channels, bundle.preprocessing.input_size
    outputs = bundle.task.tensor_specs(bundle)
    return {
        "name": bundle.name,
        "versions": [VERSION],
        "platform": "lumos",
        "inputs": [
            {"name": "images", "datatype": "FP32", "shape": [-1, channels, height, width]},
            {"name": "image_bytes", "datatype": "BYTES", "shape": [-1]},
        ],
        "outputs": [{"name": n, "datatype": t, "shape": s} for n, t, s in outputs],
        "parameters": {
            "max_batch_size": max_batch, "task": bundle.task.name, "labels": bundle.labels,
        },
    }  # fmt: skip


def read_request(
    body: bytes, header_length: str | None
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The request's JSON and its input tensors by name."""
    split = len(body)
    if header_length is not None:
        if not header_length.isdigit() or int(header_length) > len(body):
            raise ServeError(400, f"{HEADER} {header_length!r} does not fit the body")
        split = int(header_length)
    try:
        document = json.loads(body[:split])
    except (ValueError, UnicodeDecodeError):
        raise ServeError(400, "the inference request is not valid JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("inputs"), list):
        raise ServeError(400, "an inference request needs 'inputs': a list of tensors")
    blobs, tensors = memoryview(body)[split:], {}
    for tensor in document["inputs"]:
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
            raise ServeError(400, "each input needs a 'name'")
        size = (tensor.get("parameters") or {}).get("binary_data_size")
        if size is not None:
            if not isinstance(size, int) or size < 0 or size > len(blobs):
                raise ServeError(400, f"input {tensor['name']!r}: binary_data_size does not fit")
            raw, blobs = bytes(blobs[:size]), blobs[size:]
        else:
            raw = None
        tensors[tensor["name"]] = _tensor(tensor, raw)
    return document, tensors


def _tensor(tensor: dict[str, Any], raw: bytes | None) -> np.ndarray:
    name, kind, shape = tensor["name"], tensor.get("datatype"), tensor.get("shape")
    if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
        raise ServeError(400, f"input {name!r}: 'shape' must be a list of sizes")
    if kind == "BYTES":
        items = _bytes_items(raw) if raw is not None else _json_bytes(name, tensor.get("data"))
        if len(items) != int(np.prod(shape)):
            raise ServeError(400, f"input {name!r}: {len(items)} elements for shape {shape}")
        return np.array(items, dtype=object).reshape(shape)
    if kind not in DTYPES:
        raise ServeError(
            400,
            f"input {name!r}: datatype {kind!r} is not one of {', '.join([*DTYPES, 'BYTES'])}",
        )
    try:
        if raw is not None:
            array = np.frombuffer(bytearray(raw), dtype=np.dtype(DTYPES[kind]).newbyteorder("<"))
        else:
            array = np.asarray(tensor.get("data"), dtype=DTYPES[kind])
        return array.reshape(shape)
    except (ValueError, TypeError):
        raise ServeError(
            400, f"input {name!r}: the data does not hold {kind} values of shape {shape}"
        ) from None


def _bytes_items(raw: bytes) -> list[bytes]:
    """Triton's BYTES serialisation: each element's length (4 bytes, little-endian), then it."""
    items, at = [], 0
    while at < len(raw):
        if at + 4 > len(raw):
            raise ServeError(400, "BYTES data ends inside an element's length")
        (length,) = struct.unpack_from("<I", raw, at)
        if at + 4 + length > len(raw):
            raise ServeError(400, "BYTES data ends inside an element")
        items.append(raw[at + 4 : at + 4 + length])
        at += 4 + length
    return items


def _json_bytes(name: str, data: Any) -> list[bytes]:
    if not isinstance(data, list) or not all(isinstance(d, str) for d in np.ravel(data)):
        raise ServeError(400, f"input {name!r}: BYTES in JSON are base64 strings")
    try:
        return [base64.b64decode(d, validate=True) for d in np.ravel(data)]
    except (binascii.Error, ValueError):
        raise ServeError(400, f"input {name!r}: not valid base64") from None


def answer(document: dict[str, Any], model: str, outputs: dict[str, np.ndarray]) -> Response:
    """The response, each output as JSON data or binary as the request asked."""
    asked = {o.get("name"): o for o in document.get("outputs") or [] if isinstance(o, dict)}
    unknown = set(asked) - set(outputs)
    if unknown:
        raise ServeError(
            400, f"unknown output {sorted(unknown)[0]!r}: choose from {', '.join(outputs)}"
        )
    everything = bool((document.get("parameters") or {}).get("binary_data_output"))
    entries, blobs = [], []
    for name, array in outputs.items():
        if asked and name not in asked:
            continue
        kind = "BYTES" if array.dtype == object else NAMES[array.dtype]
        entry: dict[str, Any] = {"name": name, "datatype": kind, "shape": list(array.shape)}
        if ((asked.get(name) or {}).get("parameters") or {}).get("binary_data", everything):
            blob = _serialise(array)
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            entry["data"] = (
                [v.decode() for v in array.ravel()] if kind == "BYTES" else array.ravel().tolist()
            )
        entries.append(entry)
    body = {"model_name": model, "model_version": VERSION, "outputs": entries}
    if "id" in document:
        body["id"] = document["id"]
    header = json.dumps(body).encode()
    if not blobs:
        return Response(header, media_type="application/json")
    return Response(header + b"".join(blobs), media_type="application/octet-stream",
                    headers={HEADER: str(len(header))})  # fmt: skip


def _serialise(array: np.ndarray) -> bytes:
    if array.dtype == object:
        return b"".join(struct.pack("<I", len(v)) + v for v in array.ravel())
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()


async def infer(
    repository: ModelRepository, request: Request, model: str, version: str = VERSION
) -> Response:
    """One inference request: the model's answers for every input image, as tensors."""
    served = _model(repository, model, version)
    settings = repository.settings
    body = await request.body()
    if len(body) > settings.max_body_bytes:
        raise ServeError(413, f"request body over {settings.max_body_bytes:,} bytes", model)
    document, tensors = read_request(body, request.headers.get(HEADER))
    unknown = set(tensors) - {"images", "image_bytes"}
    if unknown or not tensors:
        raise ServeError(
            400,
            "inputs are 'images' (FP32 N x C x H x W) or 'image_bytes' (BYTES N), "
            f"not {sorted(unknown) or 'none'}",
            model,
        )
    top = len(served.bundle.labels)  # every class: the probabilities are whole
    results = []
    if "images" in tensors:
        results += await served.from_tensor(_checked_images(served, tensors["images"]), top)
    if "image_bytes" in tensors:
        files = [(f"image {i}", data) for i, data in enumerate(tensors["image_bytes"].ravel())]
        try:
            results += await served.from_files(files, top)
        except DataError as e:
            raise ServeError(400, str(e), model) from None
    bundle = served.bundle
    return answer(document, model, bundle.task.tensors(bundle, results))


def _checked_images(served: ServedModel, batch: np.ndarray) -> np.ndarray:
    preprocessing = served.bundle.preprocessing
    expected = (preprocessing.channels, *preprocessing.input_size)
    if batch.ndim != 4 or batch.shape[1:] != expected or batch.dtype != np.float32:
        raise ServeError(
            400,
            f"input 'images' must be FP32 [N, {', '.join(map(str, expected))}], "
            f"got {batch.dtype} {list(batch.shape)}",
            served.name,
        )
    return np.ascontiguousarray(batch)


def _model(repository: ModelRepository, model: str, version: str) -> ServedModel:
    if model not in repository.models or version != VERSION:
        held = ", ".join(f"{n!r}" for n in sorted(repository.models)) or "none"
        raise ServeError(
            404, f"no model {model!r} version {version!r}: this server has {held}, version 1"
        )
    return repository.models[model]


def v2_routes(repository: ModelRepository) -> APIRouter:
    """The protocol's routes over the served models, and the repository extension."""
    router = APIRouter(prefix="/v2")

    @router.get("/health/live")
    def live() -> dict[str, bool]:
        return {"live": True}

    @router.get("/health/ready")
    def ready() -> JSONResponse:
        return JSONResponse(
            {"ready": repository.ready}, status_code=200 if repository.ready else 503
        )

    @router.get("")
    def server() -> dict[str, Any]:
        extensions = ["binary_tensor_data", "model_repository"]
        return {"name": "lumos", "version": __version__, "extensions": extensions}

    def describe(model: str, version: str = VERSION) -> dict[str, Any]:
        return metadata(_model(repository, model, version).bundle, repository.settings.max_batch)

    def readiness(model: str, version: str = VERSION) -> JSONResponse:
        running = _model(repository, model, version).batcher.running
        return JSONResponse({"name": model, "ready": running}, status_code=200 if running else 503)

    async def inference(request: Request, model: str, version: str = VERSION) -> Response:
        started = time.perf_counter()
        response = await infer(repository, request, model, version)
        repository.metrics.requests.labels(model, "200").inc()
        repository.metrics.latency.labels(model).observe(time.perf_counter() - started)
        return response

    for path in ("/models/{model}", "/models/{model}/versions/{version}"):
        router.add_api_route(path, describe, methods=["GET"])
        router.add_api_route(f"{path}/ready", readiness, methods=["GET"])
        router.add_api_route(f"{path}/infer", inference, methods=["POST"])
    router.include_router(repository_routes(repository))
    return router
