"""Predictors: a bundle loaded for inference on one backend, one API for every task.

``torch`` runs the bundle's network eagerly; ``onnxruntime`` runs an ONNX artefact on the CPU,
``onnxruntime-cuda`` and ``tensorrt`` on ONNX Runtime's CUDA and TensorRT execution providers
where they are installed. Every backend runs the same graph (the module lumos exports:
a detector's with decoding and NMS inside) on the same 0-1 float batches (N, C, H, W), and
gives the same outputs; the bundle's task turns them into answers, so
:meth:`Predictor.answers` answers alike whichever runs underneath.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lumos.bundle import Bundle, BundleError, list_bundles
from lumos.data.geometry import Placement
from lumos.deploy.export import exportable, onnx_bytes
from lumos.deploy.sessions import BACKENDS, BackendError, onnx_session
from lumos.tasks.base import GraphRun, Result
from lumos.tasks.classification.result import Prediction, predict_batches, probabilities
from lumos.tasks.inputs import network_input
from lumos.workspace import Workspace


class Predictor:
    """A bundle on a backend: float batches or preprocessed images in, its graph's outputs
    or the task's answers out."""

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
        self.bundle = bundle
        self.backend = backend
        self.labels = bundle.labels
        self._run: GraphRun
        if backend == "torch":
            graph = exportable(bundle, bundle.model(device, trust_code=trust_code))[0]
            self._run = _torch_run(graph, device)
        else:
            if artefact is None:
                artefact = onnx_bytes(bundle, trust_code=trust_code)
            session = onnx_session(artefact, backend, threads)
            name = session.get_inputs()[0].name
            self._run = lambda batch: session.run(None, {name: batch})

    def outputs(self, batch: np.ndarray) -> list[np.ndarray]:
        """The graph's outputs for a float32 (N, C, H, W) batch in 0-1 at the input size."""
        return self._run(batch)

    def answers(
        self, images: Sequence[np.ndarray], sources: Sequence[str],
        placements: Sequence[Placement], top: int = 5,
    ) -> list[Result]:  # fmt: skip
        """The task's answers for preprocessed (H, W, C) uint8 images."""
        task = self.bundle.task
        shares = task.split_outputs(
            self.outputs(network_input(images, self.bundle).numpy()), len(images)
        )
        return [
            task.graph_answer(self.bundle, share, source, where, top)
            for share, source, where in zip(shares, sources, placements, strict=True)
        ]

    # -- classifiers ----------------------------------------------------------------------

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """(N, K) logits of a classifier for a float32 (N, C, H, W) batch."""
        return self.outputs(batch)[0]

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        return probabilities(self.logits(batch), self.bundle.multi_label)

    def classify(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """(N, K) probabilities of preprocessed (H, W, C) uint8 images."""
        return self.probabilities(network_input(images, self.bundle).numpy())

    def predict(
        self, inputs: Sequence[str | Path | np.ndarray], *, top: int = 5, batch_size: int = 64
    ) -> list[Prediction]:
        """Classify files or arrays; unreadable ones carry an error instead of scores."""
        if not self.bundle.task.scores_images:
            raise BundleError(
                f"{self.bundle.origin}: this predicts classes; "
                f"use `lumos predict` for a {self.bundle.task.noun}"
            )
        return predict_batches(self.bundle, self.logits, inputs, top=top, batch_size=batch_size)


def _torch_run(graph: torch.nn.Module, device: str) -> GraphRun:
    def run(batch: np.ndarray) -> list[np.ndarray]:
        with torch.inference_mode():
            found = graph(torch.from_numpy(batch).to(device))
        found = found if isinstance(found, (tuple, list)) else [found]
        return [
            o.float().cpu().numpy() if o.is_floating_point() else o.cpu().numpy() for o in found
        ]

    return run


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


@dataclass
class WorkspaceModels:
    """The saved models of a workspace, each loaded on ``target`` (a backend, optionally
    with ``:artefact``): what ``lumos serve`` loads while it runs."""

    workspace: Workspace
    target: str = "onnxruntime"
    trust_code: bool = False

    def names(self) -> list[str]:
        return [row["name"] for row in list_bundles(self.workspace)]

    def load(self, name: str) -> Predictor:
        bundle = Bundle.load(name, self.workspace)
        return predictor_for(bundle, self.target, trust_code=self.trust_code)
