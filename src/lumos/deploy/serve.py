"""``lumos serve``: a bundle behind HTTP, with dynamic batching.

Requests that arrive together run as one batch (Triton's idea): a worker thread takes the
first waiting image, then whatever else arrives within ``max_delay_ms`` up to ``max_batch``
images, and runs them at once. The queue is bounded; beyond it a request gets 429 with
``Retry-After`` at once instead of waiting without end. ``/health`` says the process is up,
``/ready`` that the model is loaded and the batcher running, ``/metrics`` gives request
counts, latencies, batch sizes and queue depth in Prometheus' text format. On shutdown the
server stops taking connections and answers every request already queued.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import queue
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.exceptions import HTTPException as StarletteHTTPException

from lumos.access import TokenMiddleware
from lumos.bundle import serving
from lumos.deploy.open_inference import ProtocolError, v2_routes
from lumos.deploy.runtime import Predictor
from lumos.errors import DataError
from lumos.tasks.inputs import preprocess

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
MAX_IMAGES_PER_REQUEST = 64
SWITCH_INTERVAL = 0.0005  # seconds; Python's default is 0.005


@dataclass
class ServeSettings:
    max_batch: int = 32
    max_delay_ms: float = 5.0
    max_queue: int = 256
    max_body_bytes: int = 16 << 20
    top: int = 5
    token: str | None = None


class QueueFullError(Exception):
    """More images are waiting than the server accepts."""


class _Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "lumos_requests", "Prediction requests by HTTP status.", ["status"],
            registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "lumos_request_seconds", "Time from request to answer.", buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )  # fmt: skip
        self.batch = Histogram(
            "lumos_batch_size", "Images run together.", buckets=BATCH_BUCKETS,
            registry=self.registry,
        )  # fmt: skip
        self.queued = Gauge("lumos_queue_depth", "Images waiting.", registry=self.registry)


class Batcher:
    """A worker thread that runs queued images through ``predictor`` in batches."""

    def __init__(self, predictor: Predictor, settings: ServeSettings, metrics: _Metrics) -> None:
        self.predictor = predictor
        self.settings = settings
        self.metrics = metrics
        self._queue: queue.Queue[Any] = queue.Queue(settings.max_queue)
        self._thread = threading.Thread(target=self._run, name="lumos-batcher", daemon=True)
        self.running = False
        self.pending = 0  # images submitted and not yet answered

    def start(self) -> None:
        self.running = True
        self._thread.start()

    def stop(self) -> None:
        """Answer everything queued, then end the worker."""
        self.running = False
        self._queue.put(None)
        self._thread.join()

    async def submit(self, images: list[np.ndarray]) -> np.ndarray:
        """Probabilities (N, K) of preprocessed images, batched with whatever else waits."""
        loop = asyncio.get_running_loop()
        futures = []
        for image in images:
            future = loop.create_future()
            try:
                self._queue.put_nowait((image, future, loop))
            except queue.Full:
                for waiting in futures:
                    waiting.cancel()
                raise QueueFullError from None
            futures.append(future)
        self.metrics.queued.set(self._queue.qsize())
        self.pending += len(futures)
        try:
            return np.stack(await asyncio.gather(*futures))
        finally:
            self.pending -= len(futures)

    def _collect(self) -> tuple[list[Any], bool]:
        """The next batch, and whether the stop sentinel was reached."""
        first = self._queue.get()
        if first is None:
            return [], True
        batch, deadline = [first], time.monotonic() + self.settings.max_delay_ms / 1000
        while len(batch) < self.settings.max_batch:
            try:
                item = self._queue.get(timeout=max(deadline - time.monotonic(), 0))
            except queue.Empty:
                break
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch, stopping = self._collect()
            if not batch:
                continue
            self.metrics.batch.observe(len(batch))
            self.metrics.queued.set(self._queue.qsize())
            try:
                rows: list[Any] = list(self.predictor.classify([image for image, _, _ in batch]))
            except Exception as e:  # answer every waiting request with the failure
                rows = [e] * len(batch)
            for (_, future, loop), row in zip(batch, rows, strict=True):
                loop.call_soon_threadsafe(_settle, future, row)


def _settle(future: asyncio.Future, row: Any) -> None:
    if future.done():  # the client went away
        return
    if isinstance(row, Exception):
        future.set_exception(row)
    else:
        future.set_result(row)


def create_server(predictor: Predictor, settings: ServeSettings | None = None) -> FastAPI:
    """The inference app for ``predictor``; the batcher starts and stops with the app."""
    settings = settings or ServeSettings()
    metrics = _Metrics()
    batcher = Batcher(predictor, settings, metrics)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        batcher.start()
        yield
        batcher.stop()

    app = FastAPI(title=f"lumos serve: {predictor.bundle.name}", lifespan=lifespan)

    @app.exception_handler(Exception)
    async def failure(_: Request, error: Exception) -> JSONResponse:
        logging.getLogger("lumos.serve").exception("prediction failed")
        metrics.requests.labels("500").inc()
        return JSONResponse({"error": f"prediction failed: {error}"[:500]}, status_code=500)

    if settings.token:
        app.add_middleware(TokenMiddleware, token=settings.token)
    app.state.batcher = batcher
    app.include_router(_status_routes(predictor, settings, batcher, metrics))
    app.include_router(_predict_route(predictor, settings, batcher, metrics))
    app.include_router(v2_routes(predictor, settings, batcher))

    @app.exception_handler(StarletteHTTPException)
    async def no_route(_: Request, error: StarletteHTTPException) -> JSONResponse:
        """Unknown routes and methods: the documented error shape, counted like the rest."""
        metrics.requests.labels(str(error.status_code)).inc()
        return JSONResponse({"error": str(error.detail)}, status_code=error.status_code)

    @app.exception_handler(ProtocolError)
    async def protocol_error(_: Request, error: ProtocolError) -> JSONResponse:
        metrics.requests.labels(str(error.status)).inc()
        return JSONResponse({"error": error.message}, status_code=error.status)

    @app.exception_handler(QueueFullError)
    async def busy(_: Request, error: QueueFullError) -> JSONResponse:
        metrics.requests.labels("429").inc()
        return JSONResponse(
            {"error": f"the server is busy ({settings.max_queue} images queued); retry"},
            status_code=429, headers={"Retry-After": "1"},
        )  # fmt: skip

    return app


def _status_routes(
    predictor: Predictor, settings: ServeSettings, batcher: Batcher, metrics: _Metrics
) -> APIRouter:
    """Health, readiness, Prometheus metrics and the model's description."""
    router, bundle = APIRouter(), predictor.bundle

    @router.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/ready")
    def ready() -> JSONResponse:
        body = {"ready": batcher.running, "model": bundle.name, "backend": predictor.backend}
        return JSONResponse(body, status_code=200 if batcher.running else 503)

    @router.get("/metrics")
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @router.get("/v1/model")
    def model() -> dict[str, Any]:
        return {
            "name": bundle.name,
            "labels": bundle.labels,
            "preprocessing": bundle.preprocessing.model_dump(mode="json"),
            "backend": predictor.backend,
            "max_batch": settings.max_batch,
        }

    return router


