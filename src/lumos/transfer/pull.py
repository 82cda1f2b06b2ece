"""Pretrained weights by name: ``lumos models pull torchvision:NAME.TAG``.

The file comes through torch.hub's own download (its cache under ``TORCH_HOME``, the
SHA-256 prefix its name carries checked, a partial file never left in place), or from a
file fetched elsewhere (``from_file``, checked the same way); it then joins the store as an
imported model with its library's input transform and class names, and where it came from:
the URL, its SHA-256, and what the library states (licence, recipe, accuracy, size). A
second pull, or one with no network, reads the cache.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import URLError

from lumos.errors import DataError
from lumos.fileio import copy_atomic, file_sha256
from lumos.models import list_models
from lumos.transfer.library_input import weights_input
from lumos.transfer.store import ImportRequest, import_model
from lumos.workspace import Workspace

TORCHVISION = "torchvision:"


@dataclass(frozen=True)
class Pullable:
    """Weights a library can download: what they are called, and what it says of them."""

    spec: str
    url: str
    network: str  # the zoo network that holds them
    about: dict[str, Any]  # licence, recipe, accuracy, parameters, file size, as stated

    @property
    def file_name(self) -> str:
        return Path(self.url).name

    @property
    def hash_prefix(self) -> str | None:
        """The SHA-256 prefix torch.hub checks, from the file's name (``name-1a2b3c4d.pth``)."""
        from torch.hub import HASH_REGEX

        found = HASH_REGEX.search(self.file_name)
        return found.group(1) if found else None


def pullable(spec: str) -> Pullable:
    """The weights ``spec`` names (``torchvision:NAME.TAG``), refused if the zoo has no
    network to hold them."""
    if not spec.startswith(TORCHVISION):
        raise DataError(None, f"cannot pull {spec!r}: pull takes torchvision:NAME.TAG")
    weights_input(spec)  # an unknown name is refused with the nearest ones
    weights = _torchvision_weights(spec.removeprefix(TORCHVISION))
    network = spec.removeprefix(TORCHVISION).partition(".")[0]
    if "_Weights." in network or network not in {e.name for e in list_models()}:
        network = _builder_of(weights)
    meta = weights.meta
    about = {
        "license": "BSD-3-Clause (torchvision); the data's own terms apply",
        "recipe": meta.get("recipe"),
        "metrics": meta.get("_metrics"),
        "parameters": meta.get("num_params"),
        "file_mb": meta.get("_file_size"),
    }
    return Pullable(spec, weights.url, network, about)


def pull(
    spec: str,
    name: str | None = None,
    *,
    from_file: Path | None = None,
    workspace: Workspace | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Weights ``spec`` as saved model ``name`` (default: the spec's name and tag); returns
    its folder. Nothing is stored if the download breaks off or its hash differs."""
    entry = pullable(spec)
    cached = _cache_dir() / entry.file_name
    if from_file is not None:
        _take(entry, Path(from_file), cached)
    elif not cached.is_file():
        _download(entry, cached, progress)
    request = ImportRequest(
        cached,
        entry.network,
        preprocess=spec,
        origin={"source": "pulled", "spec": spec, "url": entry.url, **entry.about},
    )
    default = spec.removeprefix(TORCHVISION).replace(".", "-").replace("_Weights", "").lower()
    return import_model(request, name or default, workspace=workspace, overwrite=overwrite)


def pullable_weights(pattern: str = "*") -> Iterator[Pullable]:
    """Every torchvision classifier's weights whose spec matches ``pattern`` (shell-style)."""
    import fnmatch

    import torchvision.models as classifiers

    zoo = {e.name for e in list_models()}
    for model in classifiers.list_models(module=classifiers):
        if model not in zoo:
            continue
        for weights in classifiers.get_model_weights(model):
            spec = f"{TORCHVISION}{model}.{weights.name}"
            if fnmatch.fnmatch(spec, pattern) or fnmatch.fnmatch(spec, f"{TORCHVISION}{pattern}"):
                yield pullable(spec)


def _download(entry: Pullable, cached: Path, progress: bool) -> None:
    from torch.hub import download_url_to_file

    cached.parent.mkdir(parents=True, exist_ok=True)
    try:
        download_url_to_file(entry.url, str(cached), entry.hash_prefix, progress=progress)
    except (URLError, OSError) as e:
        reason = getattr(e, "reason", None) or e
        raise DataError(
            None,
            f"cannot download {entry.url} ({reason}): fetch it elsewhere and run "
            f"`lumos models pull {entry.spec} --from FILE`, or put it at {cached}",
        ) from None
    except RuntimeError as e:  # torch.hub's hash check; the partial file is gone
        raise DataError(None, f"{entry.url}: {e}; nothing was stored") from None


def _take(entry: Pullable, file: Path, cached: Path) -> None:
    """A file fetched elsewhere, checked as torch.hub checks a download, into the cache."""
    if not file.is_file():
        raise DataError(file, "no such file")
    digest = file_sha256(file)
    if entry.hash_prefix and not digest.startswith(entry.hash_prefix):
        raise DataError(
            file, f"not {entry.file_name}: its SHA-256 starts {digest[:8]}, not {entry.hash_prefix}"
        )
    cached.parent.mkdir(parents=True, exist_ok=True)
    copy_atomic(file, cached)


def _cache_dir() -> Path:
    from torch.hub import get_dir

    return Path(get_dir()) / "checkpoints"


def _torchvision_weights(name: str) -> Any:
    from torchvision.models import get_model_weights, get_weight

    if "_Weights." in name:
        return get_weight(name)
    model, _, tag = name.partition(".")
    return get_model_weights(model)[tag or "DEFAULT"]


def _builder_of(weights: Any) -> str:
    """The torchvision builder (and zoo network) an enum's weights are for."""
    from torchvision.models import get_model_weights
    from torchvision.models import list_models as torchvision_models

    for model in torchvision_models():
        if get_model_weights(model) is type(weights):
            return model
    raise DataError(None, f"no network of the zoo holds {weights}")
