"""Pretrained weights by name: ``lumos models pull torchvision:NAME.TAG``, ``timm:NAME.TAG``
or ``hf-hub:ORG/NAME`` (a timm-format repository on the Hugging Face Hub).

Each file comes through its library's own download code and cache: torch.hub's for
torchvision (under ``TORCH_HOME``, the SHA-256 prefix its name carries checked, a partial
file never left in place), ``huggingface_hub``'s for timm (under ``HF_HOME``, its size
checked; ``HF_ENDPOINT`` and ``HF_HUB_OFFLINE`` as the library reads them) for timm's and
the Hub's. A file fetched
elsewhere can be given instead (``from_file``). The weights then join the store as an
imported model with their library's input transform and class names, and where they came
from: the URL or repository, the SHA-256, and what the library states (licence, recipe,
accuracy, size). A second pull, or one with no network, reads the cache.
"""

from __future__ import annotations

import fnmatch
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import URLError

from lumos.errors import DataError
from lumos.fileio import copy_atomic, file_sha256
from lumos.models import list_models
from lumos.pretrained.library_input import (
    hub_config,
    parse_spec,
    timm_pretrained,
    torchvision_weights,
)
from lumos.pretrained.store import ImportRequest, import_model
from lumos.tasks import task_of
from lumos.workspace import Workspace


@dataclass(frozen=True)
class Pullable(ABC):
    """Weights a library can download: what they are called, where from, the zoo network
    that holds them, and what the library says of them."""

    spec: str
    url: str
    network: str
    about: dict[str, Any]  # licence, recipe, metrics, parameters, file size, as stated

    @property
    def reported(self) -> str | None:
        """The library's headline figure: its first data set's first metric
        (``acc@1 69.8 on ImageNet-1K``, ``box_map 39.2 on COCO-val2017``)."""
        for data, figures in (self.about.get("metrics") or {}).items():
            for metric, value in figures.items():
                return f"{metric} {value:.1f} on {data}"
        return None

    @abstractmethod
    def fetch(self, progress: bool) -> Path:
        """The file, from the library's cache, downloaded into it first if need be."""

    @abstractmethod
    def take(self, file: Path) -> Path:
        """``file``, fetched elsewhere, checked as a download would be; the file to read."""

    def revision(self, file: Path) -> dict[str, str]:
        """Which version of the weights ``file`` is, where the source versions them."""
        return {}

    def unreachable(self, reason: object, where: str) -> DataError:
        return DataError(
            None,
            f"cannot download {self.url} ({reason}): fetch it elsewhere and run "
            f"`lumos models pull {self.spec} --from FILE`, or put it {where}",
        )


@dataclass(frozen=True)
class TorchHubWeights(Pullable):
    """torchvision's weights, through torch.hub."""

    @property
    def cached(self) -> Path:
        from torch.hub import get_dir

        return Path(get_dir()) / "checkpoints" / Path(self.url).name

    @property
    def hash_prefix(self) -> str | None:
        """The SHA-256 prefix torch.hub checks, from the file's name (``name-1a2b3c4d.pth``)."""
        from torch.hub import HASH_REGEX

        found = HASH_REGEX.search(Path(self.url).name)
        return found.group(1) if found else None

    def fetch(self, progress: bool) -> Path:
        from torch.hub import download_url_to_file

        if self.cached.is_file():
            return self.cached
        self.cached.parent.mkdir(parents=True, exist_ok=True)
        try:
            download_url_to_file(self.url, str(self.cached), self.hash_prefix, progress=progress)
        except (URLError, OSError) as e:
            raise self.unreachable(getattr(e, "reason", None) or e, f"at {self.cached}") from None
        except RuntimeError as e:  # torch.hub's hash check; its partial file is gone
            raise DataError(None, f"{self.url}: {e}; nothing was stored") from None
        return self.cached

    def take(self, file: Path) -> Path:
        digest = file_sha256(file)
        if self.hash_prefix and not digest.startswith(self.hash_prefix):
            raise DataError(
                file,
                f"not {Path(self.url).name}: its SHA-256 starts {digest[:8]}, "
                f"not {self.hash_prefix}",
            )
        copy_atomic(file, self.cached)
        return self.cached