def _predict_route(
    predictor: Predictor, settings: ServeSettings, batcher: Batcher, metrics: _Metrics
) -> APIRouter:
    """``POST /v1/predict``: images in (multipart or base64 JSON), top classes out, through
    the batcher; every answer counted and timed."""
    router, bundle = APIRouter(), predictor.bundle

    async def answers(request: Request, top: int | None) -> JSONResponse:
        if top is not None and top < 1:
            raise RequestError(422, "top must be at least 1")
        named = await _images_of(request, settings)
        arrays = await asyncio.to_thread(
            lambda: [preprocess(data, bundle, name) for name, data in named]
        )
        probabilities = await batcher.submit(arrays)
        k = min(top or settings.top, len(bundle.labels))
        found = [
            predictor.answer(name, row, k).as_dict()
            for (name, _), row in zip(named, probabilities, strict=True)
        ]
        return JSONResponse({"predictions": found})

    @router.post("/v1/predict")
    async def predict(request: Request, top: int | None = None) -> JSONResponse:
        started = time.perf_counter()
        try:
            response = await answers(request, top)
        except RequestError as e:
            response = JSONResponse({"error": e.message}, status_code=e.status)
        except DataError as e:
            response = JSONResponse({"error": str(e)}, status_code=400)
        except QueueFullError:
            response = JSONResponse(
                {"error": f"the server is busy ({settings.max_queue} images queued); retry"},
                status_code=429,
                headers={"Retry-After": "1"},
            )
        metrics.requests.labels(str(response.status_code)).inc()
        metrics.latency.observe(time.perf_counter() - started)
        return response

    return router


