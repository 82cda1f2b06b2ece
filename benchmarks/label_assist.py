"""Model-assisted labelling on the shapes sample: FCOS ResNet-18-FPN trained from scratch on
the first fifth (60 of 300 images) pre-labels the other 240 through a label project (the
prelabel job); a simulated annotator keeps a pre-label box within IoU 0.7 of a true one of
its class and otherwise moves, relabels, adds or deletes boxes (lumos.label.kinds.BoxLabels
.edits). Prints the edits against labelling from nothing (one add per box) and the ratio.

    python benchmarks/label_assist.py [--epochs 200] [--size 96] [--lr 0.001] [--seeds 1]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from PIL import Image

from lumos.data import import_dataset
from lumos.data.formats import Reader
from lumos.data.records import Scan
from lumos.data.samples import shapes
from lumos.demo import DETECTION_RECIPE
from lumos.deploy.from_job import bundle_from_job
from lumos.label import LabelProject, images_below, prelabel, progress, queue
from lumos.train import train
from lumos.workspace import Workspace
from machine import print_machine

LABELLED = 60


def run(workspace: Workspace, epochs: int, size: int, lr: float, seed: int) -> tuple[int, int]:
    """(edits with pre-labels, edits from nothing) on the 240 images not trained on."""
    whole = shapes()
    fifth = Scan(task="detection", items=whole.items[:LABELLED], classes=whole.classes)
    import_dataset("shapes[:60]", f"fifth-{seed}", workspace=workspace, test_percent=0,
                   reader=Reader("shapes", lambda _: fifth), seed=seed)  # fmt: skip
    recipe = DETECTION_RECIPE.model_copy(update={
        "dataset": f"fifth-{seed}", "epochs": epochs, "input_size": (size, size), "lr": lr,
        "seed": seed, "workers": 1,
    })  # fmt: skip
    started = time.perf_counter()
    job = train(recipe, workspace=workspace, progress=False)
    took = time.perf_counter() - started
    print(f"seed {seed}: trained {epochs} epochs at {size}x{size} in {took:.0f} s")
    bundle_from_job(job.id, f"first-pass-{seed}", workspace=workspace)
    folder = workspace.root / f"rest-{seed}"
    folder.mkdir()
    truth = {}
    for number, item in enumerate(whole.items[LABELLED:], LABELLED):
        Image.fromarray(item.pixels).save(folder / f"{number:03d}.png")
        truth[f"{number:03d}.png"] = {"boxes": [
            {"x1": b.x1, "y1": b.y1, "x2": b.x2, "y2": b.y2, "class": b.label} for b in item.boxes
        ]}  # fmt: skip
    project = LabelProject.create(f"rest-{seed}", "detection", whole.classes, workspace=workspace)
    project.add_images(images_below(folder))
    prelabel(project, f"first-pass-{seed}", workspace=workspace)
    edits = from_nothing = 0
    for image_id in queue(project, "sim", order="uncertain"):
        shown = project.label(image_id, "sim")
        want = truth[shown["image"]["file"]]
        edits += project.kind.edits(shown["prelabel"]["value"], want)
        from_nothing += len(want["boxes"])
        project.save(image_id, "sim", want, shown["revision"])
    kept = progress(project)["prelabels_accepted"]
    print(f"seed {seed}: {edits} edits with pre-labels, {from_nothing} from nothing: "
          f"ratio {edits / from_nothing:.3f}; pre-labels kept as they were {kept:.0%}")  # fmt: skip
    return edits, from_nothing


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--lr", type=float, default=0.001)
    parser.add_argument("--seeds", type=int, default=1)
    args = parser.parse_args()
    print_machine()
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Workspace(Path(tmp) / "ws").ensure()
        for seed in range(args.seeds):
            edits, from_nothing = run(workspace, args.epochs, args.size, args.lr, seed)
            ratios.append(edits / from_nothing)
    print(json.dumps({"ratio_mean": sum(ratios) / len(ratios), "ratios": ratios}))


if __name__ == "__main__":
    main()
