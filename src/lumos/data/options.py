"""Import options: DIGITS' dataset form and more, validated."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lumos.choices import ImageEncoding, ResizeMode, VocCorners
from lumos.data.images import DEFAULT_MAX_PIXELS
from lumos.data.records import TaskKind

DEFAULT_LONGEST_SIDE = 512
"""Without --size, the most common source size is kept up to this longest side."""
FALLBACK_SIZE = (256, 256)


class ImportOptions(BaseModel):
    """How a source becomes a dataset. Every field has a default that works."""

    model_config = ConfigDict(extra="forbid")

    format: str | None = Field(None, description="source format; detected when not given")
    task: TaskKind | None = Field(None, description="overrides the task the format implies")
    size: tuple[int, int] | None = Field(
        None,
        description="(height, width); default: the most common source size if its "
        f"longest side is at most {DEFAULT_LONGEST_SIDE}, else {FALLBACK_SIZE}",
    )
    resize_mode: ResizeMode = "squash"
    channels: Literal[1, 3] | None = Field(
        None, description="1 or 3; default: 1 when every sampled image is grayscale"
    )
    val_percent: float = Field(15.0, ge=0, lt=100)
    test_percent: float = Field(10.0, ge=0, lt=100)
    stratify: bool = True
    seed: int = 0
    min_per_class: int = Field(0, ge=0, description="drop classes with fewer images")
    max_per_class: int | None = Field(None, ge=1, description="keep at most this many per class")
    classes: list[str] | None = Field(
        None, description="class list, in order; default: from the data"
    )
    allow_one_class: bool = Field(
        False, description="import a classification source with a single class (refused)"
    )
    dedupe: bool = Field(False, description="drop exact duplicate images (always reported)")
    max_pixels: int = Field(DEFAULT_MAX_PIXELS, ge=1)
    workers: int | None = Field(None, ge=0, description="decoding processes; 0 = in process")
    corners: VocCorners = Field(
        "pixels",
        description="Pascal VOC box numbers: 1-based pixels as the VOC devkit and Detectron2 "
        "read them, or 0-based edges as datumaro and CVAT write them",
    )
    encoding: ImageEncoding = Field(
        "auto",
        description="how images are stored: raw arrays (fastest to read), re-encoded JPEG "
        "(quality 95) or PNG; auto: JPEG above 2 GiB of raw pixels",
    )

    @model_validator(mode="after")
    def _check(self) -> ImportOptions:
        if self.val_percent + self.test_percent >= 100:
            raise ValueError("val_percent + test_percent must be below 100")
        if self.size is not None and (min(self.size) < 1 or max(self.size) > 8192):
            raise ValueError("size must be between 1 and 8192 pixels per side")
        if self.classes is not None and len(set(self.classes)) != len(self.classes):
            raise ValueError("classes must not repeat")
        return self
