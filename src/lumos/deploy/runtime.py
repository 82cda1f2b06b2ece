"""Predictors: a classification bundle loaded for inference on one backend, one API.

``torch`` runs the bundle's network eagerly; ``onnxruntime`` runs an ONNX artefact on the CPU,
``onnxruntime-cuda`` and ``tensorrt`` on ONNX Runtime's CUDA and TensorRT execution providers
where they are installed. Every backend takes the same 0-1 float batches (N, C, H, W) and gives
the same logits, so :meth:`Predictor.predict` answers alike whichever runs underneath.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from lumos.deploy.bundle import Bundle, BundleError
from lumos.deploy.predict import Prediction, network_input, preprocess
from lumos.errors import DataError, LumosError

BACKENDS = ("torch", "onnxruntime", "onnxruntime-cuda", "tensorrt")
_PROVIDERS = {
    "onnxruntime": ["CPUExecutionProvider"],
    "onnxruntime-cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
}


class BackendError(LumosError):
    """A backend that is unknown or not available on this machine."""


def available_backends() -> list[str]:
    """The backends this machine can run."""
    import onnxruntime as ort

    providers = set(ort.get_available_providers())
    return ["torch"] + [name for name, wanted in _PROVIDERS.items() if wanted[0] in providers]


def onnx_session(
    model: str | Path | bytes, backend: str = "onnxruntime", threads: int | None = None
):
    """An ONNX Runtime session on ``backend`` with every graph optimisation on."""
    import onnxruntime as ort

    if backend not in _PROVIDERS:
        raise BackendError(f"{backend!r} is not an ONNX Runtime backend ({', '.join(_PROVIDERS)})")
    if backend not in available_backends():
        raise BackendError(
            f"backend {backend!r} needs {_PROVIDERS[backend][0]}, which this machine's "
            f"onnxruntime lacks (available: {', '.join(available_backends())})"
        )
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or len(os.sched_getaffinity(0))
    options.log_severity_level = 3
    source = model if isinstance(model, bytes) else str(model)
    try:
        return ort.InferenceSession(source, options, providers=_PROVIDERS[backend])
    except Exception as e:  # onnxruntime raises its own untyped errors
        where = "model" if isinstance(model, bytes) else str(model)
        raise BundleError(
            f"{where}: ONNX Runtime cannot load it ({str(e).splitlines()[0]})"
        ) from None


class Predictor:
    """A classification bundle on a backend: float batches or images in, scores out."""

    def __init__(
        self,
        bundle: Bundle,
        backend: str = "torch",
        *,
        artefact: str | Path | bytes | None = None,
        device: str = "cpu",
        threads: int | None = None,
        trust_code: bool = False,
    ) -> None:
        if backend not in BACKENDS:
            raise BackendError(f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
        if bundle.meta.get("task", "classification") != "classification":
            raise BundleError(
                f"{bundle.origin}: predictors run classification bundles; "
                f"use `lumos predict` for a {bundle.meta.get('task')} bundle"
            )
        self.bundle = bundle
        self.backend = backend
        self.labels = bundle.labels
        if backend == "torch":
            self._model = bundle.model(device, trust_code=trust_code)
            self._device = device
        else:
            if artefact is None:
                from lumos.deploy.export import onnx_bytes

                artefact = onnx_bytes(bundle, trust_code=trust_code)
            self._session = onnx_session(artefact, backend, threads)
            self._input = self._session.get_inputs()[0].name

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """(N, K) logits of a float32 (N, C, H, W) batch in 0-1 at the network's input size."""
        if self.backend == "torch":
            with torch.inference_mode():
                return self._model(torch.from_numpy(batch).to(self._device)).float().cpu().numpy()
        return self._session.run(None, {self._input: batch})[0]

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        logits = torch.from_numpy(np.asarray(self.logits(batch), dtype=np.float32))
        scores = torch.sigmoid(logits) if self.bundle.multi_label else torch.softmax(logits, 1)
        return scores.numpy()

    def classify(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """(N, K) probabilities of preprocessed (H, W, C) uint8 images."""
        return self.probabilities(network_input(images, self.bundle).numpy())

    def answer(self, source: str, probabilities: np.ndarray, top: int = 5) -> Prediction:
        """One image's :class:`Prediction` from its row of probabilities."""
        order = np.argsort(-probabilities, kind="stable")[: min(top, len(self.labels))]
        prediction = Prediction(
            source, top=[(self.labels[i], float(probabilities[i])) for i in order]
        )
        if self.bundle.multi_label:
            thresholds = np.asarray(self.bundle.meta.get("thresholds") or [0.5] * len(self.labels))
            prediction.labels = [
                self.labels[i] for i in np.flatnonzero(probabilities >= thresholds)
            ]
        else:
            prediction.labels = [self.labels[int(order[0])]]
        return prediction

    def predict(
        self, inputs: Sequence[str | Path | np.ndarray], *, top: int = 5, batch_size: int = 64
    ) -> list[Prediction]:
        """Predict files or arrays; unreadable ones carry an error instead of scores."""
        results: list[Prediction] = []
        for start in range(0, len(inputs), batch_size):
            ready: list[tuple[int, np.ndarray]] = []
            for item in inputs[start : start + batch_size]:
                name = "array" if isinstance(item, np.ndarray) else str(item)
                results.append(Prediction(name))
                try:
                    image = preprocess(
                        item if isinstance(item, np.ndarray) else Path(item), self.bundle
                    )
                    ready.append((len(results) - 1, image))
                except DataError as e:
                    results[-1].error = e.reason
            if ready:
                scores = self.classify([image for _, image in ready])
                for (position, _), row in zip(ready, scores, strict=True):
                    results[position] = self.answer(results[position].source, row, top)
        return results


def predictor_for(bundle: Bundle, target: str, *, trust_code: bool = False) -> Predictor:
    """The predictor a target names: ``backend`` or ``backend:artefact``."""
    backend, _, artefact = target.partition(":")
    if backend not in BACKENDS:
        raise BackendError(
            f"unknown target {target!r}: a backend ({', '.join(BACKENDS)}), "
            "optionally with :artefact"
        )
    if artefact and backend == "torch":
        raise BackendError(f"{target!r}: artefacts run on ONNX Runtime backends, not torch")
    return Predictor(
        bundle,
        backend,
        artefact=bundle.artefact(artefact) if artefact else None,
        trust_code=trust_code,
    )
