"""Where a model's training images lie in a fixed reference network's feature space: the
fingerprint P2L compares a target with (Bhattacharjee et al. 2019), kept in the bundle.

The reference is a ResNet-18 (small-input stem) drawn from seed 0, the same on every
machine; a fingerprint records the digest of its weights, so fingerprints of another
reference are never compared. Images are seen at 32x32 in RGB (grey repeated). A random
network's features all point much the same way, so they are centred on the reference's
mean feature of 64 seeded smooth-noise images before being L2-normalised. The
fingerprint is each class's mean of those features (one mean where images have no single
class) with the number of images behind it, from at most :data:`SAMPLE` images, and the
size of the split it summarises.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel
from torch import nn

from lumos.data import Dataset
from lumos.data.loader import BatchLoader, at_size
from lumos.fileio import write_json_atomic
from lumos.models import NetworkSpec, build_network
from lumos.models.digest import weights_digest
from lumos.models.features import features, head_of

REFERENCE_INPUT = (32, 32)
SAMPLE = 2000  # images a fingerprint is computed from, at most
KEPT = "feature-fingerprints.json"  # in the dataset's folder


class FeatureFingerprint(BaseModel):
    """A dataset split summarised in the reference network's feature space."""

    reference: str  # digest of the reference network's weights
    images: int  # records in the split
    counts: list[int]  # images behind each mean
    means: str  # base64 of the (len(counts), d) float16 means

    def centroids(self) -> np.ndarray:
        raw = np.frombuffer(base64.b64decode(self.means), dtype=np.float16)
        return raw.reshape(len(self.counts), -1).astype(np.float64)


@dataclass(frozen=True)
class Reference:
    """The fixed reference network (in eval mode), its head, the feature its features are
    centred on, and a digest of all three."""

    network: nn.Module
    head: nn.Linear
    centre: torch.Tensor
    digest: str


@functools.cache
def reference() -> Reference:
    """The reference, built once a process."""
    return build_reference("resnet18", 0)


def build_reference(network_name: str, seed: int) -> Reference:
    """A reference of zoo network ``network_name`` drawn from ``seed`` (lumos's is
    ResNet-18 from seed 0; ``benchmarks/transfer_reference.py`` tries others)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        spec = NetworkSpec.resolve(network_name, 10, 3, REFERENCE_INPUT)
        network = build_network(spec).eval()
        noise = torch.rand(64, 3, 8, 8)
    head = head_of(network)
    smooth = F.interpolate(noise, size=REFERENCE_INPUT, mode="bilinear", align_corners=False)
    centre = features(network, head, [((smooth - 0.5) / 0.25, torch.zeros(64))])[0].mean(0)
    # The weights are drawn bit for bit alike everywhere; the centre's last bits follow the
    # machine's arithmetic, so the digest names how it is made instead.
    digest = weights_digest(
        network.state_dict().items(), salt=b"centre: mean of 64 smooth-noise images"
    )
    return Reference(network, head, centre, digest)


def reference_features(part: Dataset, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """The L2-normalised reference features of at most ``limit`` records of ``part`` (a
    seeded sample) and their class labels (-1 where a record has no single class)."""
    chosen = np.random.default_rng(0).choice(len(part), min(limit, len(part)), replace=False)
    sample = part.subset(np.sort(chosen))
    single = part.has_class_labels and not part.multi_label
    fixed = reference()

    def batches() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for images, labels in BatchLoader(sample, 64):
            images = at_size(images, REFERENCE_INPUT)
            if images.shape[1] != 3:
                images = images.mean(1, keepdim=True).expand(-1, 3, -1, -1)
            yield (images - 0.5) / 0.25, labels if single else torch.full((len(images),), -1)

    inputs, labels = features(fixed.network, fixed.head, batches())
    return F.normalize(inputs - fixed.centre, dim=1).numpy(), labels.numpy()


def fingerprint(part: Dataset) -> FeatureFingerprint:
    """``part`` (a training split) summarised in the reference network's feature space;
    computed once for these records of this content and this reference, then read."""
    key = _key(part)
    kept = _kept(part.folder)
    if key in kept:
        return FeatureFingerprint.model_validate(kept[key])
    found = _computed(part)
    with contextlib.suppress(OSError):  # a dataset on a read-only disk computes it each time
        write_json_atomic(part.folder / KEPT, {**kept, key: found.model_dump()})
    return found


def _key(part: Dataset) -> str:
    """The dataset's content, the records chosen and the reference, as one digest."""
    digest = hashlib.sha256(part.manifest["fingerprint"].encode())
    digest.update(np.ascontiguousarray(part.indices, dtype=np.int64).tobytes())
    digest.update(f"{reference().digest} {SAMPLE}".encode())
    return digest.hexdigest()


def _kept(folder: Path) -> dict:
    try:
        kept = json.loads((folder / KEPT).read_text())
    except (OSError, ValueError):
        return {}
    return kept if isinstance(kept, dict) else {}


def _computed(part: Dataset) -> FeatureFingerprint:
    inputs, labels = reference_features(part, SAMPLE)
    classes = np.unique(labels)
    means = np.stack([inputs[labels == c].mean(0) for c in classes]).astype(np.float16)
    return FeatureFingerprint(
        reference=reference().digest,
        images=len(part),
        counts=[int((labels == c).sum()) for c in classes],
        means=base64.b64encode(means.tobytes()).decode(),
    )
