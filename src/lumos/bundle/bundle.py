"""A bundle: a trained model with everything needed to use it, and nothing executable.

``models/<name>/`` holds ``bundle.json`` (network spec, preprocessing, labels, thresholds,
recipe, metrics, provenance) and ``weights.safetensors``. A portable ``.lumos`` file is the
same two files in a zip. Loading parses JSON and safetensors only: nothing is unpickled.
"""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import nn

from lumos.bundle.fingerprint import FeatureFingerprint
from lumos.bundle.meta import BundleMeta
from lumos.errors import BundleError, NotFoundError
from lumos.fileio import (
    write_bytes_atomic,
    write_json_atomic,
)
from lumos.models import NetworkSpec, build_network
from lumos.models.normalization import identity, normalized_model
from lumos.tasks import Task, task_named
from lumos.tasks.base import Result
from lumos.tasks.predictor import Predictor
from lumos.tasks.preprocessing import Preprocessing
from lumos.workspace import Workspace, validate_name

META, WEIGHTS = "bundle.json", "weights.safetensors"
ARTEFACTS = "artefacts"  # exported and optimised files, beside a folder bundle's weights
SUFFIX = ".lumos"
_MAX_MEMBER = 4 << 30  # refuse zip members that claim more than 4 GiB


@dataclass
class Bundle:
    """A loaded bundle: its description and its weights."""

    meta: BundleMeta
    weights: dict[str, torch.Tensor]
    origin: str

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def task(self) -> Task:
        return task_named(self.meta.task)

    @property
    def score_threshold(self) -> float:
        """A detector's operating point: the lowest score kept (tuned on validation)."""
        return self.meta.score_threshold

    @property
    def thresholds(self) -> list[float]:
        """A multi-label model's probability threshold per class (0.5 where not tuned)."""
        return self.meta.thresholds or [0.5] * len(self.labels)

    @property
    def labels(self) -> list[str]:
        return list(self.meta.labels)

    @property
    def multi_label(self) -> bool:
        return self.meta.multi_label

    @property
    def preprocessing(self) -> Preprocessing:
        return self.meta.preprocessing

    @property
    def folder(self) -> Path | None:
        """The bundle's folder, when it was loaded from one."""
        path = Path(self.origin)
        return path if path.is_dir() else None

    @property
    def artefact_folder(self) -> Path:
        """Where exported and optimised files go: ``<bundle folder>/artefacts``, or
        ``<name>-artefacts`` beside a ``.lumos`` file."""
        if self.folder is not None:
            return self.folder / ARTEFACTS
        return Path(self.origin).with_name(f"{Path(self.origin).stem}-{ARTEFACTS}")

    def artefact(self, name: str) -> Path:
        """The optimised file recorded as ``name`` (``int8``, ``fp16``, ...)."""
        known = self.meta.artefacts
        if name not in known:
            have = ", ".join(known) or "none; make one with `lumos optimize`"
            raise NotFoundError(f"model {self.name!r} has no {name!r} artefact (it has: {have})")
        path = self.artefact_folder / known[name]["file"]
        if not path.is_file():
            raise BundleError(f"{path}: the {name!r} artefact is recorded but missing")
        return path

    def record_artefact(self, name: str, entry: dict[str, Any]) -> None:
        """Note an artefact in ``bundle.json`` (folder bundles only)."""
        self.meta.artefacts = {**self.meta.artefacts, name: entry}
        self._write_meta()

    def record_fingerprint(self, fingerprint: FeatureFingerprint) -> None:
        """Keep its training data's fingerprint in ``bundle.json`` (folder bundles only)."""
        self.meta.feature_fingerprint = fingerprint
        self._write_meta()

    def _write_meta(self) -> None:
        if self.folder is not None:
            write_json_atomic(self.folder / META, self.meta.as_json())

    @property
    def spec(self) -> NetworkSpec:
        return self.meta.network

    def model(self, device: str | torch.device = "cpu", *, trust_code: bool = False) -> nn.Module:
        """The network with its weights, in eval mode.

        A network written as Python code runs that code: it is refused unless
        ``trust_code`` is true.
        """
        try:
            net = self._built(trust_code, on_meta=True)
            if any(t.is_meta for t in [*net.parameters(), *net.buffers()]):
                net = self._built(trust_code, on_meta=False)  # a buffer the weights lack
        except RuntimeError as e:
            raise BundleError(
                f"{self.origin}: weights do not match the network: {str(e).splitlines()[0]}"
            ) from None
        return net.to(device).eval()

    def _built(self, trust_code: bool, *, on_meta: bool) -> nn.Module:
        """The network with the bundle's weights; ``on_meta``: built without storage and
        given the weights' own tensors (no random initialisation to throw away)."""
        with torch.device("meta") if on_meta else contextlib.nullcontext():
            net = normalized_model(
                build_network(self.spec, trust_code=trust_code), identity(self.spec.in_channels)
            )
        if not on_meta:
            net.load_state_dict(self.weights)
            return net
        wanted = net.state_dict()  # copies in the network's dtypes: the bundle's stay its own
        own = {k: v.to(wanted[k].dtype, copy=True) if k in wanted else v
               for k, v in self.weights.items()}  # fmt: skip
        net.load_state_dict(own, assign=True)
        return net

    @classmethod
    def untrained(cls, spec: NetworkSpec, *, trust_code: bool = False) -> Bundle:
        """A classification bundle of a freshly initialised network (in memory), to measure
        speed and layers before any training."""
        net = normalized_model(
            build_network(spec, trust_code=trust_code), identity(spec.in_channels)
        )
        meta = BundleMeta(
            name=spec.name,
            network=spec,
            labels=[str(i) for i in range(spec.num_classes)],
            preprocessing=Preprocessing(
                size=spec.input_size, input_size=spec.input_size, channels=spec.in_channels
            ),
        )
        return cls(meta, net.state_dict(), f"untrained {spec.name}")

    @classmethod
    def load(cls, where: str | Path, workspace: Workspace | None = None) -> Bundle:
        """A bundle from a ``.lumos`` file, a bundle folder, or a name in the workspace."""
        path = Path(where)
        if path.is_file():
            return cls._from_zip(path)
        if path.is_dir():
            return cls._from_folder(path)
        if isinstance(where, str) and "/" not in where and not where.endswith(SUFFIX):
            return cls.saved(where, workspace)
        raise BundleError(f"{where}: no such bundle file or folder")

    @classmethod
    def saved(cls, name: str, workspace: Workspace | None = None) -> Bundle:
        """The workspace's saved model ``name`` (never a path)."""
        folder = (workspace or Workspace()).models_dir / validate_name(name, "model name")
        if folder.is_dir():
            return cls._from_folder(folder)
        raise NotFoundError(f"no model named {name!r} (see `lumos models list`)")

    @classmethod
    def _from_folder(cls, folder: Path) -> Bundle:
        try:
            meta_text, weights = (folder / META).read_bytes(), (folder / WEIGHTS).read_bytes()
        except OSError as e:
            raise BundleError(
                f"{folder}: not a bundle ({e.strerror}: {Path(e.filename or '').name})"
            ) from None
        return cls._parse(meta_text, weights, str(folder))

    @classmethod
    def _from_zip(cls, path: Path) -> Bundle:
        try:
            with zipfile.ZipFile(path) as archive:
                members = {info.filename: info for info in archive.infolist()}
                if set(members) != {META, WEIGHTS}:
                    raise BundleError(f"{path}: not a lumos bundle (holds {sorted(members)[:4]})")
                if any(info.file_size > _MAX_MEMBER for info in members.values()):
                    raise BundleError(f"{path}: a member is larger than 4 GiB; refused")
                return cls._parse(archive.read(META), archive.read(WEIGHTS), str(path))
        except (zipfile.BadZipFile, EOFError, OSError) as e:
            raise BundleError(f"{path}: not a lumos bundle or truncated ({e})") from None

    @classmethod
    def _parse(cls, meta_text: bytes, weights: bytes, origin: str) -> Bundle:
        try:
            values = json.loads(meta_text)
        except (ValueError, UnicodeDecodeError):
            raise BundleError(f"{origin}: {META} is not valid JSON") from None
        meta = BundleMeta.parse(values, origin)
        try:
            tensors = load_safetensors(weights)
        except (SafetensorError, ValueError, RuntimeError) as e:
            raise BundleError(f"{origin}: weights are damaged ({e})") from None
        return cls(meta, tensors, origin)

    def predict(
        self,
        inputs: Sequence[str | Path | np.ndarray],
        *,
        top: int = 5,
        device: str = "cpu",
        trust_code: bool = False,
    ) -> list[Result]:
        """One result per image file, image in a folder, or array, in order: a classifier's
        top classes, a detector's boxes, a segmenter's mask (:class:`Predictor` in PyTorch).
        An unreadable file's result carries its error; a folder without images raises a
        ``DataError``."""
        return Predictor(self, device=device, trust_code=trust_code).predict(inputs, top=top)

    def at_score_threshold(self, threshold: float) -> Bundle:
        """This bundle with another operating point for its detector's boxes."""
        return replace(self, meta=self.meta.model_copy(update={"score_threshold": threshold}))

    def save(self, path: Path) -> Path:
        """Write the bundle as one portable ``.lumos`` file."""
        path = path if path.suffix == SUFFIX else path.with_suffix(SUFFIX)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr(META, json.dumps(self.meta.as_json(), indent=2))
            archive.writestr(WEIGHTS, save_safetensors(self.weights))
        write_bytes_atomic(path, buffer.getvalue())
        return path