@dataclass(frozen=True)
class HubWeights(Pullable):
    """timm's weights, from their repository on the Hugging Face Hub: its safetensors file,
    else its PyTorch one (as timm looks for them)."""

    repository: str
    file_names: tuple[str, ...] = ("model.safetensors", "pytorch_model.bin")

    def fetch(self, progress: bool) -> Path:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import RemoteEntryNotFoundError

        for file_name in self.file_names:
            try:
                return Path(hf_hub_download(self.repository, file_name))
            except RemoteEntryNotFoundError:  # the repository holds no such file: the next
                continue
            except OSError as e:  # offline, unreachable, cut short: the library's words
                reason = str(e).splitlines()[0]
                raise self.unreachable(reason, "in the Hugging Face cache") from None
        raise DataError(
            None, f"{self.url} holds no weights ({' or '.join(self.file_names)}): nothing stored"
        )

    def take(self, file: Path) -> Path:
        return file  # the Hub states no hash in a file's name: its SHA-256 is recorded

    def revision(self, file: Path) -> dict[str, str]:
        """The repository and the commit whose snapshot holds ``file`` (the Hub cache keeps
        each file under ``snapshots/<commit>/``); none for a file fetched elsewhere."""
        snapshot = file.parent
        if snapshot.parent.name != "snapshots":
            return {"repository": self.repository}
        return {"repository": self.repository, "revision": snapshot.name}


def pullable(spec: str) -> Pullable:
    """The weights ``spec`` names, refused (with the nearest names) if unknown or if the zoo
    has no network to hold them."""
    source, name = parse_spec(spec)
    entries: dict[str, Callable[[str, str], Pullable]] = {
        "torchvision": _torchvision,
        "timm": _timm,
        "hf-hub": _hf_hub,
    }
    return entries[source](spec, name)


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
    if from_file is not None and not Path(from_file).is_file():
        raise DataError(from_file, "no such file")
    path = entry.take(Path(from_file)) if from_file else entry.fetch(progress)
    request = ImportRequest(
        path,
        entry.network,
        preprocess=spec,
        origin={"source": "pulled", "spec": spec, "url": entry.url, **entry.about}
        | entry.revision(path),
    )
    return import_model(
        request, name or pulled_name(spec), workspace=workspace, overwrite=overwrite
    )


def pulled_name(spec: str) -> str:
    """The saved model a pull of ``spec`` makes unless named: ``resnet50-imagenet1k_v2``,
    ``convnext_tiny-fb_in22k_ft_in1k``, ``org-name`` for ``hf-hub:org/name``."""
    name = spec.partition(":")[2].replace("_Weights", "")
    return name.replace(".", "-").replace("/", "-").lower()


def pullable_weights(pattern: str = "*") -> Iterator[Pullable]:
    """torchvision's weights of the zoo's networks (classifiers, detectors, segmenters) and
    timm's, whose spec matches ``pattern`` (shell-style, with or without the library's
    prefix)."""
    import timm
    import torchvision.models as library

    zoo = {e.name for e in list_models()}
    specs = [
        f"torchvision:{model}.{weights.name}"
        for model in library.list_models()
        if model in zoo
        for weights in library.get_model_weights(model)
    ] + [f"timm:{name}" for name in timm.list_pretrained()]
    for spec in specs:
        if fnmatch.fnmatch(spec, pattern) or fnmatch.fnmatch(spec.partition(":")[2], pattern):
            yield pullable(spec)


def weights_for(network: str) -> list[Pullable]:
    """The published weights a run of zoo ``network`` can start from: torchvision's for it,
    and those its task fine-tunes it from."""
    starts = [s.init for s in task_of(network).pretrained if s.network == network]
    found = {e.spec: e for e in pullable_weights(f"torchvision:{network}.*")}
    return list(found.values()) + [pullable(spec) for spec in starts if spec not in found]


def _torchvision(spec: str, name: str) -> Pullable:
    network, weights = torchvision_weights(name)
    if network not in {e.name for e in list_models()}:
        raise DataError(None, f"no network of the zoo holds {spec}")
    meta = weights.meta
    about = {
        "license": "BSD-3-Clause (torchvision's code); the training data's own terms apply",
        "recipe": meta.get("recipe"),
        "metrics": meta.get("_metrics"),
        "parameters": meta.get("num_params"),
        "file_mb": meta.get("_file_size"),
    }
    return TorchHubWeights(spec, weights.url, network, about)


def _timm(spec: str, name: str) -> Pullable:
    from huggingface_hub import constants

    cfg = timm_pretrained(name)
    if not cfg.hf_hub_id:
        raise DataError(None, f"timm's {name} is not on the Hugging Face Hub: pull takes those")
    about = {"license": cfg.license, "metrics": None, "parameters": None, "file_mb": None}
    url = f"{constants.ENDPOINT}/{cfg.hf_hub_id}"
    return HubWeights(spec, url, f"timm:{cfg.architecture}", about, cfg.hf_hub_id)


def _hf_hub(spec: str, repository: str) -> Pullable:
    from huggingface_hub import constants

    config, architecture = hub_config(repository)
    about = {"license": config.get("license"), "metrics": None, "parameters": None, "file_mb": None}
    url = f"{constants.ENDPOINT}/{repository}"
    return HubWeights(spec, url, f"timm:{architecture}", about, repository)
