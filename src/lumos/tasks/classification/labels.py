"""A classification label: ``{"classes": ["cat"]}`` (several with multi-label)."""

from __future__ import annotations

from typing import Any

import numpy as np

from lumos.data.records import SourceItem
from lumos.tasks.labelling import LabelError, LabelKind, Value, class_of


class ClassLabels(LabelKind):
    dataset_kind = "classification"
    noun = "class"
    multi_label = True

    def _check(
        self, value: Value, classes: list[str], multi_label: bool, size: tuple[int, int]
    ) -> Value:
        chosen = value.get("classes")
        if not isinstance(chosen, list) or not chosen:
            raise LabelError("a class label needs 'classes': a non-empty list")
        if len(chosen) > 1 and not multi_label:
            raise LabelError("one class per image in this project (it is not multi-label)")
        names = [class_of(name, classes) for name in chosen]
        return {"classes": sorted(set(names), key=names.index)}

    def classes_in(self, value: Value) -> list[str]:
        return list(value.get("classes", []))

    def item(self, source: str, value: Value, size: tuple[int, int]) -> SourceItem:
        return SourceItem(source, labels=tuple(value["classes"]))

    def from_sample(self, sample: Any, classes: list[str]) -> Value | None:
        labels = sample.label if isinstance(sample.label, list) else [sample.label]
        return {"classes": [classes[i] for i in labels if i >= 0]} if labels != [-1] else None

    def from_result(self, result: Any) -> tuple[Value, float]:
        """The top class; uncertainty 1 - (p1 - p2), the margin's complement."""
        top = [p for _, p in result.top] + [0.0, 0.0]
        return {"classes": list(result.labels[:1] or [result.top[0][0]])}, 1.0 - (top[0] - top[1])

    def edits(self, start: Value, end: Value) -> int:
        return int(set(self.classes_in(start)) != set(self.classes_in(end)))

    def pair_agreement(self, pairs: list[tuple[Value, Value, tuple[int, int]]]) -> dict[str, float]:
        """Cohen's kappa (a set of classes is one category) and the share that agree."""
        from sklearn.metrics import cohen_kappa_score

        a = ["|".join(sorted(x["classes"])) for x, _, _ in pairs]
        b = ["|".join(sorted(y["classes"])) for _, y, _ in pairs]
        same = sum(x == y for x, y in zip(a, b, strict=True)) / len(a)
        kappa = 1.0 if len(set(a) | set(b)) == 1 else float(cohen_kappa_score(a, b))
        return {"cohen_kappa": kappa, "agree": same}

    def group_agreement(self, ratings: list[list[Value]]) -> dict[str, float]:
        """Fleiss' kappa over images rated by the same number (all) of annotators."""
        keys = [["|".join(sorted(v["classes"])) for v in image] for image in ratings]
        categories = sorted({k for image in keys for k in image})
        counts = np.array([[image.count(c) for c in categories] for image in keys], dtype=float)
        raters = counts.sum(axis=1)[0]
        if len(counts) == 0 or raters < 2:
            return {}
        share = counts.sum(axis=0) / counts.sum()
        observed = ((counts * (counts - 1)).sum(axis=1) / (raters * (raters - 1))).mean()
        expected = float((share**2).sum())
        kappa = 1.0 if expected == 1 else (observed - expected) / (1 - expected)
        return {"fleiss_kappa": float(kappa), "images": len(counts), "raters": int(raters)}
