"""Finding objects in images, three ways.

With a classifier (a bundle with a "background" class):

- ``sliding-window``: classify every window of the classifier's input size, at each stride
  and scale, in batches;
- ``heatmap``: run the fully convolutional twin of the network (see
  :mod:`lumos.models.fcn`) once over the whole image and read a score map, one position per
  ``stride`` pixels.

Windows whose best class is not the background and whose score passes ``threshold`` become
boxes. With a detection bundle (``model``, the only method it has), the detector itself
returns the boxes. Every method can search a large image in overlapping tiles; per-class
non-maximum suppression keeps the best of overlapping boxes, across tiles and scales too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.ops import batched_nms

from lumos.choices import DetectionMethod
from lumos.data.images import open_image
from lumos.errors import BundleError, DataError
from lumos.models.fcn import Conversion, convert_to_fcn
from lumos.tasks.base import GraphRun, TrainedModel
from lumos.tasks.detection.result import Detections, write_detections
from lumos.tasks.inputs import seen
from lumos.tasks.predictor import Predictor, export_graph, torch_run

BACKGROUND = "background"
METHODS: tuple[DetectionMethod, ...] = get_args(DetectionMethod)


def _image_tensor(source: Path | np.ndarray, channels: int) -> torch.Tensor:
    if isinstance(source, np.ndarray):
        pixels = source if source.ndim == 3 else source[:, :, None]
    else:
        image, _ = open_image(source, channels=channels)
        pixels = np.array(image)  # a writable copy for torch
        pixels = pixels if pixels.ndim == 3 else pixels[:, :, None]
    return torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1).float().div_(255)[None]


class Detector:
    """A bundle ready to detect: the network is built once (and a classifier converted to
    its fully convolutional twin once), however many images, tiles and scales follow."""

    def __init__(self, bundle: TrainedModel, *, trust_code: bool = False) -> None:
        if BACKGROUND not in bundle.labels:
            raise BundleError(
                f"{bundle.origin}: detection needs a model with a '{BACKGROUND}' class"
            )
        self.bundle = bundle
        self.end_to_end = bundle.task.finds_boxes
        self.background = bundle.labels.index(BACKGROUND)
        self.window = bundle.preprocessing.input_size
        self.model = bundle.model(trust_code=trust_code)
        self._conversion: Conversion | None = None
        self._graph: GraphRun | None = None

    def predictor(self, threshold: float) -> Predictor:
        """A detection bundle's predictor with ``threshold`` as its operating point."""
        if self._graph is None:
            self._graph = torch_run(export_graph(self.bundle, self.model).module.eval())
        return Predictor(self.bundle.at_score_threshold(threshold), self._graph)

    @property
    def conversion(self) -> Conversion:
        if self._conversion is None:
            shape = (self.bundle.spec.in_channels, *self.window)
            self._conversion = convert_to_fcn(self.model, shape)  # type: ignore[arg-type]
        return self._conversion

    @torch.no_grad()
    def window_scores(
        self, image: torch.Tensor, stride: int, batch_size: int = 256
    ) -> torch.Tensor:
        """(K, rows, cols) class probabilities of every window at ``stride``."""
        height, width = self.window
        patches = image.unfold(2, height, stride).unfold(3, width, stride)  # 1, C, rows, cols, h, w
        rows, cols = patches.shape[2], patches.shape[3]
        windows = patches.permute(0, 2, 3, 1, 4, 5).reshape(
            rows * cols, image.shape[1], height, width
        )
        scores = torch.cat(
            [
                torch.softmax(self.model(windows[i : i + batch_size]).float(), 1)
                for i in range(0, len(windows), batch_size)
            ]
        )
        return scores.T.reshape(-1, rows, cols)

    @torch.no_grad()
    def heatmap_scores(self, image: torch.Tensor) -> tuple[torch.Tensor, int]:
        """(K, rows, cols) class probabilities from one pass of the converted network, and
        its stride."""
        scores = torch.softmax(self.conversion.network(image).float(), dim=1)[0]
        return scores, self.conversion.stride

    def detect(
        self,
        source: Path | np.ndarray,
        *,
        method: str | None = None,
        stride: int = 16,
        scales: tuple[float, ...] = (1.0,),
        threshold: float | None = None,
        iou: float = 0.3,
        tile: int | None = None,
        overlap: float = 0.2,
    ) -> Detections:
        """Boxes of the non-background classes found in one image.

        ``method`` defaults to ``model`` for a detection bundle and ``sliding-window`` for a
        classifier. With ``tile``, the image is cut into ``tile``-pixel squares overlapping
        by ``overlap``, each searched on its own, and the boxes merged: a large image never
        enters the network whole. ``threshold`` defaults to the bundle's operating point.
        """
        threshold = self.bundle.score_threshold if threshold is None else threshold
        method = method or ("model" if self.end_to_end else "sliding-window")
        if method not in METHODS:
            raise BundleError(f"unknown detection method {method!r}: {', '.join(METHODS)}")
        if (method == "model") != self.end_to_end:
            raise BundleError(
                f"{self.bundle.origin}: a detection model finds boxes itself (method model)"
                if self.end_to_end
                else f"{self.bundle.origin}: a classifier detects by sliding-window or heatmap"
            )
        if method == "model" and scales != (1.0,):
            raise BundleError(
                f"{self.bundle.origin}: a detector sees each image (or tile) at its input "
                "size; scales are for sliding-window and heatmap"
            )
        full = _image_tensor(source, self.bundle.spec.in_channels)
        found = [
            _search(self, part, scale, method, stride, threshold).shifted(left, top)
            for (top, left), part in _tiles(full, tile, overlap)
            for scale in scales
        ]
        boxes = torch.cat([f.boxes for f in found])
        scores = torch.cat([f.scores for f in found])
        labels = torch.cat([f.labels for f in found])
        kept = batched_nms(boxes, scores, labels, iou)
        names = self.bundle.labels
        return Detections(
            boxes[kept].numpy(),
            scores[kept].numpy(),
            [names[i] for i in labels[kept].tolist()],
            "array" if isinstance(source, np.ndarray) else str(source),
        )

    def found_in(self, source: Path | np.ndarray, **options: Any) -> Detections:
        """:meth:`detect`, with an unreadable file's error in the result, not raised."""
        try:
            return self.detect(source, **options)
        except DataError as e:
            return Detections.failed(str(source), e.reason)

    def compare_methods(self, image: torch.Tensor) -> tuple[float, int]:
        """Largest difference between heat-map and sliding-window scores where both exist.

        Zero (to float precision) for a network without padding; padding makes windows near
        an edge see zeros where the whole image has pixels, so the two then differ.
        """
        heat, stride = self.heatmap_scores(image)
        slide = self.window_scores(image, stride)
        rows, cols = min(heat.shape[1], slide.shape[1]), min(heat.shape[2], slide.shape[2])
        return float((heat[:, :rows, :cols] - slide[:, :rows, :cols]).abs().max()), stride

    def check_conversion(self, seed: int = 0) -> tuple[float, int]:
        """:meth:`compare_methods` on a random image three windows wide and high."""
        generator = torch.Generator().manual_seed(seed)
        height, width = self.window
        image = torch.rand(
            1, self.bundle.spec.in_channels, height * 3, width * 3, generator=generator
        )
        return self.compare_methods(image)


