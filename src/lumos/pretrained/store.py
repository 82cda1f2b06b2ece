"""The model store: weights a user already has on disk, imported as saved models.

Every saved model is a candidate to start another training from. ``import_model`` turns a
safetensors file or a PyTorch state dict (torchvision's, timm's) into a bundle, with where it
came from: the file, its SHA-256 and size, and the data it was trained on when the user says.
Nothing is downloaded: a model that is not on disk is not a candidate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lumos.bundle import model_folder, save_bundle
from lumos.choices import Interpolation
from lumos.data import Dataset
from lumos.errors import DataError, LumosError
from lumos.fileio import file_sha256
from lumos.models import NetworkSpec, build_network, default_input
from lumos.models.normalization import identity, normalized_model, per_channel
from lumos.models.surgery import shared_prefix
from lumos.pretrained.library_input import WeightsInput, weights_input
from lumos.pretrained.weights import read_weights
from lumos.tasks import Task, task_of
from lumos.tasks.preprocessing import Preprocessing
from lumos.workspace import Workspace

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))  # what torchvision's and timm's expect
TRAINING_ONLY = ("aux_classifier.",)  # torchvision's segmenters' auxiliary head: lumos builds none


@dataclass(frozen=True)
class ImportRequest:
    """What to import: ``path`` holds weights of ``network``; ``labels`` name its outputs
    (default: the library's class names for ``preprocess``, else their indices); ``stats``
    the per-channel mean and std its inputs were normalised with (None: none);
    ``input_shape`` (channels, height, width) it expects.

    How its inputs are resized: ``preprocess`` (``torchvision:NAME.TAG`` or
    ``timm:NAME.TAG``) takes the weights' own evaluation transform from the library (size,
    interpolation, crop, mean, std); ``interpolation`` and ``crop`` (the share of the
    shorter side the centre crop keeps, timm's ``crop_pct``) state it, or override it."""

    path: Path
    network: str
    labels: Sequence[str] | None = None
    stats: tuple[Sequence[float], Sequence[float]] | None = None
    input_shape: tuple[int, int, int] | None = None
    trained_on: str | None = None
    preprocess: str | None = None
    interpolation: Interpolation | None = None
    crop: float | None = None
    origin: dict[str, Any] | None = None  # where pulled weights came from (transfer.pull)


def import_model(
    request: ImportRequest,
    name: str | None = None,
    *,
    workspace: Workspace | None = None,
    overwrite: bool = False,
) -> Path:
    """Store the weights of ``request`` as model ``name`` (default: the file's stem);
    returns its folder. Refused, naming the file, if they are not weights of the network."""
    path = Path(request.path)
    workspace = (workspace or Workspace()).ensure()
    model_folder(name or path.stem, workspace, overwrite=overwrite)
    if request.crop is not None and not 0 < request.crop <= 1:
        raise DataError(None, f"crop {request.crop} is not a share of the image (0 to 1)")
    library = weights_input(request.preprocess) if request.preprocess else None
    tensors, kind = read_weights(path)
    task = task_of(request.network)
    probe = _probe(request.network, 2, 3, default_input(request.network)[1:])
    tensors = _aligned(tensors, probe, path, request.network)
    channels, height, width = _input_of(request, library, tensors, probe)
    outputs = _outputs(tensors, request.network, channels, (height, width), path)
    labels = _labels(request, library, task, outputs, path)
    spec = NetworkSpec.resolve(request.network, len(labels), channels, (height, width))
    net = build_network(spec)
    _load(net, tensors, path, request.network)
    preprocessing = _preprocessing(request, library, channels, (height, width))
    meta = {
        "task": task.name,
        "network": spec.model_dump(mode="json"),
        "labels": labels,
        "preprocessing": preprocessing.model_dump(mode="json", exclude_none=True),
        "provenance": {
            "source": "imported",
            "file": str(path.resolve()),
            "format": kind,
            "sha256": file_sha256(path),
            "bytes": path.stat().st_size,
            "dataset": request.trained_on,
            "preprocess": request.preprocess,
        }
        | (request.origin or {}),
    }
    trained_on = _workspace_dataset(request.trained_on, workspace)
    if trained_on is not None:  # a dataset of the workspace: P2L can fingerprint it later
        meta["provenance"]["fingerprint"] = trained_on.manifest["fingerprint"]
    mean, std = preprocessing.mean, preprocessing.std
    normalize = identity(channels) if mean is None or std is None else per_channel(mean, std)
    weights = normalized_model(net, normalize).state_dict()
    return save_bundle(
        name or path.stem, meta=meta, weights=weights, workspace=workspace, overwrite=overwrite
    )


def _preprocessing(
    request: ImportRequest, library: WeightsInput | None, channels: int, size: tuple[int, int]
) -> Preprocessing:
    """The bundle's preprocessing: what the request states, else what the library does."""
    mean, std = request.stats or ((library.mean, library.std) if library else (None, None))
    shorter = library.resize_shorter if library else None
    if request.crop is not None:
        shorter = math.floor(min(size) / request.crop)
    return Preprocessing(
        size=size,
        input_size=size,
        channels=channels,
        normalize="none" if mean is None else "per-channel",
        mean=None if mean is None else list(mean),
        std=None if std is None else list(std),
        resize_shorter=shorter,
        interpolation=request.interpolation or (library.interpolation if library else None),
    )


def _labels(
    request: ImportRequest, library: WeightsInput | None, task: Task, outputs: int, path: Path
) -> list[str]:
    """The names of the weights' ``outputs``: the task's outputs for the classes the request
    names, else the library's names (where they are as many), else the classes' indices."""
    extra = len(task.outputs([]))  # a background the task scores beside the classes
    if request.labels:
        if len(request.labels) + extra != outputs:
            raise DataError(
                path,
                f"the weights score {outputs - extra} classes; {len(request.labels)} labels given",
            )
        return task.outputs(list(request.labels))
    if library and library.labels and len(library.labels) == outputs:
        return list(library.labels)
    return task.outputs([str(i) for i in range(outputs - extra)])


def class_names(text: str) -> list[str]:
    """Class names from a file of one name a line (as ILSVRC's synset files: names may hold
    commas), or from a comma-separated list."""
    path = Path(text)
    if not path.is_file():
        return [name.strip() for name in text.split(",")]
    try:
        names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(path, f"not a text file of class names ({e})") from None
    names = [name for name in names if name]
    if not names:
        raise DataError(path, "no class names in it")
    return names


def _workspace_dataset(name: str | None, workspace: Workspace | None) -> Dataset | None:
    """Dataset ``name`` if ``--trained-on`` names one of the workspace (it may be any text)."""
    try:
        return Dataset.open(name, workspace) if name else None
    except LumosError:
        return None


def _input_of(
    request: ImportRequest,
    library: WeightsInput | None,
    tensors: dict[str, torch.Tensor],
    probe: dict[str, torch.Tensor],
) -> tuple[int, int, int]:
    """(channels, height, width): as the request says, else the library's size or the
    network's declared input, with the channels its first convolution takes in these
    weights."""
    if request.input_shape:
        return request.input_shape
    channels, height, width = default_input(request.network)
    height, width = library.size if library and library.size else (height, width)
    first = next((k for k, v in probe.items() if k.endswith(".weight") and v.dim() == 4), None)
    weight = tensors.get(first) if first else None
    return (weight.shape[1] if weight is not None else channels), height, width


def _probe(
    network: str, outputs: int, channels: int, size: tuple[int, int]
) -> dict[str, torch.Tensor]:
    """``network``'s tensors for ``outputs`` classes, on the meta device (no memory)."""
    with torch.device("meta"):
        return build_network(NetworkSpec.resolve(network, outputs, channels, size)).state_dict()


def _aligned(
    tensors: dict[str, torch.Tensor], probe: dict[str, torch.Tensor], path: Path, network: str
) -> dict[str, torch.Tensor]:
    """``tensors`` under the names ``network`` gives them (a segmenter lumos wraps holds
    torchvision's under ``model.``), less the heads only training uses."""
    kept = {k: v for k, v in tensors.items() if not k.startswith(TRAINING_ONLY)}
    prefix = shared_prefix(probe, kept)
    if prefix is None:
        raise DataError(path, f"not weights of {network}: no tensor fits it")
    return {prefix + k: v for k, v in kept.items()}


def _outputs(
    tensors: dict[str, torch.Tensor],
    network: str,
    channels: int,
    size: tuple[int, int],
    path: Path,
) -> int:
    """How many outputs the weights score, from the tensors whose size follows the number
    of outputs (found by building ``network`` for two and for three)."""
    two, three = (_probe(network, n, channels, size) for n in (2, 3))
    heads = [k for k in two if two[k].shape != three[k].shape]
    for name in (k for k in heads if k in tensors):
        old, new, have = two[name].shape, three[name].shape, tensors[name].shape
        axis = next(i for i in range(len(old)) if old[i] != new[i])
        step = new[axis] - old[axis]  # the size is step x outputs + what does not depend on it
        rest = have[axis] - (old[axis] - 2 * step)
        if len(have) == len(old) and rest > 0 and rest % step == 0:
            return rest // step
    raise DataError(path, f"no head of {network} ({', '.join(heads[:2])}) in these weights")


def _load(net: torch.nn.Module, tensors: dict[str, torch.Tensor], path: Path, network: str) -> None:
    """Load every tensor, or say which names and shapes do not fit ``network``."""
    expected = net.state_dict()
    # A batch norm's step count may be left out, as load_state_dict allows (it starts at 0).
    missing = [k for k in expected if k not in tensors and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in tensors if k not in expected]
    wrong = [
        f"{k} {tuple(tensors[k].shape)} (wants {tuple(v.shape)})"
        for k, v in expected.items()
        if k in tensors and tensors[k].shape != v.shape
    ]
    problems = [
        f"{label}: {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}"
        for label, names in (("missing", missing), ("unknown", unexpected), ("shape", wrong))
        if names
    ]
    if problems:
        raise DataError(path, f"not weights of {network} ({'; '.join(problems)})")
    net.load_state_dict(tensors)
