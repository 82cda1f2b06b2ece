"""Export: a bundle as an ONNX or TorchScript file, checked against PyTorch.

The exported graph takes 0-1 float images (N, C, H, W) at the network's input size: the
normalisation is inside it (see :mod:`lumos.models.normalization`), and the labels and
preprocessing travel with it (ONNX metadata ``lumos``, TorchScript extra file
``lumos.json``). What is traced is the task's ``export_graph``: a classifier gives
``logits`` (N, K), a segmenter ``logits`` (N, K, H, W), a detector (ONNX only) its boxes
with decoding and NMS inside the graph (:mod:`lumos.tasks.detection.export_graph`). Every
export runs next to PyTorch on real images before it is written (top-1, pixel or box
agreement); one that differs is refused and nothing is left behind.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import numpy as np
import torch

from lumos import __version__
from lumos.bundle import META, Bundle
from lumos.choices import ExportFormat
from lumos.data import Dataset
from lumos.data.loader import INPUT_RESAMPLING
from lumos.deploy.sessions import onnx_session
from lumos.errors import DataError, ExportError, WorkspaceError
from lumos.fileio import write_bytes_atomic
from lumos.tasks.inputs import network_input
from lumos.tasks.predictor import export_graph

FORMATS: tuple[ExportFormat, ...] = get_args(ExportFormat)
SUFFIXES = {"onnx": ".onnx", "torchscript": ".pt"}
DEFAULT_OPSET = 18
METADATA = "lumos"
CHECK_IMAGES = 32


@dataclass
class ExportCheck:
    """How an exported graph compares with PyTorch on ``images`` inputs."""

    source: str
    images: int
    max_abs_diff: float
    agreement: float  # share of inputs (pixels, confident boxes) given the same class
    kind: str = "top-1"

    def line(self) -> str:
        return (
            f"checked on {self.source}: max |Δ| {self.max_abs_diff:.2e}, "
            f"{self.kind} agreement {self.agreement:.1%} ({self.images} images)"
        )


@dataclass
class Export:
    path: Path
    format: str
    check: ExportCheck


def metadata(bundle: Bundle) -> dict[str, Any]:
    """What an exported graph carries about its bundle: enough to feed it and read it."""
    return {
        "name": bundle.name,
        "task": bundle.task.name,
        "labels": bundle.labels,
        "multi_label": bundle.multi_label,
        "thresholds": bundle.meta.thresholds,
        "preprocessing": bundle.preprocessing.model_dump(mode="json"),
        "input": "float32 (N, C, H, W) in 0-1 at preprocessing.input_size; normalised inside",
        "size_order": "height, width",  # of preprocessing.size and preprocessing.input_size
        "resampling": {
            "to_size": bundle.preprocessing.resizing,
            "to_input_size": INPUT_RESAMPLING,
        },
        "lumos_version": __version__,
    }


def example_input(bundle: Bundle, batch: int = 2) -> torch.Tensor:
    return torch.rand(batch, bundle.spec.in_channels, *bundle.preprocessing.input_size)


def onnx_bytes(
    bundle: Bundle,
    *,
    opset: int = DEFAULT_OPSET,
    dynamic_batch: bool = True,
    model: torch.nn.Module | None = None,
    trust_code: bool = False,
) -> bytes:
    """The bundle's network (or ``model``, a modified copy of it) as a serialised ONNX model."""
    import onnx

    if not 7 <= opset <= onnx.defs.onnx_opset_version():
        raise ExportError(f"opset {opset} is outside 7-{onnx.defs.onnx_opset_version()}")
    model = model if model is not None else bundle.model(trust_code=trust_code)
    graph, outputs, translations = export_graph(bundle, model)
    batch = torch.export.Dim("batch", min=1, max=65536)
    # The exporter reports progress on stdout and warns about every decomposition.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(
                graph,
                (example_input(bundle, 2 if dynamic_batch else 1),),
                dynamo=True,
                opset_version=opset,
                input_names=["images"],
                output_names=outputs,
                dynamic_shapes=({0: batch},) if dynamic_batch else None,
                custom_translation_table=translations,
                verbose=False,
            )
        except Exception as e:  # the exporter raises many types; each names the failing op
            raise ExportError(f"{bundle.origin}: cannot export to ONNX: {_reason(e)}") from None
    proto = program.model_proto
    onnx.helper.set_model_props(proto, {METADATA: json.dumps(metadata(bundle))})
    return proto.SerializeToString()


def read_metadata(source: str | Path | bytes) -> dict[str, Any]:
    """The ``lumos`` metadata of an exported ONNX file (or its bytes)."""
    import onnx

    where = "model" if isinstance(source, bytes) else str(source)
    try:
        proto = (
            onnx.load_from_string(source)
            if isinstance(source, bytes)
            else onnx.load(where, load_external_data=False)
        )
    except Exception as e:  # protobuf decode errors
        raise ExportError(f"{where}: not an ONNX model ({str(e).splitlines()[0]})") from None
    props = {p.key: p.value for p in proto.metadata_props}
    if METADATA not in props:
        raise ExportError(f"{where}: an ONNX model without lumos metadata")
    return json.loads(props[METADATA])