def window_scores(
    bundle: TrainedModel, image: torch.Tensor, stride: int, *, trust_code: bool = False
) -> torch.Tensor:
    return Detector(bundle, trust_code=trust_code).window_scores(image, stride)


def heatmap_scores(
    bundle: TrainedModel, image: torch.Tensor, *, trust_code: bool = False
) -> tuple[torch.Tensor, int]:
    return Detector(bundle, trust_code=trust_code).heatmap_scores(image)


def compare_methods(
    bundle: TrainedModel, image: torch.Tensor, *, trust_code: bool = False
) -> tuple[float, int]:
    return Detector(bundle, trust_code=trust_code).compare_methods(image)


def detect(
    bundle: TrainedModel, source: Path | np.ndarray, *, trust_code: bool = False, **options: object
) -> Detections:
    """One image searched by a fresh :class:`Detector`; see :meth:`Detector.detect`."""
    return Detector(bundle, trust_code=trust_code).detect(source, **options)  # type: ignore[arg-type]


def _tiles(image: torch.Tensor, tile: int | None, overlap: float):
    height, width = image.shape[2:]
    if tile is None or (height <= tile and width <= tile):
        yield (0, 0), image
        return
    if not 0 <= overlap < 1:
        raise BundleError("--overlap must be at least 0 and below 1")
    step = max(1, round(tile * (1 - overlap)))
    for top in _starts(height, tile, step):
        for left in _starts(width, tile, step):
            yield (top, left), image[:, :, top : top + tile, left : left + tile]


