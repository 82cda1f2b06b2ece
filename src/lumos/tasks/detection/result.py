"""A detector's answer for one image: boxes, scores and class names; drawn and written as
COCO results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from lumos.data.images import open_image
from lumos.data.show import palette
from lumos.fileio import write_json_atomic

READABLE_SIDE = 384  # pictures of boxes on smaller images are enlarged to about this


@dataclass
class Detections:
    """Boxes (N, 4) x1y1x2y2 in image pixels, scores (N,), labels (N,) as class names."""

    boxes: np.ndarray
    scores: np.ndarray
    labels: list[str]
    source: str = "array"
    error: str | None = None

    @classmethod
    def failed(cls, source: str, error: str) -> Detections:
        """The result for an input that could not be read."""
        empty = np.zeros((0, 4), dtype=np.float32)
        return cls(empty, empty[:, 0], [], source, error)

    def as_records(self, file_name: str, image_id: int, labels: list[str]) -> list[dict]:
        """COCO results, one per box (``image_id``, ``category_id`` the index in ``labels``,
        ``bbox`` [x, y, width, height], ``score``), with the file and label names added."""
        return [
            {
                "image_id": image_id,
                "category_id": labels.index(label),
                "bbox": [x1, y1, x2 - x1, y2 - y1],
                "score": score,
                "file_name": file_name,
                "label": label,
            }
            for (x1, y1, x2, y2), score, label in zip(
                self.boxes.tolist(), self.scores.tolist(), self.labels, strict=True
            )
        ]

    def as_dict(self) -> dict[str, Any]:
        objects = [
            {"label": label, "score": float(score), "box": [round(c, 1) for c in box]}
            for box, score, label in zip(
                self.boxes.tolist(), self.scores.tolist(), self.labels, strict=True
            )
        ]
        return {"source": self.source, "objects": objects, "error": self.error}

    def served(self) -> dict[str, Any]:
        """What a server answers: :meth:`as_dict`."""
        return self.as_dict()

    def describe(self) -> str:
        """One line for a terminal."""
        if self.error:
            return f"{self.source}: error: {self.error}"
        return f"{self.source}: {len(self.labels)} objects"

    def display(self) -> list[dict[str, Any]]:
        """What a page shows: each box's class and score, and where it is."""
        return [
            {"label": o["label"], "value": o["score"], "note": ", ".join(map(str, o["box"]))}
            for o in self.as_dict()["objects"]
        ]

    def rows(self) -> list[dict[str, Any]]:
        """CSV rows: one per box, or the error."""
        if self.error:
            return [{"source": self.source, "error": self.error}]
        return [
            {"source": self.source, "label": o["label"], "score": f"{o['score']:.6f}",
             "box": " ".join(map(str, o["box"]))}
            for o in self.as_dict()["objects"]
        ]  # fmt: skip

    def draw(self, source: Path | np.ndarray, out: Path) -> Path:
        """The image (a file or an (H, W, C) array) with the boxes, labels and scores drawn."""
        if isinstance(source, np.ndarray):
            canvas = Image.fromarray(source.squeeze()).convert("RGB")
        else:
            canvas, _ = open_image(source, channels=3)
        # Small images are enlarged (nearest neighbour) so that the labels stay readable.
        zoom = max(1, READABLE_SIDE // max(canvas.size))
        if zoom > 1:
            canvas = canvas.resize(
                (canvas.width * zoom, canvas.height * zoom), Image.Resampling.NEAREST
            )
        draw = ImageDraw.Draw(canvas)
        names = sorted(set(self.labels))
        colours = dict(zip(names, palette(len(names)), strict=True))
        font = ImageFont.load_default(size=12)
        for box, score, label in zip(
            (self.boxes * zoom).tolist(), self.scores.tolist(), self.labels, strict=True
        ):
            draw.rectangle(box, outline=colours[label], width=2)
            caption = f"{label} {score:.2f}"
            corner = (box[0], max(0, box[1] - 14))
            draw.rectangle(draw.textbbox(corner, caption, font=font), fill=colours[label])
            draw.text(corner, caption, fill="black", font=font)
        canvas.save(out)
        return out


def write_detections(results: Sequence[Detections], labels: list[str], folder: Path) -> list[Path]:
    """``<stem>-detections.png`` of every image read, and ``detections.json``: COCO results
    of them all (image ids count from 1 in input order, category ids index ``labels``)."""
    folder.mkdir(parents=True, exist_ok=True)
    written, records = [], []
    for image_id, found in enumerate(results, 1):
        if found.error:
            continue
        source = Path(found.source)
        written.append(found.draw(source, folder / f"{source.stem}-detections.png"))
        records.extend(found.as_records(source.name, image_id, labels))
    write_json_atomic(folder / "detections.json", records)
    return [*written, folder / "detections.json"]
