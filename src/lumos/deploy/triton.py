"""A bundle as a model in a Triton Inference Server repository.

``write_model(bundle, root)`` writes ``root/NAME/1/model.onnx`` (the checked ONNX export),
``root/NAME/config.pbtxt`` and ``root/NAME/labels.txt``, so the same model runs unchanged
in Triton on CPUs or GPUs. The configuration is read off the exported graph itself: its
inputs and outputs with their types and dimensions; a graph whose every tensor starts with
the batch gets Triton's dynamic batcher (preferred sizes from a short ``lumos bench`` of the
export unless given), one whose outputs are ragged across the batch (a detector's boxes)
runs unbatched. Instance groups leave the kind to Triton (``KIND_AUTO``: GPUs where there
are some, else the CPU).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lumos.bundle import Bundle
from lumos.data import Dataset
from lumos.deploy.bench import BenchRow, row_of, time_batches
from lumos.deploy.export import ExportCheck, ExportError, example_input, export_bundle
from lumos.deploy.sessions import onnx_session
from lumos.errors import LumosError
from lumos.fileio import staged_directory

LABELS_FILE = "labels.txt"
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
NEAR_PEAK = 0.9  # a batch size is preferred from this share of the best throughput up
BENCH_BATCHES = (1, 2, 4, 8, 16, 32, 64, 128)
# ONNX element types (onnx.TensorProto) as Triton's model configuration names them
TRITON_TYPES = {1: "FP32", 2: "UINT8", 3: "INT8", 5: "INT16", 6: "INT32", 7: "INT64"}
TRITON_TYPES |= {9: "BOOL", 10: "FP16", 11: "FP64", 12: "UINT32", 13: "UINT64", 16: "BF16"}


@dataclass(frozen=True)
class Tensor:
    """One input or output of the graph as Triton's configuration describes it."""

    name: str
    data_type: str  # Triton's name: FP32, INT64, ...
    dims: tuple[int, ...]  # without the batch when batched; -1 for a size that varies
    label_file: bool = False  # carries one score per label (classification extension)

    def entry(self) -> str:
        dims = ", ".join(str(d) for d in self.dims)
        labels = f' label_filename: "{LABELS_FILE}"' if self.label_file else ""
        return (
            f'  {{ name: "{self.name}" data_type: TYPE_{self.data_type} dims: [ {dims} ]{labels} }}'
        )


@dataclass(frozen=True)
class Batching:
    """How Triton's dynamic batcher gathers requests; ``max_batch`` 0 runs unbatched."""

    max_batch: int
    preferred: tuple[int, ...] = ()
    max_delay_us: int = 5000


@dataclass
class TritonModel:
    folder: Path
    config: Path
    check: ExportCheck
    batching: Batching

    def describe(self) -> list[str]:
        """What was written, how it agreed with PyTorch, how it batches, how to serve it."""
        batching = self.batching
        batches = (
            f"dynamic batching up to {batching.max_batch}, preferred "
            f"{', '.join(map(str, batching.preferred))}"
            if batching.max_batch
            else "unbatched: its outputs are ragged across a batch"
        )
        return [
            f"{self.folder}: model.onnx, config.pbtxt, labels.txt",
            f"  {self.check.line()}",
            f"  {batches}",
            f"  run it: tritonserver --model-repository {self.folder.parent}",
        ]


def graph_tensors(
    onnx_file: Path, labels: Sequence[str]
) -> tuple[list[Tensor], list[Tensor], bool]:
    """(inputs, outputs, batched) of an ONNX file: batched when every tensor's first
    dimension is the inputs' batch dimension, which is then left out of ``dims``."""
    import onnx

    graph = onnx.load(str(onnx_file), load_external_data=False).graph
    shapes = {
        value.name: (value.type.tensor_type.elem_type, list(value.type.tensor_type.shape.dim))
        for value in [*graph.input, *graph.output]
    }
    batch = shapes[graph.input[0].name][1][0].dim_param
    batched = bool(batch) and all(
        dims and dims[0].dim_param == batch for _, dims in shapes.values()
    )

    def tensor(name: str, output: bool) -> Tensor:
        element, dims = shapes[name]
        if element not in TRITON_TYPES:
            raise ExportError(f"{onnx_file}: tensor {name!r} has a type Triton cannot carry")
        sizes = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in dims)
        sizes = sizes[1:] if batched else sizes
        return Tensor(name, TRITON_TYPES[element], sizes, output and sizes == (len(labels),))

    inputs = [tensor(v.name, False) for v in graph.input]
    outputs = [tensor(v.name, True) for v in graph.output]
    return inputs, outputs, batched


