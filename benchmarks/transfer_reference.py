"""P2L's similarity term under other reference networks: is lumos's (a ResNet-18 drawn from
seed 0) a suspect? On `transfer.py`'s pools (its --work folder, after the truth and rank
phases), each target's similarity to each source's training data is computed again in each
reference's feature space, and ranked against the fine-tuned accuracies: Kendall tau, mean
over the targets that are not the seeds' noise, per pool.

    python benchmarks/transfer_reference.py --work /tmp/tp
"""

from __future__ import annotations

import argparse
import copy
import statistics
from pathlib import Path
from unittest import mock

import numpy as np

from lumos.bundle import Bundle
from lumos.bundle import fingerprint as fingerprints
from lumos.data import Dataset
from lumos.transfer.estimators import domain_similarity
from lumos.workspace import Workspace
from machine import print_machine
from transfer_pools import POOLS
from transfer_report import Target, load, taus

REFERENCES = {  # name: (zoo network, seed)
    "ResNet-18, seed 0 (lumos's)": ("resnet18", 0),
    "ResNet-18, seed 1": ("resnet18", 1),
    "ResNet-18, seed 2": ("resnet18", 2),
    "ResNet-10-T, seed 0": ("timm:resnet10t", 0),
    "LeNet-5, seed 0": ("lenet5", 0),
}
KEY = "p2l_similarity"


def similarities(target: Target, workspace: Workspace) -> dict[str, float]:
    """Each source's training data's similarity to ``target``'s training split, in the
    feature space of the reference in use."""
    mine = fingerprints.fingerprint(Dataset.open(target.name, workspace).split("train"))
    found = {}
    for row in target.ranked["sources"]:
        origin = Bundle.load(row["source"], workspace).meta.provenance
        theirs = fingerprints.fingerprint(Dataset.open(origin["dataset"], workspace).split("train"))
        found[row["source"]] = domain_similarity(
            mine.centroids(), np.array(mine.counts), theirs.centroids(), np.array(theirs.counts)
        )
    return found


def with_similarity(target: Target, found: dict[str, float]) -> dict:
    """``target``'s ranking with its similarity scores replaced by ``found``."""
    ranked = copy.deepcopy(target.ranked)
    for row in ranked["sources"]:
        row["scores"][KEY] = found[row["source"]]
    return ranked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    args = parser.parse_args()
    print_machine()
    loaded = load(args.work, POOLS)
    print(f"{'reference':28s} " + " ".join(f"{pool:>8s}" for pool in loaded) + "     mean")
    for name, (network, seed) in REFERENCES.items():
        chosen = fingerprints.build_reference(network, seed)
        means = []
        with mock.patch.object(fingerprints, "reference", lambda chosen=chosen: chosen):
            for pool, targets in loaded.items():
                workspace = Workspace(args.work / pool / "ws")
                kept = [t for t in targets if t.separable]
                found = [taus(t, (KEY,), with_similarity(t, similarities(t, workspace)))[0]
                         for t in kept]  # fmt: skip
                means.append(statistics.mean(found))
        cells = " ".join(f"{m:8.2f}" for m in means)
        print(f"{name:28s} {cells} {statistics.mean(means):8.2f}", flush=True)


if __name__ == "__main__":
    main()
