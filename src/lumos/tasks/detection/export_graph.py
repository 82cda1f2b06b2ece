"""A detection bundle as one graph from images to boxes: decoding and NMS inside.

torchvision's detectors post-process image by image in Python, which no exported graph can
hold. :class:`DetectionGraph` recomputes the same answer for a whole batch: the anchors are
fixed for the bundle's input size, the head's outputs are decoded as the detector decodes
them, and non-maximum suppression runs as one ``lumos::batched_nms`` operator, which
exports to ONNX's own ``NonMaxSuppression``. The graph's outputs, with M the boxes found
in the whole batch: ``image`` (M,) the index of the image in the batch, ``boxes`` (M, 4)
x1y1x2y2 in input pixels, ``scores`` (M,) and ``labels`` (M,) indices into the bundle's
labels (0, the background, never appears).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn
from torchvision.models.detection import FCOS, RetinaNet
from torchvision.models.detection.image_list import ImageList
from torchvision.ops import boxes as box_ops

OUTPUTS = ["image", "boxes", "scores", "labels"]
CONFIDENT = 0.3  # PyTorch's boxes from this score up must be found by an export
SAME_BOX = 0.9  # IoU at which two boxes are the same
BOX_AGREEMENT = 0.95  # share of PyTorch's confident boxes an export must find


@torch.library.custom_op("lumos::batched_nms", mutates_args=())
def batched_nms(
    boxes: Tensor, scores: Tensor, iou: float, score_threshold: float, max_per_class: int
) -> Tensor:
    """ONNX ``NonMaxSuppression`` in PyTorch: boxes (N, A, 4), scores (N, K, A) -> rows of
    (image, class, box index), best first within each image and class."""
    rows = []
    for n in range(boxes.shape[0]):
        for k in range(scores.shape[1]):
            candidates = torch.nonzero(scores[n, k] > score_threshold).flatten()
            kept = torchvision.ops.nms(boxes[n, candidates], scores[n, k, candidates], iou)
            index = candidates[kept[:max_per_class]]
            rows.append(
                torch.stack([torch.full_like(index, n), torch.full_like(index, k), index], 1)
            )
    return torch.cat(rows) if rows else boxes.new_zeros((0, 3), dtype=torch.int64)


@batched_nms.register_fake
def _(boxes: Tensor, scores: Tensor, iou: float, score_threshold: float, max_per_class: int):
    found = torch.library.get_ctx().new_dynamic_size()
    return boxes.new_empty((found, 3), dtype=torch.int64)


def nms_to_onnx(boxes, scores, iou: float, score_threshold: float, max_per_class: int):
    """The ONNX translation of ``lumos::batched_nms`` (for ``torch.onnx.export``)."""
    from onnxscript import opset18 as op

    return op.NonMaxSuppression(
        boxes,
        scores,
        op.Constant(value_ints=[max_per_class]),
        op.Constant(value_floats=[iou]),
        op.Constant(value_floats=[score_threshold]),
    )


def translations() -> dict:
    return {torch.ops.lumos.batched_nms.default: nms_to_onnx}


class DetectionGraph(nn.Module):
    """An FCOS or RetinaNet bundle's network (normalisation included), batch in, boxes out."""

    def __init__(self, wrapped: nn.Module, input_size: tuple[int, int]) -> None:
        super().__init__()
        net = wrapped.net
        self.normalize, self.backbone, self.head = wrapped.normalize, net.backbone, net.head
        self.box_coder = net.box_coder
        self.fcos = isinstance(net, FCOS)
        self.iou, self.score_threshold = float(net.nms_thresh), float(net.score_thresh)
        self.max_per_class = int(net.detections_per_img)
        self.size = input_size
        step = net.transform.size_divisible
        height, width = (math.ceil(side / step) * step for side in input_size)
        self.padding = (0, width - input_size[1], 0, height - input_size[0])
        with torch.no_grad():
            blank = torch.zeros(1, wrapped.normalize.mean.shape[0], height, width)
            features = list(self.backbone(blank).values())
            anchors = net.anchor_generator(ImageList(blank, [input_size]), features)[0]
        self.register_buffer("anchors", anchors)

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        features = list(self.backbone(F.pad(self.normalize(images), self.padding)).values())
        out = self.head(features)
        count = images.shape[0]
        if self.fcos:
            scores = torch.sqrt(
                torch.sigmoid(out["cls_logits"]) * torch.sigmoid(out["bbox_ctrness"])
            )
            boxes = self.box_coder.decode(
                out["bbox_regression"], self.anchors.expand(count, -1, -1)
            )
        else:
            scores = torch.sigmoid(out["cls_logits"])
            boxes = self.box_coder.decode_single(
                out["bbox_regression"].reshape(-1, 4), self.anchors.repeat(count, 1)
            ).reshape(count, -1, 4)
        boxes = box_ops.clip_boxes_to_image(boxes, self.size)
        foreground = scores[:, :, 1:]
        found = torch.ops.lumos.batched_nms(
            boxes, foreground.transpose(1, 2), self.iou, self.score_threshold, self.max_per_class
        )
        image, label, index = found[:, 0], found[:, 1], found[:, 2]
        return image, boxes[image, index], foreground[image, index, label], label + 1


def supported(wrapped: nn.Module) -> bool:
    return isinstance(getattr(wrapped, "net", None), (FCOS, RetinaNet))


def compare_boxes(
    reference: list[dict[str, Tensor]], found: list[np.ndarray]
) -> tuple[float, float]:
    """(largest coordinate or score difference of matched boxes, share of the detector's own
    boxes scoring at least ``CONFIDENT`` that ``found`` (a graph's outputs) has with the same
    label at IoU >= ``SAME_BOX``); a share of 1 when there are none."""
    image, boxes, scores, labels = (torch.from_numpy(np.asarray(a)) for a in found)
    matched = total = 0
    diff = 0.0
    for n, ref in enumerate(reference):
        confident = ref["scores"] >= CONFIDENT
        mine = image == n
        total += int(confident.sum())
        if not confident.any() or not mine.any():
            continue
        same_label = ref["labels"][confident][:, None] == labels[mine][None]
        overlap = box_ops.box_iou(ref["boxes"][confident], boxes[mine].float()) * same_label
        best, where = overlap.max(1)
        hit = best >= SAME_BOX
        matched += int(hit.sum())
        if hit.any():
            pairs = where[hit]
            diff = max(
                diff,
                float((ref["boxes"][confident][hit] - boxes[mine][pairs]).abs().max()),
                float((ref["scores"][confident][hit] - scores[mine][pairs]).abs().max()),
            )
    return diff, matched / total if total else 1.0
