"""A split's P2L fingerprint is computed once for its records and kept beside the data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import lumos.bundle.fingerprint as fingerprints
from helpers import colour_folders
from lumos.bundle.fingerprint import KEPT, fingerprint
from lumos.data import Dataset, import_dataset
from lumos.workspace import Workspace


def test_a_fingerprint_is_computed_once_a_split_and_kept(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_dataset(colour_folders(tmp_path / "colours"), "colours", workspace=workspace)
    seen: list[int] = []
    computed = fingerprints.reference_features

    def counted(part: Dataset, *args: object):
        seen.append(len(part))
        return computed(part, *args)

    monkeypatch.setattr(fingerprints, "reference_features", counted)
    first = fingerprint(Dataset.open("colours", workspace).split("train"))
    again = fingerprint(Dataset.open("colours", workspace).split("train"))
    assert again == first and len(seen) == 1  # the second read what the first kept
    other = fingerprint(Dataset.open("colours", workspace).split("val"))
    assert len(seen) == 2 and other.images == seen[1] != first.images
    kept = workspace.dataset_dir("colours") / KEPT
    assert len(json.loads(kept.read_text())) == 2

    kept.write_text("{ not json")  # a damaged copy is computed again and rewritten
    assert fingerprint(Dataset.open("colours", workspace).split("train")) == first
    assert len(seen) == 3 and len(json.loads(kept.read_text())) == 1

    import_dataset(colour_folders(tmp_path / "more", per_class=14), "colours",
                   workspace=workspace, overwrite=True)  # fmt: skip
    fingerprint(Dataset.open("colours", workspace).split("train"))
    assert len(seen) == 4  # other content: computed anew
