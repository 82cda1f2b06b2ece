"""The model store: weights a user already has on disk, imported as saved models.

Every saved model is a candidate to start another training from. ``import_model`` turns a
safetensors file or a PyTorch state dict (torchvision's, timm's) into a bundle, with where it
came from: the file, its SHA-256 and size, and the data it was trained on when the user says.
Nothing is downloaded: a model that is not on disk is not a candidate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from lumos.bundle import model_folder, save_bundle
from lumos.bundle.fingerprint import fingerprint
from lumos.data import Dataset
from lumos.errors import DataError, LumosError
from lumos.models import NetworkSpec, build_network, default_input
from lumos.models.normalization import identity, normalized_model, per_channel
from lumos.tasks import task_of
from lumos.tasks.preprocessing import Preprocessing
from lumos.transfer.weights import read_weights
from lumos.workspace import Workspace

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))  # what torchvision's and timm's expect


@dataclass(frozen=True)
class ImportRequest:
    """What to import: ``path`` holds weights of ``network``; ``labels`` name its outputs
    (default: their indices); ``stats`` the per-channel mean and std its inputs were
    normalised with (None: none); ``input_shape`` (channels, height, width) it expects."""

    path: Path
    network: str
    labels: Sequence[str] | None = None
    stats: tuple[Sequence[float], Sequence[float]] | None = None
    input_shape: tuple[int, int, int] | None = None
    trained_on: str | None = None


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
    tensors, kind = read_weights(path)
    task = task_of(request.network)
    if not task.transfers:
        raise DataError(path, f"{request.network} is a {task.noun}: import takes classifiers")
    first, last = _ends(request.network, default_input(request.network)[1:])
    channels, height, width = request.input_shape or _input_of(tensors, request.network, first)
    outputs = _outputs(tensors, request.network, last, path)
    labels = list(request.labels or [str(i) for i in range(outputs)])
    if len(labels) != outputs:
        raise DataError(path, f"the weights score {outputs} classes; {len(labels)} labels given")
    spec = NetworkSpec.resolve(request.network, len(labels), channels, (height, width))
    net = build_network(spec)
    _load(net, tensors, path, request.network)
    mean, std = request.stats or (None, None)
    normalize = identity(channels) if mean is None else per_channel(list(mean), list(std))
    meta = {
        "task": task.name,
        "network": spec.model_dump(mode="json"),
        "labels": labels,
        "preprocessing": Preprocessing(
            size=(height, width),
            input_size=(height, width),
            channels=channels,
            normalize="none" if mean is None else "per-channel",
            mean=None if mean is None else list(mean),
            std=None if std is None else list(std),
        ).model_dump(mode="json", exclude_none=True),
        "provenance": {
            "source": "imported",
            "file": str(path.resolve()),
            "format": kind,
            "sha256": _sha256(path),
            "bytes": path.stat().st_size,
            "dataset": request.trained_on,
        },
    }
    trained_on = _workspace_dataset(request.trained_on, workspace)
    if trained_on is not None:  # a dataset of the workspace: fingerprinted for P2L
        meta["provenance"]["fingerprint"] = trained_on.manifest["fingerprint"]
        meta["feature_fingerprint"] = fingerprint(trained_on.split("train")).model_dump()
    weights = normalized_model(net, normalize).state_dict()
    return save_bundle(
        name or path.stem, meta=meta, weights=weights, workspace=workspace, overwrite=overwrite
    )


def _workspace_dataset(name: str | None, workspace: Workspace | None) -> Dataset | None:
    """Dataset ``name`` if ``--trained-on`` names one of the workspace (it may be any text)."""
    try:
        return Dataset.open(name, workspace) if name else None
    except LumosError:
        return None


def _input_of(tensors: dict[str, torch.Tensor], network: str, first: str) -> tuple[int, int, int]:
    """The network's declared input, with the channels its first convolution (``first``)
    takes in these weights."""
    channels, height, width = default_input(network)
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
    missing = [k for k in expected if k not in tensors]
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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
