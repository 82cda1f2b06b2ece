"""ONNX Runtime sessions on the backends this machine has.

``torch`` runs a bundle's network eagerly on the CPU, ``torch-cuda`` on the GPU where there
is one; ``onnxruntime`` runs an ONNX artefact on the CPU,
``onnxruntime-cuda`` and ``tensorrt`` on ONNX Runtime's CUDA and TensorRT execution providers
where they are installed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import get_args

import onnxruntime as ort
import torch

from lumos.choices import Backend
from lumos.errors import BundleError, LumosError

BACKENDS: tuple[Backend, ...] = get_args(Backend)
# PyTorch's backends and the device each runs on (None: the one asked for, the CPU by default)
EAGER_DEVICES = {"torch": None, "torch-cuda": "cuda"}
_PROVIDERS = {
    "onnxruntime": ["CPUExecutionProvider"],
    "onnxruntime-cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
}


class BackendError(LumosError):
    """A backend that is unknown or not available on this machine."""


def available_backends() -> list[str]:
    """The backends this machine can run."""
    providers = set(ort.get_available_providers())
    eager = ["torch", "torch-cuda"] if torch.cuda.is_available() else ["torch"]
    return eager + [name for name, wanted in _PROVIDERS.items() if wanted[0] in providers]


def onnx_session(
    model: str | Path | bytes, backend: str = "onnxruntime", threads: int | None = None
):
    """An ONNX Runtime session on ``backend`` with every graph optimisation on."""
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
