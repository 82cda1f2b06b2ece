"""Optimise a bundle for deployment, and measure what each step costs.

- fusion: the exported graph folds batch norm into convolutions, and ONNX Runtime fuses
  convolutions with their activations and residual additions; :func:`layer_counts` reports
  the layers before and after (TensorRT's "43 -> 27 layers" table, for our networks);
- precision: ``fp32``; ``fp16`` (for GPUs; inputs and outputs stay fp32); ``int8``, static
  quantisation with a calibration set (ONNX Runtime QDQ, per-channel weights); and
  ``int8-dynamic`` (weights int8, activations quantised on the fly; no calibration);
- pruning: the smallest-magnitude weights of every convolution and linear layer set to zero
  (``unstructured``), or the output channels of least L2 norm removed from every layer but
  the classifier (``channels``: torch-pruning follows the dependencies, so batch norms,
  the next layers' inputs and residual branches shrink with them: a thinner, faster
  network); optionally followed by a few epochs of fine-tuning (zeroed weights held at zero).

Each artefact is scored on the test split next to the bundle's own fp32 network, by the
task's measure (top-1 accuracy, mAP for multi-label data, mAP50 for detectors, mIoU for
segmenters), and the difference is recorded in the bundle, so a smaller model never hides
what it lost. Pruning covers classifiers; precision covers every task (a detector's
decoding and NMS stay in fp32 around its quantised convolutions).
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar, get_args

import numpy as np
import torch
from pydantic import Field
from pydantic.dataclasses import dataclass as validated
from torch import nn

from lumos.bundle import Bundle
from lumos.choices import ArtefactPrecision, Pruning
from lumos.data import Dataset
from lumos.deploy.export import (
    check_images,
    compatible_split,
    example_input,
    onnx_bytes,
)
from lumos.deploy.prune import PRUNING, fine_tune, prune_model, require
from lumos.deploy.runtime import Predictor, load_predictor
from lumos.errors import DataError
from lumos.fileio import write_bytes_atomic
from lumos.jobs import Job, queue_work, running_job
from lumos.tasks import TASKS
from lumos.tasks.predictor import export_graph
from lumos.workspace import Workspace, validate_name

PRECISIONS: tuple[ArtefactPrecision, ...] = get_args(ArtefactPrecision)
MIN_CALIBRATION = 16
CALIBRATION_IMAGES = 128


@dataclass
class LayerCounts:
    """Layers of one network: PyTorch operators, exported ONNX nodes, ONNX Runtime's fused graph."""

    pytorch: int
    onnx: int
    fused: int


@dataclass
class Artefact:
    """One optimised model file and what it scores next to the fp32 bundle."""

    file: str
    precision: str
    prune: float
    pruning: str | None
    pruned_weights: float  # share of convolution and linear weights zero or removed
    finetune_epochs: int
    layers: LayerCounts
    size_bytes: int
    dataset: str
    split: str
    metric: str
    score: float
    baseline: float
    created: str

    @property
    def delta(self) -> float:
        return self.score - self.baseline

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "delta": self.delta}


def layer_counts(model: nn.Module, example: torch.Tensor, graph: bytes) -> LayerCounts:
    """Operators of ``model`` as PyTorch runs it, nodes of its ONNX ``graph``, and nodes left
    after ONNX Runtime's fusions (every level, as a Predictor runs it on this CPU)."""
    import onnx
    import onnxruntime as ort

    program = torch.export.export(model, (example,))
    pytorch = sum(
        node.op == "call_function" and "getitem" not in str(node.target)
        for node in program.graph.nodes
    )
    with tempfile.TemporaryDirectory() as folder:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.optimized_model_filepath = str(Path(folder) / "fused.onnx")
        options.log_severity_level = 3
        ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        fused = len(onnx.load(options.optimized_model_filepath).graph.node)
    return LayerCounts(pytorch, len(onnx.load_from_string(graph).graph.node), fused)


def calibration_batches(
    bundle: Bundle, dataset: Dataset, count: int = CALIBRATION_IMAGES, batch: int = 8
) -> list[np.ndarray]:
    """Training images of ``dataset`` as float batches for INT8 calibration."""
    images, _ = check_images(bundle, dataset, count=count, split="train")
    if len(images) < MIN_CALIBRATION:
        raise DataError(
            None,
            f"calibration set {dataset.name!r} has {len(images)} images; "
            f"INT8 calibration needs at least {MIN_CALIBRATION}",
        )
    return [images[i : i + batch] for i in range(0, len(images), batch)]


