import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from helpers import run_cli
from lumos.errors import DataError
from lumos.evaluate import coco_metrics, mask_confusion, segmentation_metrics
from lumos.tasks.detection.coco import STAT_KEYS


def ground_truth() -> dict:
    rng = np.random.default_rng(0)
    images, annotations = [], []
    for image_id in range(1, 9):
        images.append({"id": image_id, "file_name": f"{image_id}.png", "width": 200, "height": 200})
        for _ in range(3):
            x, y = rng.uniform(0, 120, 2)
            w, h = rng.uniform(8, 80, 2)
            annotation = {"id": len(annotations) + 1, "image_id": image_id, "iscrowd": 0}
            annotation["category_id"] = int(rng.choice([1, 7]))
            annotation["bbox"] = [float(x), float(y), float(w), float(h)]
            annotation["area"] = float(w * h)
            annotations.append(annotation)
    categories = [{"id": 1, "name": "cat"}, {"id": 7, "name": "dog"}]
    return {"images": images, "annotations": annotations, "categories": categories}


def noisy_detections(gt: dict, seed: int = 1) -> list[dict]:
    rng = np.random.default_rng(seed)
    results = []
    for a in gt["annotations"]:
        if rng.random() < 0.15:
            continue  # a miss
        x, y, w, h = a["bbox"]
        jitter = rng.normal(0, 0.08, 4) * [w, h, w, h]
        results.append(
            {
                "image_id": a["image_id"],
                "category_id": a["category_id"],
                "bbox": [x + jitter[0], y + jitter[1], w + jitter[2], h + jitter[3]],
                "score": float(rng.uniform(0.3, 1)),
            }
        )
    for image_id in (1, 4):  # false positives
        results.append(
            {
                "image_id": image_id,
                "category_id": 1,
                "bbox": [150.0, 150.0, 30.0, 30.0],
                "score": 0.9,
            }
        )
    return results


def perfect_detections(gt: dict) -> list[dict]:
    keys = ("image_id", "category_id", "bbox")
    return [{**{k: a[k] for k in keys}, "score": 1.0} for a in gt["annotations"]]


def pycocotools_stats(gt: dict, results: list[dict]) -> np.ndarray:
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = json.loads(json.dumps(gt))
        coco.createIndex()
        evaluator = COCOeval(coco, coco.loadRes(json.loads(json.dumps(results))), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator.stats


def test_coco_metrics_equal_pycocotools(tmp_path: Path) -> None:
    gt, results = ground_truth(), noisy_detections(ground_truth())
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "results.json").write_text(json.dumps(results))
    ours = coco_metrics(tmp_path / "gt.json", tmp_path / "results.json")
    reference = pycocotools_stats(gt, results)
    assert [ours[k] for k in STAT_KEYS] == [float(v) for v in reference]
    assert 0.2 < ours["map"] < 0.95 and ours["map_50"] >= ours["map_75"]
    assert ours["classes"] == ["cat", "dog"] and len(ours["map_per_class"]) == 2


def test_perfect_and_empty_detections() -> None:
    gt = ground_truth()
    perfect = perfect_detections(gt)
    assert coco_metrics(gt, perfect)["map"] == pytest.approx(1.0)
    assert coco_metrics(gt, perfect)["map_per_class"] == pytest.approx([1.0, 1.0])
    assert coco_metrics(gt, [])["map"] == 0.0


@pytest.mark.parametrize(
    ("results", "message"),
    [
        ({"image_id": 1}, "COCO results must be a list"),
        (
            [{"image_id": 1, "bbox": [1, 2, 3, 4], "score": 1}],
            "detection 1: needs image_id, category_id, bbox and score",
        ),
        (
            [{"image_id": 99, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 1}],
            "detection 1: image_id 99 is not in the ground truth",
        ),
        (
            [{"image_id": 1, "category_id": 3, "bbox": [1, 2, 3, 4], "score": 1}],
            "category_id 3 is not in the ground",
        ),
        (
            [{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3], "score": 1}],
            r"bbox must be \[x, y, width, height\]",
        ),
    ],
)
def test_bad_results(results: object, message: str) -> None:
    with pytest.raises(DataError, match=message):
        coco_metrics(ground_truth(), results)  # type: ignore[arg-type]


def test_bad_files(tmp_path: Path) -> None:
    (tmp_path / "gt.json").write_text('{"images": [}')
    with pytest.raises(
        DataError, match="gt.json: malformed ground truth JSON: Expecting value at line 1 column 13"
    ):
        coco_metrics(tmp_path / "gt.json", [])
    (tmp_path / "gt.json").write_text('{"images": []}')
    with pytest.raises(DataError, match="not a COCO ground truth"):
        coco_metrics(tmp_path / "gt.json", [])


def test_cli_coco(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    gt = ground_truth()
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "r.json").write_text(json.dumps(noisy_detections(gt)))
    code, out, _ = run_cli(
        monkeypatch,
        capsys,
        "eval",
        "--coco-gt",
        str(tmp_path / "gt.json"),
        "--coco-results",
        str(tmp_path / "r.json"),
    )
    assert code == 0 and "map_50" in out and "AP dog" in out
    code, _, err = run_cli(monkeypatch, capsys, "eval", "--coco-gt", str(tmp_path / "gt.json"))
    assert code == 2 and "--coco-gt and --coco-results go together" in err
    code, _, err = run_cli(
        monkeypatch,
        capsys,
        "eval",
        "--coco-gt",
        str(tmp_path / "gt.json"),
        "--coco-results",
        str(tmp_path / "none.json"),
    )
    assert code == 2 and "cannot read results" in err


def test_segmentation_metrics() -> None:
    truth = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 255, 255]], dtype=np.uint8)
    predicted = np.array([[0, 0, 1, 0], [0, 0, 1, 1], [2, 1, 0, 0]], dtype=np.uint8)
    confusion = mask_confusion(predicted, truth, 3)
    assert confusion.sum() == 10  # the two ignored pixels do not count
    metrics = segmentation_metrics(confusion, ["background", "road", "car"])
    assert metrics["pixel_accuracy"] == pytest.approx(8 / 10)
    assert metrics["iou_per_class"] == pytest.approx(
        {"background": 4 / 5, "road": 3 / 5, "car": 1 / 2}
    )
    assert metrics["miou"] == pytest.approx((4 / 5 + 3 / 5 + 1 / 2) / 3)
    assert metrics["dice_per_class"]["car"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="differ in shape"):
        mask_confusion(predicted[:2], truth, 3)


def test_detection_report_with_background_confusion(tmp_path: Path) -> None:
    from lumos.tasks.detection.coco import box_confusion, detection_report

    gt = ground_truth()
    results = noisy_detections(gt)
    metrics = detection_report(gt, results, tmp_path / "report")
    assert metrics["map"] == coco_metrics(gt, results)["map"]
    for name in (
        "metrics.json",
        "per_class.csv",
        "pr_curves.png",
        "confusion.csv",
        "confusion.png",
    ):
        assert (tmp_path / "report" / name).stat().st_size > 0
    matrix = box_confusion(gt, results, score_threshold=0.0)
    assert matrix.shape == (3, 3)
    assert matrix[:2].sum() == len(gt["annotations"])  # every object is matched or missed
    assert matrix[:, :2].sum() == len(results)  # every detection is matched or a false alarm
    assert matrix[2, 0] >= 2  # the two false positives of class cat
    perfect = perfect_detections(gt)
    exact = box_confusion(gt, perfect)
    assert (
        exact[2].sum() == 0 and exact[:, 2].sum() == 0 and np.trace(exact) == len(gt["annotations"])
    )
