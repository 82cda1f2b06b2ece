"""Trying a model on one image: the answer as JSON and as a picture, whatever the task.

What the web page's "test one image" shows: a classifier's top classes, a detector's boxes
drawn with scores, a segmenter's mask overlay and pixel shares; and what each layer made of
the image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lumos.data.images import open_image
from lumos.deploy.bundle import Bundle
from lumos.deploy.detect import Detector, draw_detections
from lumos.deploy.predict import network_input, preprocess
from lumos.deploy.runtime import Predictor
from lumos.deploy.segment import save_mask_outputs, segment
from lumos.errors import DataError
from lumos.models.inspect import LayerView, layer_views


def try_image(
    bundle: Bundle,
    image: Path,
    out_dir: Path,
    *,
    top: int = 5,
    predictor: Predictor | None = None,
    trust_code: bool = False,
) -> dict[str, Any]:
    """Run ``bundle`` on ``image``; returns the answer and the path of a picture of it.
    A classifier runs on ``predictor`` when given (a server keeps one per model)."""
    task = bundle.meta.get("task", "classification")
    out_dir.mkdir(parents=True, exist_ok=True)
    picture = out_dir / f"{image.stem}-answer.png"
    if task == "detection":
        found = Detector(bundle, trust_code=trust_code).detect(image)
        draw_detections(image, found, picture)
        objects = [
            {"label": label, "score": float(score), "box": [round(c, 1) for c in box]}
            for box, score, label in zip(
                found.boxes.tolist(), found.scores.tolist(), found.labels, strict=True
            )
        ]
        return {"task": task, "objects": objects, "picture": picture}
    if task == "segmentation":
        result = segment(bundle, [image], trust_code=trust_code)[0]
        if result.error:
            raise DataError(image.name, result.error)
        overlay = save_mask_outputs(result, bundle.labels, out_dir, image.stem)[1]
        overlay.replace(picture)
        return {"task": task, "shares": result.shares(bundle.labels), "picture": picture}
    predictor = predictor or Predictor(bundle, trust_code=trust_code)
    result = predictor.predict([image], top=top)[0]
    if result.error:
        raise DataError(image.name, result.error)
    open_image(image, channels=3)[0].save(picture)
    return {"task": task, **result.as_dict(), "picture": picture}


def inspect_layers(bundle: Bundle, image: Path, *, trust_code: bool = False) -> list[LayerView]:
    """Each layer's weights and activations when ``bundle`` looks at ``image``."""
    pixels = preprocess(image, bundle)
    return layer_views(bundle.model(trust_code=trust_code), network_input([pixels], bundle))


def classify_many(
    bundle: Bundle,
    paths: list[Path],
    root: Path | None = None,
    *,
    top: int = 5,
    predictor: Predictor | None = None,
) -> dict[str, Any]:
    """Classify images; where an image's folder (under ``root``) is named after a label, that
    is its true class, and the answer includes per-class and overall accuracy."""
    if bundle.meta.get("task", "classification") != "classification":
        task = bundle.meta["task"]
        raise DataError(
            None, f"{bundle.name!r} is a {task} model: classify many needs a classifier"
        )
    labels = set(bundle.labels)
    rows, tally = [], {}
    results = (predictor or Predictor(bundle)).predict(paths, top=top)
    for path, result in zip(paths, results, strict=True):
        named = root is not None and path.parent != root and path.parent.name in labels
        truth = path.parent.name if named else None
        shown = str(path.relative_to(root)) if root is not None else path.name
        rows.append({"file": shown, "truth": truth, **result.as_dict()})
        if truth is not None and result.error is None:
            seen, right = tally.get(truth, (0, 0))
            tally[truth] = (seen + 1, right + (result.labels == [truth]))
    per_class = {
        k: {"images": n, "correct": c, "accuracy": c / n} for k, (n, c) in sorted(tally.items())
    }
    counted = sum(v["images"] for v in per_class.values())
    overall = sum(v["correct"] for v in per_class.values()) / counted if counted else None
    return {"images": rows, "per_class": per_class, "accuracy": overall}