def _starts(length: int, tile: int, step: int) -> list[int]:
    """Tile offsets covering ``length``; the last tile ends at the edge."""
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, step))
    return [*starts, length - tile]


@dataclass
class _Found:
    """Boxes (N, 4) float32, scores (N,) and class indices (N,) before suppression."""

    boxes: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor

    def shifted(self, left: int, top: int) -> _Found:
        offset = torch.tensor([left, top, left, top], dtype=torch.float32)
        return _Found(self.boxes + offset, self.scores, self.labels)


@torch.no_grad()
def _search(
    detector: Detector,
    image: torch.Tensor,
    scale: float,
    method: str,
    stride: int,
    threshold: float,
) -> _Found:
    """Every window (or detector box) kept, in the coordinates of ``image``."""
    window_h, window_w = detector.window
    size = (
        max(window_h, round(image.shape[2] * scale)),
        max(window_w, round(image.shape[3] * scale)),
    )
    scaled = (
        F.interpolate(image, size=size, mode="bilinear", antialias=True)
        if size != tuple(image.shape[2:])
        else image
    )
    fy, fx = image.shape[2] / scaled.shape[2], image.shape[3] / scaled.shape[3]
    factors = torch.tensor([fx, fy, fx, fy], dtype=torch.float32)
    if method == "model":
        return _found_by_model(detector, scaled, threshold)
    if method == "heatmap":
        probabilities, step = detector.heatmap_scores(scaled)
    else:
        probabilities, step = detector.window_scores(scaled, stride), stride
    best, classes = probabilities.max(0)
    rows, cols = torch.nonzero(
        (classes != detector.background) & (best >= threshold), as_tuple=True
    )
    x1, y1 = cols.float() * step, rows.float() * step
    corners = torch.stack([x1, y1, x1 + window_w, y1 + window_h], dim=1)
    return _Found(corners * factors, best[rows, cols], classes[rows, cols])


def _found_by_model(detector: Detector, image: torch.Tensor, threshold: float) -> _Found:
    """A detection bundle's boxes in ``image`` (1, C, H, W), found by its predictor."""
    pixels = (image[0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
    [found] = detector.predictor(threshold).answers([seen(pixels, detector.bundle)])
    return _Found(
        torch.from_numpy(found.boxes.reshape(-1, 4)).float(),
        torch.from_numpy(found.scores).float(),
        torch.tensor([detector.bundle.labels.index(n) for n in found.labels], dtype=torch.long),
    )


def detect_files(
    bundle: TrainedModel,
    paths: list[Path],
    out_dir: Path,
    *,
    trust_code: bool = False,
    **options: Any,
) -> list[Detections]:
    """Detect in every image file: ``<stem>-detections.png`` for each, and one COCO results
    file ``detections.json`` for all; a file that cannot be read carries its error."""
    detector = Detector(bundle, trust_code=trust_code)
    results = [detector.found_in(path, **options) for path in paths]
    write_detections(results, bundle.labels, out_dir)
    return results
