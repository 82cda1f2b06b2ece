"""The whole loop on built-in data, as ``make demo`` runs it: import both samples and draw
their grids; train LeNet-5 on digits, save it, evaluate it on the test split, classify a
few test images, export it to ONNX (checked against PyTorch) and quantise it to INT8 (scored
on the test split); train an FCOS detector on shapes, evaluate it (COCO mAP) and draw the
boxes it finds on test images."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from lumos.data import Dataset, import_dataset, sample_grid
from lumos.data.formats import Reader
from lumos.data.importer import ProgressFn
from lumos.data.samples import shapes
from lumos.deploy import Bundle
from lumos.deploy.export import export_bundle
from lumos.deploy.from_job import bundle_from_job
from lumos.deploy.optimize import run_optimization
from lumos.evaluate import run_evaluation
from lumos.train import Recipe, train

DEMO_RECIPE = Recipe(
    dataset="digits", network="lenet5", epochs=12, batch_size=32, lr=0.05, rotation=10
)
MODEL = "digits-lenet"
DETECTION_RECIPE = Recipe(
    dataset="shapes",
    # The light FCOS: ResNet-18 FPN met the same gates at 4x the time per image (BENCHMARKS.md)
    network="fcos_cs3darknet_n_fpn",
    input_size=(128, 128),  # the images' own size
    epochs=16,  # 12 epochs at lr 0.003 left seed 0 at test recall 0.69 (BENCHMARKS.md)
    batch_size=16,
    optimizer="adamw",
    lr=0.002,
    weight_decay=1e-4,
    warmup_epochs=1,
    clip_grad=10,
    hflip=True,
    scale_jitter=0.2,
    val_every=4,  # a validation costs a fifth of an epoch's training; the last is validated
)
# Generated scenes the detector learns from: 750 train / 150 val / 100 test (232 objects);
# the 300 of `sample:shapes` left a 30-image test split where one image moves a score 0.03.
SHAPES_IMAGES = 1000
SCENES = Reader("sample:shapes", lambda _location: shapes(count=SHAPES_IMAGES))
DETECTOR = "shapes-fcos"


def run_demo(
    out_dir: Path,
    *,
    say: Callable[[str], None] = print,
    import_progress: Callable[[], AbstractContextManager[ProgressFn | None]] = lambda: (
        contextlib.nullcontext()
    ),
    training_progress: bool = True,
) -> dict[str, float]:
    """Run the demo, telling ``say`` what happens; returns the test metrics."""
    readers = {"digits": None, "shapes": SCENES}
    for sample, reader in readers.items():
        with import_progress() as progress:
            folder = import_dataset(
                f"sample:{sample}", sample, overwrite=True, progress=progress, reader=reader
            )
        dataset = Dataset(folder)
        say(dataset.summary())
        say(f"wrote {sample_grid(dataset, out_dir / f'{sample}-grid.png', count=36)}")
    metrics, folder = _train_and_evaluate(DEMO_RECIPE, MODEL, out_dir, say, training_progress)
    say(f"test top-1 {metrics['top1']:.2%}, top-5 {metrics['top5']:.2%}; report in {folder}")
    test = Dataset.open("digits").split("test")
    samples = [test[i] for i in range(5)]
    predictions = Bundle.load(MODEL).predict([s.image for s in samples], top=1)
    for sample, prediction in zip(samples, predictions, strict=True):
        label, probability = prediction.top[0]
        say(f"  {sample.source}: {label}  {probability:.2%}  (true {test.classes[sample.label]})")
    metrics.update(_deploy(out_dir, say))
    metrics.update(_detection(out_dir, say, training_progress))
    return metrics


def _train_and_evaluate(
    recipe: Recipe, name: str, out_dir: Path, say: Callable[[str], None], progress: bool
) -> tuple[dict[str, float], Path]:
    """Train ``recipe``, save it as model ``name``, evaluate it on the test split."""
    say(f"training {recipe.network} on {recipe.dataset}")
    job = train(recipe, progress=progress)
    bundle_from_job(job.id, name, overwrite=True)
    report, folder = run_evaluation(name, recipe.dataset, "test", out=out_dir / f"{name}-test")
    return report.metrics, folder


def _deploy(out_dir: Path, say: Callable[[str], None]) -> dict[str, float]:
    """Export the classifier to ONNX and make its INT8 artefact."""
    exported = export_bundle(Bundle.load(MODEL), out_dir / f"{MODEL}.onnx")
    say(f"exported {exported.path}; {exported.check.line()}")
    int8 = run_optimization(MODEL, precision="int8")
    say(
        f"INT8: {int8.metric} {int8.score:.2%} (fp32 {int8.baseline:.2%}), "
        f"{int8.size_bytes / 1e3:.0f} kB; serve it: lumos serve {MODEL} --artefact int8"
    )
    return {"int8_top1": int8.score}


def _detection(
    out_dir: Path, say: Callable[[str], None], training_progress: bool
) -> dict[str, float]:
    metrics, folder = _train_and_evaluate(
        DETECTION_RECIPE, DETECTOR, out_dir, say, training_progress
    )
    say(
        f"test mAP50 {metrics['map_50']:.3f}, mAP {metrics['map']:.3f}; at its operating point "
        f"(score >= {metrics['score_threshold']:.2f}) precision {metrics['precision']:.3f}, "
        f"recall {metrics['recall']:.3f}; report in {folder}"
    )
    test = Dataset.open("shapes").split("test")
    images = [test[i].image for i in range(4)]
    for i, found in enumerate(Bundle.load(DETECTOR).predict(images)):
        picture = found.draw(images[i], out_dir / f"shapes-test-{i}-boxes.png")
        say(f"  {test[i].source}: {len(found.labels)} found, {len(test[i].boxes)} true: {picture}")
    return {key: metrics[key] for key in ("map_50", "map", "precision", "recall")}
