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
from torch import nn

from lumos.bundle import model_folder, save_bundle
from lumos.bundle.fingerprint import fingerprint
from lumos.choices import Interpolation
from lumos.data import Dataset
from lumos.errors import DataError, LumosError
from lumos.fileio import file_sha256
from lumos.models import NetworkSpec, build_network, default_input
from lumos.models.normalization import identity, normalized_model, per_channel
from lumos.pretrained.library_input import WeightsInput, weights_input
from lumos.pretrained.weights import read_weights
from lumos.tasks import task_of
from lumos.tasks.preprocessing import Preprocessing
from lumos.workspace import Workspace

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))  # what torchvision's and timm's expect


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
    if not task.transfers:
        raise DataError(path, f"{request.network} is a {task.noun}: import takes classifiers")
    first, last = _ends(request.network, default_input(request.network)[1:])
    channels, height, width = _input_of(request, library, tensors, first)
    outputs = _outputs(tensors, request.network, last, path)
    labels = list(request.labels or _library_labels(library, outputs) or map(str, range(outputs)))
    if len(labels) != outputs:
        raise DataError(path, f"the weights score {outputs} classes; {len(labels)} labels given")
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
    if trained_on is not None:  # a dataset of the workspace: fingerprinted for P2L
        meta["provenance"]["fingerprint"] = trained_on.manifest["fingerprint"]
        meta["feature_fingerprint"] = fingerprint(trained_on.split("train")).model_dump()
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


def _library_labels(library: WeightsInput | None, outputs: int) -> list[str] | None:
    """The library's class names for the weights, where they are as many as the outputs."""
    return library.labels if library and library.labels and len(library.labels) == outputs else None


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
    first: str,
) -> tuple[int, int, int]:
    """(channels, height, width): as the request says, else the library's size or the
    network's declared input, with the channels its first convolution (``first``) takes in
    these weights."""
    if request.input_shape:
        return request.input_shape
    channels, height, width = default_input(request.network)
    height, width = library.size if library else (height, width)
    weight = tensors.get(f"{first}.weight")
    return (weight.shape[1] if weight is not None else channels), height, width


def _outputs(tensors: dict[str, torch.Tensor], network: str, last: str, path: Path) -> int:
    """How many classes the weights score: the rows of the network's last layer (``last``)."""
    weight = tensors.get(f"{last}.weight")
    if weight is None:
        raise DataError(path, f"no {last}.weight, the head of {network}: give --labels")
    return weight.shape[0]


def _ends(network: str, size: tuple[int, int]) -> tuple[str, str]:
    """The names of ``network``'s first convolution and last layer (built on the meta device:
    no memory, no time)."""
    with torch.device("meta"):
        probe = build_network(NetworkSpec.resolve(network, 2, 3, size))
    layers = [n for n, m in probe.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    convolutions = [n for n, m in probe.named_modules() if isinstance(m, nn.Conv2d)]
    return (convolutions[0] if convolutions else layers[0]), layers[-1]


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