class RequestError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


async def _images_of(request: Request, settings: ServeSettings) -> list[tuple[str, bytes]]:
    """(name, bytes) of each image in a multipart upload or a JSON body of base64 images."""
    declared = request.headers.get("content-length")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if declared is None and kind == "multipart/form-data":
        raise RequestError(411, "multipart uploads need a Content-Length")
    if declared is not None and (not declared.isdigit() or int(declared) > settings.max_body_bytes):
        raise RequestError(413, f"request body over {settings.max_body_bytes:,} bytes")
    if kind == "multipart/form-data":
        form = await request.form(
            max_files=MAX_IMAGES_PER_REQUEST, max_part_size=settings.max_body_bytes
        )
        files = [
            (v.filename or k, await v.read()) for k, v in form.multi_items() if hasattr(v, "read")
        ]
    elif kind == "application/json":
        files = _base64_images(await _capped_body(request, settings.max_body_bytes))
    else:
        raise RequestError(
            415, "send images as multipart/form-data or JSON {\"image\": base64} "
            f"(got content type {kind or 'none'!r})",
        )  # fmt: skip
    if not files:
        raise RequestError(422, "the request holds no image")
    if len(files) > MAX_IMAGES_PER_REQUEST:
        raise RequestError(413, f"more than {MAX_IMAGES_PER_REQUEST} images in one request")
    return files


async def _capped_body(request: Request, cap: int) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            raise RequestError(413, f"request body over {cap:,} bytes")
    return bytes(body)


def _base64_images(body: bytes) -> list[tuple[str, bytes]]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise RequestError(400, "the body is not valid JSON") from None
    if not isinstance(document, dict) or not ("image" in document or "images" in document):
        raise RequestError(422, 'JSON bodies are {"image": base64} or {"images": [base64, ...]}')
    encoded = [document["image"]] if "image" in document else document["images"]
    if not isinstance(encoded, list) or not all(isinstance(e, str) for e in encoded):
        raise RequestError(422, "images must be base64 strings")
    images = []
    for i, text in enumerate(encoded):
        try:
            images.append((f"image {i}", base64.b64decode(text, validate=True)))
        except (binascii.Error, ValueError):
            raise RequestError(400, f"image {i}: not valid base64") from None
    return images


def serve(
    predictor: Predictor,
    settings: ServeSettings,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    grace_seconds: int = 30,
) -> None:
    """Run the server until SIGINT/SIGTERM; requests in flight are answered before it ends."""
    import sys

    import uvicorn

    # The batcher thread takes the GIL back after every PyTorch operator; with the default
    # 5 ms switch interval, request threads holding it make an eager forward wait ~1 ms per
    # operator (measured: ResNet-18 at 64x64, batch 1, 70 ms instead of 8 ms).
    sys.setswitchinterval(SWITCH_INTERVAL)

    with serving(predictor.bundle):
        uvicorn.run(
            create_server(predictor, settings),
            host=host,
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=grace_seconds,
        )