def convert_precision(
    graph: bytes, precision: str, calibration: list[np.ndarray] | None = None
) -> bytes:
    """The fp32 ONNX ``graph`` at ``precision``."""
    import onnx

    if precision == "fp32":
        return graph
    if precision == "fp16":
        from onnxruntime.transformers.float16 import convert_float_to_float16

        return convert_float_to_float16(
            onnx.load_from_string(graph), keep_io_types=True
        ).SerializeToString()
    require(precision, PRECISIONS, "precision")
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as folder:
        fp32, prepared, out = (Path(folder) / n for n in ("fp32.onnx", "pre.onnx", "q.onnx"))
        fp32.write_bytes(graph)
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
        if precision == "int8-dynamic":
            quantize_dynamic(prepared, out, weight_type=QuantType.QInt8, per_channel=True)
        else:
            if not calibration:
                raise DataError(None, "INT8 static quantisation needs a calibration set")
            with _quiet_root_logger():  # one warning per node of a 1-D weight (GroupNorm)
                quantize_static(
                    prepared,
                    out,
                    _Calibration(calibration),
                    quant_format=QuantFormat.QDQ,
                    per_channel=True,
                    activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8,
                )
        return out.read_bytes()


def split_score(predictor: Predictor, part: Dataset) -> tuple[str, float]:
    """(metric, value) of ``predictor`` on ``part``: the task's (top-1 accuracy, mAP for
    multi-label data, mAP50 for detectors, mIoU for segmenters)."""
    bundle = predictor.bundle
    return bundle.task.graph_score(bundle, predictor.outputs, part)


def check_request(
    bundle: Bundle, precision: str, pruning: str = "unstructured", prune: float = 0.0
) -> None:
    """Refuse what :func:`optimize_bundle` cannot do, before any work (or queueing) starts."""
    require(precision, PRECISIONS, "precision")
    require(pruning, PRUNING, "pruning")
    if prune and not bundle.task.prunable:
        covered = " and ".join(f"{task.noun}s" for task in TASKS.values() if task.prunable)
        raise DataError(
            None, f"model {bundle.name!r} is a {bundle.task.noun}: pruning covers {covered}"
        )


def _recorded_baseline(bundle: Bundle, dataset: Dataset, split: str) -> float | None:
    """The fp32 score an earlier artefact recorded on the same data, if any: the bundle's
    weights are the same, so scoring them again would only repeat the work."""
    for entry in bundle.meta.artefacts.values():
        if (entry.get("dataset"), entry.get("split")) == (dataset.name, split):
            return entry["baseline"]
    return None


def optimize_bundle(
    bundle: Bundle,
    *,
    precision: str = "int8",
    dataset: Dataset,
    calibrate: Dataset | None = None,
    prune: float = 0.0,
    pruning: str = "unstructured",
    finetune: int = 0,
    split: str = "test",
    out: Path | None = None,
    trust_code: bool = False,
) -> Artefact:
    """Make one optimised ONNX artefact of ``bundle``, score it on ``split`` of ``dataset``
    next to the fp32 network, and record it in the bundle (when the bundle is a folder)."""
    check_request(bundle, precision, pruning, prune)
    part = compatible_split(bundle, dataset, split)
    if bundle.task.outputs(dataset.classes) != bundle.labels:
        raise DataError(None, f"dataset {dataset.name!r} has other classes than {bundle.name!r}")
    calibration = calibration_batches(bundle, calibrate or dataset) if precision == "int8" else None
    model = bundle.model(trust_code=trust_code)
    pruned = 0.0
    if prune:
        pruned = prune_model(model, prune, pruning, example_input(bundle, 1))
        if finetune:
            fine_tune(model, bundle, dataset, finetune)
    elif finetune:
        raise DataError(None, "fine-tuning follows pruning: give --prune too")
    graph = onnx_bytes(bundle, model=model)
    layers = layer_counts(export_graph(bundle, model).module, example_input(bundle, 1), graph)
    data = convert_precision(graph, precision, calibration)
    name = precision + (f"-pruned{round(prune * 100)}-{pruning}" if prune else "")
    name += f"-finetuned{finetune}" if finetune else ""
    path = (out or bundle.artefact_folder) / f"{name}.onnx"
    baseline = _recorded_baseline(bundle, dataset, split)
    if baseline is None:
        baseline = split_score(Predictor(bundle, trust_code=trust_code), part)[1]
    metric, score = split_score(load_predictor(bundle, "onnxruntime", artefact=data), part)
    artefact = Artefact(
        file=path.name,
        precision=precision,
        prune=prune,
        pruning=pruning if prune else None,
        pruned_weights=pruned,
        finetune_epochs=finetune,
        layers=layers,
        size_bytes=len(data),
        dataset=dataset.name,
        split=split,
        metric=metric,
        score=score,
        baseline=baseline,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    write_bytes_atomic(path, data)
    if path.parent == bundle.artefact_folder:
        bundle.record_artefact(name, artefact.as_dict())
    return artefact


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """ONNX Runtime's quantiser warns on the root logger once per node it quantises per
    tensor instead of per channel; the result is right, the lines are noise."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


class _Calibration:
    """ONNX Runtime's calibration reader over float batches."""

    def __init__(self, batches: list[np.ndarray]) -> None:
        self._batches = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._batches, None)
        return None if batch is None else {"images": batch}


