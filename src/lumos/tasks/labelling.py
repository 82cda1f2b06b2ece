"""What a label is for each task a person can label: its JSON value, checks, pre-labels,
edits and agreement (the label tool's kind, ``Task.label_kind``).

Values are JSON objects in the pixels of the project's image, each task's its own (see
``lumos/tasks/<kind>/labels.py``). Any kind may be ``{"skip": true}``: looked at, not
labelled (left out of the dataset).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from lumos.data.records import SourceItem, TaskKind
from lumos.errors import LumosError

Value = dict[str, Any]
SKIP: Value = {"skip": True}


class LabelError(LumosError):
    """A label value that does not fit its project."""


class LabelKind(ABC):
    """One kind of label project."""

    dataset_kind: TaskKind  # what the finished labels make a dataset of
    noun: str  # what one label is called in messages
    multi_label: bool = False  # whether an image may carry several classes

    def check(
        self, value: Any, classes: list[str], multi_label: bool, size: tuple[int, int]
    ) -> Value:
        """``value`` normalised, or :class:`LabelError` naming what is wrong; ``size`` is the
        image's (width, height)."""
        if not isinstance(value, dict):
            raise LabelError("a label is a JSON object")
        if value.get("skip") is True:
            return dict(SKIP)
        return self._check(value, classes, multi_label, size)

    @abstractmethod
    def _check(
        self, value: Value, classes: list[str], multi_label: bool, size: tuple[int, int]
    ) -> Value: ...

    @abstractmethod
    def classes_in(self, value: Value) -> list[str]:
        """The class of every object (or the image's classes) in ``value``."""

    @abstractmethod
    def item(self, source: str, value: Value, size: tuple[int, int]) -> SourceItem:
        """The dataset item ``value`` labels (path filled in by the caller)."""

    @abstractmethod
    def from_sample(self, sample: Any, classes: list[str]) -> Value | None:
        """The label a stored dataset record carries (None where it cannot be drawn)."""

    @abstractmethod
    def from_result(self, result: Any) -> tuple[Value, float]:
        """A pre-label and its uncertainty (higher: less sure) from a model's result."""

    @abstractmethod
    def edits(self, start: Value, end: Value) -> int:
        """How many edits turn ``start`` into ``end`` (add, delete, move or relabel one)."""

    def same(self, a: Value, b: Value) -> bool:
        return self.edits(a, b) == 0

    def keep_classes(self, value: Value, classes: set[str]) -> Value:
        """``value`` without the objects (or image classes) not in ``classes``."""
        key = next(iter(value))
        items = value[key]
        kept = [x for x in items if (x if isinstance(x, str) else x["class"]) in classes]
        return {key: kept}

    @abstractmethod
    def pair_agreement(self, pairs: list[tuple[Value, Value, tuple[int, int]]]) -> dict[str, float]:
        """How far two annotators agree on the images both labelled: (theirs, mine, size)."""

    def group_agreement(self, ratings: list[list[Value]]) -> dict[str, float]:
        """Agreement of everyone on images every annotator labelled; none by default."""
        return {}


def class_of(name: Any, classes: list[str]) -> str:
    if name not in classes:
        raise LabelError(f"unknown class {name!r}: choose from {', '.join(classes)}")
    return name
