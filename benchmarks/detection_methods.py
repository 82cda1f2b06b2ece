"""Heat-map detection against the sliding window, on one large image.

Builds a 64x64 classifier with a "background" class whose network has no padding and a total
stride of 8 (three conv + 2x2 max-pool stages, then two fully connected layers), saves it as
a bundle, and searches a ``--size`` x ``--size`` image of shapes on noise with it:
(a) ``--method sliding-window --stride 8``: every 64x64 window, classified in batches;
(b) ``--method heatmap``: the converted network, one pass over the whole image (stride 8).
Prints the median time of each over ``--repeats`` runs, the speed-up, and whether both
return the same boxes after non-maximum suppression (count, largest coordinate and score
difference). The weights are random but scaled so that decisions are confident: the timing
and the agreement do not depend on training.

    python benchmarks/detection_methods.py [--size 1024] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from lumos.deploy import Bundle, save_bundle
from lumos.models import NetworkSpec, build_network
from lumos.models.normalization import identity, normalized_model
from lumos.tasks.detection.search import Detections, Detector
from lumos.workspace import Workspace
from machine import print_machine

LAYERS = [
    {"conv": {"out": 16, "kernel": 5}}, "relu", {"maxpool": 2},
    {"conv": {"out": 32, "kernel": 3}}, "relu", {"maxpool": 2},
    {"conv": {"out": 64, "kernel": 3}}, "relu", {"maxpool": 2},
    "flatten", {"linear": 128}, "relu", {"linear": "classes"},
]  # fmt: skip
LABELS = ["background", "circle", "square"]


def classifier(workspace: Workspace) -> Bundle:
    torch.manual_seed(0)
    spec = NetworkSpec(
        name="custom", num_classes=3, in_channels=3, input_size=(64, 64), layers=LAYERS
    )
    model = normalized_model(build_network(spec), identity(3))
    with torch.no_grad():
        last = model.net[-1]
        last.weight.mul_(40)  # confident decisions, so thresholds are not on a knife edge
        last.bias.zero_()
    meta = {
        "task": "classification",
        "network": spec.model_dump(mode="json"),
        "labels": LABELS,
        "preprocessing": {
            "size": [64, 64], "input_size": [64, 64], "channels": 3, "resize_mode": "squash"
        },
        "provenance": {},
    }  # fmt: skip
    save_bundle("window", meta=meta, weights=model.state_dict(), workspace=workspace)
    return Bundle.load("window", workspace)


def scene(size: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 80, (size, size, 3)).astype(np.uint8)
    for _ in range(size // 40):
        side = int(rng.integers(20, 60))
        x, y = rng.integers(0, size - side, 2)
        image[y : y + side, x : x + side] = rng.integers(100, 256, 3)
    return image


def timed(detector: Detector, image: np.ndarray, method: str, repeats: int):
    times, found = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        found = detector.detect(image, method=method, stride=8, threshold=0.6)
        times.append(time.perf_counter() - start)
    return statistics.median(times), found


def agreement(a: Detections, b: Detections) -> str:
    if len(a.labels) != len(b.labels):
        return f"different: {len(a.labels)} vs {len(b.labels)} boxes"
    if not a.labels:
        return "same (no boxes)"
    order_a = np.lexsort(a.boxes.T[::-1])
    order_b = np.lexsort(b.boxes.T[::-1])
    boxes = np.abs(a.boxes[order_a] - b.boxes[order_b]).max()
    scores = np.abs(a.scores[order_a] - b.scores[order_b]).max()
    labels = [a.labels[i] for i in order_a] == [b.labels[i] for i in order_b]
    return (
        f"{len(a.labels)} boxes each; largest box difference {boxes:.4f} px, "
        f"score difference {scores:.2e}, labels equal: {labels}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print_machine()
    with tempfile.TemporaryDirectory() as folder:
        detector = Detector(classifier(Workspace(Path(folder))))
        print(f"conversion stride {detector.conversion.stride}")
        image = scene(args.size)
        slide_time, slide = timed(detector, image, "sliding-window", args.repeats)
        heat_time, heat = timed(detector, image, "heatmap", args.repeats)
    print(f"{args.size}x{args.size} image, 64x64 windows at stride 8")
    print(f"sliding window {slide_time:8.3f} s")
    print(f"heat map       {heat_time:8.3f} s")
    print(f"speed-up       {slide_time / heat_time:8.1f}x")
    print(f"boxes: {agreement(slide, heat)}")


if __name__ == "__main__":
    main()