def run_optimization(
    model: str | Path,
    *,
    precision: str = "int8",
    dataset: str | None = None,
    calibrate: str | None = None,
    prune: float = 0.0,
    pruning: str = "unstructured",
    finetune: int = 0,
    split: str = "test",
    workspace: Workspace | None = None,
    trust_code: bool = False,
    job_id: str | None = None,
) -> Artefact:
    """:func:`optimize_bundle` as a job (``job_id`` a queued one, else a new one), with the
    model and datasets given by name; the dataset defaults to the one the model learnt."""
    workspace = (workspace or Workspace()).ensure()
    bundle = Bundle.load(model, workspace)
    dataset = dataset or bundle.meta.provenance.get("dataset")
    if not dataset:
        raise DataError(None, f"model {bundle.name!r} does not name its dataset: give one")
    params = {
        "model": str(model), "precision": precision, "dataset": dataset, "calibrate": calibrate,
        "prune": prune, "pruning": pruning, "finetune": finetune, "split": split,
    }  # fmt: skip
    scored, calibration = (
        Dataset.open(dataset, workspace),
        Dataset.open(calibrate, workspace) if calibrate else None,
    )
    with running_job(workspace, "optimize", params, job_id) as job:
        artefact = optimize_bundle(
            bundle, precision=precision, dataset=scored, calibrate=calibration, prune=prune,
            pruning=pruning, finetune=finetune, split=split, trust_code=trust_code,
        )  # fmt: skip
        job.log(
            f"{artefact.file}: {artefact.metric} {artefact.score:.4f} "
            f"(fp32 {artefact.baseline:.4f}, {artefact.delta:+.4f}); layers "
            f"{artefact.layers.pytorch} -> {artefact.layers.onnx} -> {artefact.layers.fused}"
        )
        job.record_result(
            {
                "model": bundle.name, "artefact": Path(artefact.file).stem,
                artefact.metric: artefact.score, "fp32": artefact.baseline,
                "size_bytes": artefact.size_bytes,
            }
        )  # fmt: skip
    return artefact


@validated(frozen=True)
class OptimizeJob:
    """:func:`run_optimization` of saved model ``model``, in a worker; its fields validated
    (the web takes it as the request's body)."""

    kind: ClassVar[str] = "optimize"
    model: str
    precision: ArtefactPrecision = "int8"
    dataset: str | None = None
    calibrate: str | None = None
    prune: float = Field(0.0, ge=0, le=0.95)
    pruning: Pruning = "unstructured"
    finetune: int = Field(0, ge=0, le=100)

    def run(self, workspace: Workspace, job_id: str) -> None:
        run_optimization(**asdict(self), workspace=workspace, job_id=job_id)


def queue_optimization(work: OptimizeJob, workspace: Workspace) -> Job:
    """A queued optimisation for a runner, refused up front if it could not run (the
    model, the precision and pruning asked for, the datasets named)."""
    bundle = Bundle.load(validate_name(work.model, "model name"), workspace)
    check_request(bundle, work.precision, work.pruning, work.prune)
    for name in (work.dataset, work.calibrate):
        if name:
            Dataset.open(name, workspace)
    return queue_work(work, workspace)
