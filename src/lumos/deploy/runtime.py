"""Predictors: a classification bundle loaded for inference on one backend, one API.

``torch`` runs the bundle's network eagerly; ``onnxruntime`` runs an ONNX artefact on the CPU,
``onnxruntime-cuda`` and ``tensorrt`` on ONNX Runtime's CUDA and TensorRT execution providers
where they are installed. Every backend takes the same 0-1 float batches (N, C, H, W) and gives
the same logits, so :meth:`Predictor.predict` answers alike whichever runs underneath.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lumos.bundle import Bundle, BundleError
from lumos.deploy.export import onnx_bytes
from lumos.deploy.sessions import BACKENDS, BackendError, onnx_session
from lumos.tasks.classification.result import (
    Prediction,
    answer,
    predict_batches,
    probabilities,
    torch_logits,
)
from lumos.tasks.inputs import network_input


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
        if not bundle.task.scores_images:
            raise BundleError(
                f"{bundle.origin}: predictors run classifiers; "
                f"use `lumos predict` for a {bundle.task.noun}"
            )
        self.bundle = bundle
        self.backend = backend
        self.labels = bundle.labels
        if backend == "torch":
            self._logits = torch_logits(bundle.model(device, trust_code=trust_code), device)
        else:
            if artefact is None:
                artefact = onnx_bytes(bundle, trust_code=trust_code)
            session = onnx_session(artefact, backend, threads)
            name = session.get_inputs()[0].name
            self._logits = lambda batch: session.run(None, {name: batch})[0]

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """(N, K) logits of a float32 (N, C, H, W) batch in 0-1 at the network's input size."""
        return self._logits(batch)

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        return probabilities(self.logits(batch), self.bundle.multi_label)

    def classify(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """(N, K) probabilities of preprocessed (H, W, C) uint8 images."""
        return self.probabilities(network_input(images, self.bundle).numpy())

    def answer(self, source: str, scores: np.ndarray, top: int = 5) -> Prediction:
        """One image's :class:`Prediction` from its row of probabilities."""
        return answer(self.bundle, source, scores, top)

    def predict(
        self, inputs: Sequence[str | Path | np.ndarray], *, top: int = 5, batch_size: int = 64
    ) -> list[Prediction]:
        """Predict files or arrays; unreadable ones carry an error instead of scores."""
        return predict_batches(self.bundle, self.logits, inputs, top=top, batch_size=batch_size)


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
