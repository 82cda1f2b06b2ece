"""Predictors on a named backend: the one prediction pipeline
(:class:`~lumos.tasks.predictor.Predictor`) over an exported graph.

``torch`` runs the bundle's graph in PyTorch; ``onnxruntime`` runs an ONNX artefact on the
CPU, ``onnxruntime-cuda`` and ``tensorrt`` on ONNX Runtime's CUDA and TensorRT execution
providers where they are installed. Every backend runs the same graph (a detector's with
decoding and NMS inside) on the same 0-1 float batches (N, C, H, W), and gives the same
outputs; the bundle's task turns them into answers, whichever runs underneath.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lumos.bundle import Bundle, list_bundles
from lumos.deploy.export import onnx_bytes
from lumos.deploy.sessions import (
    BACKENDS,
    EAGER_DEVICES,
    BackendError,
    available_backends,
    onnx_session,
)
from lumos.errors import LumosError
from lumos.tasks.predictor import Predictor
from lumos.workspace import Workspace

__all__ = ["Predictor", "WorkspaceModels", "load_predictor", "predictor_for"]


def load_predictor(
    bundle: Bundle,
    backend: str = "torch",
    *,
    artefact: str | Path | bytes | None = None,
    device: str = "cpu",
    threads: int | None = None,
    trust_code: bool = False,
) -> Predictor:
    """``bundle`` on ``backend``: ``torch`` runs its graph in PyTorch on ``device``,
    ``torch-cuda`` on the GPU; the others run ``artefact`` (an ONNX file or its bytes; by
    default the bundle exported in memory) on ONNX Runtime with ``threads``."""
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
    if backend in EAGER_DEVICES:
        if backend not in available_backends():
            raise BackendError(f"backend {backend!r} needs a CUDA GPU, which this machine lacks")
        return Predictor(bundle, device=EAGER_DEVICES[backend] or device, trust_code=trust_code)
    if artefact is None:
        artefact = onnx_bytes(bundle, trust_code=trust_code)
    session = onnx_session(artefact, backend, threads)
    name = session.get_inputs()[0].name
    return Predictor(bundle, lambda batch: session.run(None, {name: batch}), backend=backend)


def predictor_for(bundle: Bundle, target: str, *, trust_code: bool = False) -> Predictor:
    """The predictor a target names: ``backend`` or ``backend:artefact``."""
    backend, _, artefact = target.partition(":")
    if backend not in BACKENDS:
        raise BackendError(
            f"unknown target {target!r}: a backend ({', '.join(BACKENDS)}), "
            "optionally with :artefact"
        )
    if artefact and backend in EAGER_DEVICES:
        raise BackendError(f"{target!r}: artefacts run on ONNX Runtime backends, not PyTorch")
    return load_predictor(
        bundle, backend, artefact=bundle.artefact(artefact) if artefact else None,
        trust_code=trust_code,
    )  # fmt: skip


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

    def chosen(self, names: Sequence[str], every: bool = False) -> list[Predictor]:
        """The models named, or with ``every`` all saved ones, loaded."""
        if every == bool(names):
            raise LumosError("name the models to serve or ask for all of them, not both")
        names = self.names() if every else names
        if not names:
            raise LumosError("the workspace has no saved model to serve")
        return [self.load(name) for name in names]
