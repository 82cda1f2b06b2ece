"""Trying a model on one image: the answer as JSON and as a picture, whatever the task.

What the web page's "test one image" shows: a classifier's top classes, a detector's boxes
drawn with scores, a segmenter's mask overlay and pixel shares; and what each layer made of
the image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from lumos.deploy.bundle import Bundle
from lumos.deploy.detect import Detector, draw_detections
from lumos.deploy.predict import network_input, predict, preprocess
from lumos.deploy.segment import save_mask_outputs, segment
from lumos.errors import DataError
from lumos.models.inspect import LayerView, layer_views


def try_image(
    bundle: Bundle, image: Path, out_dir: Path, *, top: int = 5, trust_code: bool = False
) -> dict[str, Any]:
    """Run ``bundle`` on ``image``; returns the answer and the path of a picture of it."""
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
    result = predict(bundle, [image], top=top, trust_code=trust_code)[0]
    if result.error:
        raise DataError(image.name, result.error)
    with Image.open(image) as im:
        im.convert("RGB").save(picture)
    return {"task": task, **result.as_dict(), "picture": picture}


def inspect_layers(bundle: Bundle, image: Path, *, trust_code: bool = False) -> list[LayerView]:
    """Each layer's weights and activations when ``bundle`` looks at ``image``."""
    pixels = preprocess(image, bundle)
    return layer_views(bundle.model(trust_code=trust_code), network_input([pixels], bundle))
