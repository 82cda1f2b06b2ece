"""Agreement between annotators who labelled the same images."""

from __future__ import annotations

import json
from collections import defaultdict
from itertools import combinations
from typing import Any

from lumos.label.project import LabelProject
from lumos.tasks.labelling import Value


def labels_by_image(project: LabelProject) -> dict[int, dict[str, Value]]:
    """{image id: {annotator: value}} of every label that is not a skip."""
    found: dict[int, dict[str, Value]] = defaultdict(dict)
    for row in project.rows("SELECT image_id, annotator, value FROM labels"):
        value = json.loads(row["value"])
        if not value.get("skip"):
            found[row["image_id"]][row["annotator"]] = value
    return found


def agreement(project: LabelProject) -> dict[str, Any]:
    """Each pair of annotators on the images both labelled (Cohen's kappa for classes,
    IoU-matched boxes, mask IoU), and everyone together where the kind has a measure for
    it (Fleiss' kappa for classes, on the images every annotator labelled)."""
    by_image = labels_by_image(project)
    sizes = {
        row["id"]: (row["width"], row["height"]) for row in project.rows("SELECT * FROM images")
    }
    annotators = sorted({name for labels in by_image.values() for name in labels})
    pairs = []
    for a, b in combinations(annotators, 2):
        shared = [(v[a], v[b], sizes[i]) for i, v in sorted(by_image.items()) if a in v and b in v]
        if shared:
            measures = project.kind.pair_agreement(shared)
            pairs.append({"annotators": [a, b], "images": len(shared), **measures})
    everyone = [
        [v[name] for name in annotators] for v in by_image.values() if len(v) == len(annotators)
    ]
    group = project.kind.group_agreement(everyone) if len(annotators) > 1 and everyone else {}
    return {"annotators": annotators, "pairs": pairs, "all": group}