def config_text(
    name: str, inputs: list[Tensor], outputs: list[Tensor], batching: Batching, instances: int
) -> str:
    """``config.pbtxt`` in protobuf text format (Triton's ``ModelConfig`` message)."""
    lines = [
        f'name: "{name}"',
        'backend: "onnxruntime"',
        f"max_batch_size: {batching.max_batch}",
        "input [",
        ",\n".join(t.entry() for t in inputs),
        "]",
        "output [",
        ",\n".join(t.entry() for t in outputs),
        "]",
    ]
    if batching.max_batch:
        preferred = ", ".join(str(b) for b in batching.preferred)
        lines.append(
            f"dynamic_batching {{ preferred_batch_size: [ {preferred} ] "
            f"max_queue_delay_microseconds: {batching.max_delay_us} }}"
        )
    lines.append(f"instance_group [ {{ count: {instances} }} ]")
    return "\n".join(lines) + "\n"


def preferred_batches(rows: Sequence[BenchRow], max_batch: int) -> tuple[int, ...]:
    """The smallest batch reaching ``NEAR_PEAK`` of the best throughput, and the best one,
    among measured batches up to ``max_batch``."""
    fitting = [r for r in rows if r.batch <= max_batch]
    if not fitting:
        return (max_batch,)
    best = max(fitting, key=lambda r: r.images_per_s)
    near = min(r.batch for r in fitting if r.images_per_s >= NEAR_PEAK * best.images_per_s)
    return tuple(sorted({near, best.batch}))


def measured_batches(
    bundle: Bundle, onnx_file: Path, max_batch: int, seconds: float
) -> tuple[int, ...]:
    """Preferred batch sizes from timing the export on ONNX Runtime, as ``lumos bench``
    times it."""
    session = onnx_session(onnx_file)

    def run(batch: np.ndarray) -> object:
        return session.run(None, {"images": batch})

    rows = []
    for size in [b for b in BENCH_BATCHES if b <= max_batch] or [max_batch]:
        batch = example_input(bundle, size).numpy()
        times = time_batches(run, batch, min_runs=3, min_seconds=seconds)
        rows.append(row_of("onnxruntime", size, times))
    return preferred_batches(rows, max_batch)


def write_model(
    bundle: Bundle,
    root: Path,
    *,
    name: str | None = None,
    max_batch: int = 32,
    preferred: Sequence[int] | None = None,
    max_delay_ms: float = 5.0,
    instances: int = 1,
    bench_seconds: float = 0.3,
    overwrite: bool = False,
    dataset: Dataset | None = None,
    trust_code: bool = False,
) -> TritonModel:
    """Write ``bundle`` as model ``name`` (default: the bundle's) of the Triton repository
    at ``root``; the folder appears whole or not at all, replacing an older one only when
    ``overwrite``."""
    name = name or bundle.name
    if not MODEL_NAME.fullmatch(name):
        raise LumosError(f"{name!r} cannot name a Triton model: use letters, digits, _ . -")
    if max_batch < 1 or instances < 1 or (preferred and min(preferred) < 1):
        raise LumosError("batch sizes and instance counts must be whole numbers of at least 1")
    if preferred and max(preferred) > max_batch:
        raise LumosError(f"preferred batch sizes must be at most the largest batch ({max_batch})")
    target = root / name
    if target.exists() and not overwrite:
        raise LumosError(f"{target} exists: choose another name, or overwrite it")
    with staged_directory(target, overwrite=overwrite) as folder:
        folder.chmod(0o755)  # as a folder made by hand: a server in a container reads it
        onnx_file = folder / "1" / "model.onnx"
        onnx_file.parent.mkdir()
        exported = export_bundle(bundle, onnx_file, dataset=dataset, trust_code=trust_code)
        inputs, outputs, batched = graph_tensors(onnx_file, bundle.labels)
        batching = Batching(0)
        if batched:
            sizes = (
                tuple(sorted(set(preferred)))
                if preferred
                else measured_batches(bundle, onnx_file, max_batch, bench_seconds)
            )
            batching = Batching(max_batch, sizes, round(max_delay_ms * 1000))
        labels = "".join(f"{label}\n" for label in bundle.labels)
        (folder / LABELS_FILE).write_text(labels, encoding="utf-8")
        text = config_text(name, inputs, outputs, batching, instances)
        (folder / "config.pbtxt").write_text(text, encoding="utf-8")
    return TritonModel(target, target / "config.pbtxt", exported.check, batching)
