"""COCO evaluation time: lumos' ``coco_metrics`` against pycocotools and faster-coco-eval.

Makes a ground truth of ``--images`` images (1-8 objects each, 10 categories, all three
area ranges) and detections for it (jittered true boxes, missed objects, false alarms and
misclassifications, with scores), writes both as JSON, and times, from the files:
(a) pycocotools' COCO + COCOeval (evaluate, accumulate, summarize);
(b) faster-coco-eval's COCO + COCOeval_faster, the same steps;
(c) ``lumos.evaluate.coco_metrics`` (file checks included).
Prints the median time of each over ``--repeats`` runs, the ratios, and whether the twelve
summary numbers agree.

    python benchmarks/coco_eval.py [--images 5000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from lumos.evaluate import coco_metrics
from lumos.tasks.detection.coco import STAT_KEYS
from machine import print_machine


def documents(images: int, seed: int = 0) -> tuple[dict, list]:
    rng = np.random.default_rng(seed)
    gt_images, annotations, results = [], [], []
    for image_id in range(1, images + 1):
        gt_images.append({"id": image_id, "width": 640, "height": 480})
        for _ in range(int(rng.integers(1, 9))):
            side = float(np.exp(rng.uniform(np.log(12), np.log(300))))
            w, h = side * rng.uniform(0.6, 1.4), side * rng.uniform(0.6, 1.4)
            x, y = rng.uniform(0, 640 - min(w, 639)), rng.uniform(0, 480 - min(h, 479))
            category = int(rng.integers(1, 11))
            annotations.append(
                {"id": len(annotations) + 1, "image_id": image_id, "category_id": category,
                 "bbox": [x, y, w, h], "area": w * h, "iscrowd": int(rng.random() < 0.02)}
            )  # fmt: skip
            if rng.random() < 0.85:  # found, a little off, sometimes as the wrong class
                shift = rng.normal(0, 0.08, 4) * [w, h, w, h]
                found = category if rng.random() < 0.9 else int(rng.integers(1, 11))
                results.append(
                    {"image_id": image_id, "category_id": found,
                     "bbox": [x + shift[0], y + shift[1], w + shift[2], h + shift[3]],
                     "score": float(rng.uniform(0.3, 1.0))}
                )  # fmt: skip
        for _ in range(int(rng.integers(0, 4))):  # false alarms
            w, h = rng.uniform(10, 200, 2)
            results.append(
                {"image_id": image_id, "category_id": int(rng.integers(1, 11)),
                 "bbox": [rng.uniform(0, 400), rng.uniform(0, 300), w, h],
                 "score": float(rng.uniform(0.0, 0.6))}
            )  # fmt: skip
    categories = [{"id": k, "name": f"class{k}"} for k in range(1, 11)]
    return {"images": gt_images, "annotations": annotations, "categories": categories}, results


def _stats(coco, evaluator_class, gt: Path, results: Path) -> list[float]:
    """The 12 summary numbers of a pycocotools-style COCO class and evaluator, from files."""
    with contextlib.redirect_stdout(io.StringIO()):
        truth = coco(str(gt))
        evaluator = evaluator_class(truth, truth.loadRes(str(results)), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return [float(v) for v in evaluator.stats[:12]]


def pycocotools_stats(gt: Path, results: Path) -> list[float]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    return _stats(COCO, COCOeval, gt, results)


def faster_stats(gt: Path, results: Path) -> list[float]:
    from faster_coco_eval import COCO, COCOeval_faster

    return _stats(COCO, COCOeval_faster, gt, results)


def lumos_stats(gt: Path, results: Path) -> list[float]:
    metrics = coco_metrics(gt, results)
    return [metrics[k] for k in STAT_KEYS]


def timed(function, *args, repeats: int) -> tuple[float, list[float]]:
    times, value = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        value = function(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print_machine()
    truth, results = documents(args.images)
    with tempfile.TemporaryDirectory() as folder:
        gt_path, results_path = Path(folder) / "gt.json", Path(folder) / "results.json"
        gt_path.write_text(json.dumps(truth))
        results_path.write_text(json.dumps(results))
        print(
            f"{args.images} images, {len(truth['annotations'])} objects, {len(results)} detections"
        )
        runs = {
            "pycocotools": timed(pycocotools_stats, gt_path, results_path, repeats=args.repeats),
            "faster-coco-eval": timed(faster_stats, gt_path, results_path, repeats=args.repeats),
            "lumos": timed(lumos_stats, gt_path, results_path, repeats=args.repeats),
        }
    base, base_stats = runs["pycocotools"]
    for name, (seconds, stats) in runs.items():
        same = np.allclose(stats, base_stats, atol=1e-12)
        print(
            f"{name:17s} {seconds:7.2f} s  pycocotools/this {base / seconds:5.2f}x  "
            f"same numbers as pycocotools: {same}"
        )
    fast = runs["faster-coco-eval"][0]
    print(f"lumos / faster-coco-eval time: {runs['lumos'][0] / fast:.2f}")


if __name__ == "__main__":
    main()