def check_images(
    bundle: Bundle,
    dataset: Dataset | None = None,
    *,
    count: int = CHECK_IMAGES,
    split: str = "test",
) -> tuple[np.ndarray, str]:
    """Up to ``count`` real images as the network's float batch, and where they came from.

    ``dataset`` defaults to the one the bundle was trained on; when neither exists, random
    images stand in (and the source says so).
    """
    dataset = dataset or _training_dataset(bundle)
    if dataset is None:
        rng = np.random.default_rng(0)
        height, width = bundle.preprocessing.size
        images = rng.integers(0, 256, (count, height, width, bundle.preprocessing.channels))
        return network_input(list(images.astype(np.uint8)), bundle).numpy(), "random images"
    part = compatible_split(bundle, dataset, split)
    n = min(count, len(part))
    return network_input(part.images(np.arange(n)), bundle).numpy(), (
        f"{part.name!r} {split if part is not dataset else 'all'} images"
    )


def compatible_split(bundle: Bundle, dataset: Dataset, split: str) -> Dataset:
    """``split`` of ``dataset`` (or all of it when that split is empty), if its images can
    feed ``bundle``; otherwise a DataError that says why."""
    wanted = bundle.preprocessing.channels
    if dataset.channels != wanted:
        raise DataError(
            None,
            f"dataset {dataset.name!r} has {dataset.channels}-channel images; "
            f"model {bundle.name!r} takes {wanted}",
        )
    part = dataset.split(split)
    return part if len(part) else dataset


def export_bundle(
    bundle: Bundle,
    out: Path | None = None,
    *,
    format: str = "onnx",
    opset: int = DEFAULT_OPSET,
    dynamic_batch: bool = True,
    dataset: Dataset | None = None,
    trust_code: bool = False,
) -> Export:
    """Write ``bundle`` to ``out`` (default: ``<name>.onnx`` or ``.pt`` in the bundle's
    artefacts) as ``format`` after checking it against PyTorch."""
    if format not in FORMATS:
        raise ExportError(f"unknown format {format!r} (choose {' or '.join(FORMATS)})")
    out = out or bundle.artefact_folder / f"{bundle.name}{SUFFIXES[format]}"
    if format not in bundle.task.export_formats:
        formats = " or ".join(f.upper() for f in bundle.task.export_formats)
        raise ExportError(f"{bundle.origin}: {bundle.task} bundles export to {formats} only")
    model = bundle.model(trust_code=trust_code)
    batch, source = check_images(bundle, dataset)
    with torch.inference_mode():
        reference = model(torch.from_numpy(batch))
    step = len(batch) if dynamic_batch or format != "onnx" else 1
    if format == "onnx":
        data = onnx_bytes(bundle, opset=opset, dynamic_batch=dynamic_batch, model=model)
        session = onnx_session(data)
        runs = [
            session.run(None, {"images": batch[i : i + step]}) for i in range(0, len(batch), step)
        ]
    else:
        data, outputs = _torchscript(bundle, model, batch)
        runs = [[outputs]]
    agreed = bundle.task.export_agreement(reference, runs, step)
    check = ExportCheck(source, len(batch), agreed.max_abs_diff, agreed.agreement, agreed.kind)
    refused = not agreed.close_enough
    if refused:
        raise ExportError(f"{out}: the {format} export differs from PyTorch; {check.line()}")
    write_bytes_atomic(out, data)
    return Export(out, format, check)


def current_onnx(bundle: Bundle) -> Path:
    """The bundle's default ONNX export, made (and checked) again only when it is missing or
    older than the bundle."""
    path = bundle.artefact_folder / f"{bundle.name}{SUFFIXES['onnx']}"
    saved = Path(bundle.origin) / META if bundle.folder else Path(bundle.origin)
    if not path.is_file() or path.stat().st_mtime_ns <= saved.stat().st_mtime_ns:
        export_bundle(bundle, path)
    return path


def _torchscript(
    bundle: Bundle, model: torch.nn.Module, batch: np.ndarray
) -> tuple[bytes, np.ndarray]:
    """The traced network as TorchScript bytes, and its logits on ``batch`` after a reload."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            traced = torch.jit.trace(model, example_input(bundle), check_trace=False)
        except Exception as e:  # tracing failures come as many types
            raise ExportError(f"{bundle.origin}: cannot trace the network: {_reason(e)}") from None
        buffer = io.BytesIO()
        torch.jit.save(traced, buffer, _extra_files={"lumos.json": json.dumps(metadata(bundle))})
        with tempfile.TemporaryFile() as f:
            f.write(buffer.getvalue())
            f.seek(0)
            reloaded = torch.jit.load(f)
    with torch.inference_mode():
        return buffer.getvalue(), reloaded(torch.from_numpy(batch)).float().numpy()


def _training_dataset(bundle: Bundle) -> Dataset | None:
    name = bundle.meta.provenance.get("dataset")
    if not name:
        return None
    try:
        dataset = Dataset.open(name)
    except (WorkspaceError, DataError):
        return None
    return dataset if dataset.channels == bundle.preprocessing.channels else None


def _reason(error: Exception) -> str:
    """One line naming the operator the exporter could not translate, when it says which."""
    text = str(error)
    op = re.search(r"op='([\w.]+)'", text) or re.search(r"\b((?:aten|prims?)(?:::|\.)\w+)", text)
    if op:
        return f"operator {op.group(1)} is not supported by this format"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
