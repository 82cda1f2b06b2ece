"""The models one ``lumos serve`` holds: each with its own batcher and metrics, loaded and
unloaded by name while the server runs (Triton's model repository, over a lumos workspace).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from lumos.bundle import Bundle, serving
from lumos.data.geometry import placement
from lumos.deploy.batcher import Batcher
from lumos.deploy.runtime import Predictor
from lumos.errors import LumosError
from lumos.tasks.base import Result, Seen
from lumos.tasks.inputs import seen

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Loader(Protocol):
    """Where a server finds models to load while it runs (a workspace's saved models)."""

    def names(self) -> list[str]:
        """The models that could be loaded."""
        ...

    def load(self, name: str) -> Predictor:
        """Model ``name``'s predictor; a LumosError says why it cannot be loaded."""
        ...


@dataclass
class ServeSettings:
    max_batch: int = 32
    max_delay_ms: float = 5.0
    max_queue: int = 256
    max_body_bytes: int = 16 << 20
    top: int = 5
    token: str | None = None


class ServeError(LumosError):
    """A request the server refuses: its HTTP ``status`` and one line; ``model`` names the
    model it was for, as the metrics count it."""

    def __init__(self, status: int, message: str, model: str = "") -> None:
        super().__init__(message)
        self.status, self.message, self.model = status, message, model


class NotServedError(ServeError):
    """A model this server does not hold."""

    def __init__(self, message: str) -> None:
        super().__init__(404, message)


class ServeMetrics:
    """Prometheus metrics of every served model, labelled by model."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "lumos_requests", "Requests by model and HTTP status.", ["model", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "lumos_request_seconds", "Time from request to answer.", ["model"],
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.batch = Histogram(
            "lumos_batch_size", "Images run together.", ["model"], buckets=BATCH_BUCKETS,
            registry=self.registry,
        )  # fmt: skip
        self.queued = Gauge("lumos_queue_depth", "Images waiting.", ["model"],
                            registry=self.registry)  # fmt: skip

    def observer(self, model: str) -> Callable[[int, int], None]:
        def observe(size: int, waiting: int) -> None:
            self.batch.labels(model).observe(size)
            self.queued.labels(model).set(waiting)

        return observe


class ServedModel:
    """One model behind the server: its predictor and its batcher. While served, its
    bundle is marked so that ``lumos models remove`` refuses to pull it away."""

    def __init__(self, name: str, predictor: Predictor, batcher: Batcher) -> None:
        self.name, self.predictor, self.batcher = name, predictor, batcher
        self._held = contextlib.ExitStack()
        self._held.enter_context(serving(predictor.bundle))

    def close(self) -> None:
        """Answer what is queued, stop the batcher, release the bundle."""
        self.batcher.stop()
        self._held.close()

    @property
    def bundle(self) -> Bundle:
        return self.predictor.bundle

    async def from_files(self, files: Sequence[tuple[str, bytes]], top: int) -> list[Result]:
        """Answers for image files, decoded and preprocessed as in training, through the
        batcher; a file that cannot be read raises its DataError."""
        bundle = self.bundle
        ready = await asyncio.to_thread(lambda: [seen(data, bundle, n) for n, data in files])
        shares = await self.batcher.submit([image.pixels for image in ready])
        answer = self.predictor.answer
        return [answer(share, image, top) for share, image in zip(shares, ready, strict=True)]

    async def from_tensor(self, batch: np.ndarray, top: int) -> list[Result]:
        """Answers for a float batch at the network's input size, run at once; boxes are in
        input pixels."""
        pre = self.bundle.preprocessing
        stored = (pre.size[1], pre.size[0])
        where = placement((pre.input_size[1], pre.input_size[0]), stored, "squash")
        outputs = await asyncio.to_thread(self.predictor.outputs, batch)
        pixels = (batch.transpose(0, 2, 3, 1) * 255).round().clip(0, 255).astype(np.uint8)
        return [
            self.predictor.answer(share, Seen(f"images[{i}]", pixels[i], where), top)
            for i, share in enumerate(self.bundle.task.split_outputs(outputs, len(batch)))
        ]


class ModelRepository:
    """The served models by name; ``loader`` makes a model's predictor for the load API."""

    def __init__(
        self, settings: ServeSettings, metrics: ServeMetrics, loader: Loader | None = None
    ) -> None:
        self.settings, self.metrics, self.loader = settings, metrics, loader
        self.models: dict[str, ServedModel] = {}
        self.running = False

    def add(self, predictor: Predictor) -> ServedModel:
        """Serve ``predictor`` under its bundle's name (replacing a model of that name)."""
        name = predictor.bundle.name
        old = self.models.pop(name, None)
        if old is not None:
            old.close()
        s = self.settings
        batcher = Batcher(
            predictor, s.max_batch, s.max_delay_ms, s.max_queue, self.metrics.observer(name)
        )
        if self.running:
            batcher.start()
        self.models[name] = ServedModel(name, predictor, batcher)
        return self.models[name]

    def get(self, name: str) -> ServedModel:
        if name not in self.models:
            held = ", ".join(sorted(self.models)) or "none"
            raise NotServedError(f"no model {name!r} is served (this server has: {held})")
        return self.models[name]

    def only(self) -> ServedModel:
        """The one model served, for the routes that name none."""
        if len(self.models) != 1:
            names = ", ".join(sorted(self.models)) or "none"
            raise NotServedError(
                f"this server has {len(self.models)} models ({names}): name one in the path, "
                "as /v1/models/NAME/predict"
            )
        return next(iter(self.models.values()))

    async def load(self, name: str) -> ServedModel:
        """(Re)load model ``name`` through the loader (in a thread: an export may run)."""
        if self.loader is None:
            raise LumosError("this server was not given a way to load models")
        return self.add(await asyncio.to_thread(self.loader.load, name))

    def index(self) -> list[dict[str, str]]:
        """Every model the server holds or could load, with its state (Triton's index)."""
        served = [{"name": n, "version": "1", "state": "READY"} for n in sorted(self.models)]
        others = sorted(set(self.loader.names()) - set(self.models)) if self.loader else []
        return served + [
            {"name": n, "version": "1", "state": "UNAVAILABLE", "reason": "unloaded"}
            for n in others
        ]

    def unload(self, name: str) -> None:
        self.get(name).close()
        del self.models[name]

    def start(self) -> None:
        self.running = True
        for model in self.models.values():
            model.batcher.start()

    def stop(self) -> None:
        """Answer everything queued in every model, then stop their batchers."""
        self.running = False
        for model in self.models.values():
            model.close()

    @property
    def ready(self) -> bool:
        return self.running and all(m.batcher.running for m in self.models.values())

    def describe(self, model: ServedModel) -> dict[str, Any]:
        bundle = model.bundle
        return {
            "name": model.name,
            "task": bundle.task.name,
            "labels": bundle.labels,
            "preprocessing": bundle.preprocessing.model_dump(mode="json"),
            "backend": model.predictor.backend,
            "max_batch": self.settings.max_batch,
        }
