"""Trying a model on one image: the answer as JSON and as a picture, whatever the task.

What the web page's "test one image" shows: a classifier's top classes, a detector's boxes
drawn with scores, a segmenter's mask overlay and pixel shares; and what each layer made of
the image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lumos.bundle import Bundle
from lumos.deploy.runtime import Predictor
from lumos.errors import DataError
from lumos.models.inspect import LayerView, layer_views
from lumos.tasks.inputs import network_input, preprocess


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
    It runs on ``predictor`` when given (a server keeps one per model)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    predictor = predictor or Predictor(bundle, trust_code=trust_code)
    [result] = predictor.predict([image], top=top)
    if result.error:
        raise DataError(image.name, result.error)
    picture = result.draw(image, out_dir / f"{image.stem}-answer.png")
    shown = result.display()
    return {"task": bundle.task.name, **result.as_dict(), "display": shown, "picture": picture}


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
    if not bundle.task.labels_whole_images:
        raise DataError(
            None, f"{bundle.name!r} is a {bundle.task.noun}: classify many needs a classifier"
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
