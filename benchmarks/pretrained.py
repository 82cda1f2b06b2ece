"""Pretrained weights by name (issue 26): do they answer as their library does, how much
later does a run that starts from them begin, and how much do they help?

1. Parity: the same photos (scikit-learn's two sample photographs), the same weights, through
   lumos (pulled or imported, then `Bundle.predict`, in PyTorch and in ONNX Runtime) and
   through the library's own pipeline (torchvision's `weights.transforms()`, timm's
   `create_transform(**resolve_data_config(...))`): the top-5 classes and the largest
   difference in their probabilities. No weights can be downloaded here: the networks keep
   their random initialisation with the head scaled up fourfold, so the probabilities are
   peaked as trained ones are (top-1 0.6-0.9).
2. Start: seconds from `lumos.train(recipe)` to the end of the first batch for a zoo
   ResNet-18 from scratch, and from `init=torchvision:resnet18.IMAGENET1K_V1` with the file
   in torch.hub's cache (first run: pulled into the store; second run: read from it).
3. Help: a source of the benchmark's own (ResNet-18 trained on letters A-M) fine-tuned on a
   small target (letters N-Z, 30 images a class) against the same network from scratch:
   the epochs the fine-tune needs to reach scratch's final validation accuracy, and both
   accuracies at equal time (the same number of epochs of the same network).

    python benchmarks/pretrained.py [--work DIR] [--seeds 2] [--epochs 30]
                                    [--parts parity,start,help]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

import transfer_data as make
from machine import print_machine

PHOTOS = ("china", "flower")
LETTERS = [chr(c) for c in range(ord("A"), ord("Z") + 1)]


def _photos(folder: Path) -> list[Path]:
    from PIL import Image
    from sklearn.datasets import load_sample_images

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, pixels in zip(PHOTOS, load_sample_images().images, strict=True):
        paths.append(folder / f"{name}.jpg")
        Image.fromarray(pixels).save(paths[-1], quality=95)
    return paths


def _peaked(model: torch.nn.Module, head: str) -> torch.nn.Module:
    """``model`` with its last layer scaled up fourfold: its top class then takes 0.6-0.9 of
    the probability on these photos, as a trained network's does."""
    layer = model.get_submodule(head)
    with torch.no_grad():
        layer.weight.mul_(4)
    return model.eval()


def _cache_torchvision(state: dict, weights: object, torch_home: Path) -> None:
    """``state`` in torch.hub's cache under the file name torchvision's entry names (the
    cache is read by name: nothing is downloaded)."""
    folder = torch_home / "hub" / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(state, folder / Path(weights.url).name)  # type: ignore[attr-defined]


def parity(work: Path, workspace: object) -> None:
    import timm
    import torchvision
    from PIL import Image
    from timm.data import create_transform, resolve_data_config
    from torchvision.models import ResNet18_Weights

    from lumos.bundle import Bundle
    from lumos.deploy.runtime import load_predictor
    from lumos.pretrained import ImportRequest, import_model
    from lumos.pretrained.pull import pull

    photos = _photos(work / "photos")
    torch.manual_seed(0)
    resnet = _peaked(torchvision.models.resnet18(), "fc")
    _cache_torchvision(resnet.state_dict(), ResNet18_Weights.IMAGENET1K_V1, work / "torch")
    pull("torchvision:resnet18.IMAGENET1K_V1", "tv", workspace=workspace, progress=False)
    lite = _peaked(timm.create_model("tf_efficientnet_lite0"), "classifier")
    torch.save(lite.state_dict(), work / "lite.pth")
    request = ImportRequest(work / "lite.pth", "timm:tf_efficientnet_lite0",
                            preprocess="timm:tf_efficientnet_lite0.in1k")  # fmt: skip
    import_model(request, "lite", workspace=workspace)
    resnet_transform = ResNet18_Weights.IMAGENET1K_V1.transforms()
    cases = {
        "torchvision:resnet18.IMAGENET1K_V1": ("tv", resnet, resnet_transform),
        "timm:tf_efficientnet_lite0.in1k": (
            "lite", lite, create_transform(**resolve_data_config({}, model=lite))
        ),
    }  # fmt: skip
    print("\n== 1. the same photos, the same weights: lumos against the library's pipeline")
    print(f"{'weights':<38} {'backend':<12} {'photo':<8} top-1 p  top-5 same  max |p - p_ref|")
    for spec, (name, model, transform) in cases.items():
        bundle = Bundle.load(name, workspace)
        for backend in ("torch", "onnxruntime"):
            predictor = load_predictor(bundle, backend)
            for photo in photos:
                with torch.no_grad():
                    image = transform(Image.open(photo).convert("RGB"))[None]
                    reference = torch.softmax(model(image), 1)[0]
                best = reference.topk(5)
                [answer] = predictor.predict([photo], top=5)
                same = [label for label, _ in answer.top] == [
                    bundle.labels[i] for i in best.indices
                ]
                gap = max(
                    abs(p - float(q)) for (_, p), q in zip(answer.top, best.values, strict=True)
                )
                print(f"{spec:<38} {backend:<12} {photo.stem:<8} {float(best.values[0]):<8.3f} "
                      f"{same!s:<11} {gap:.2e}")  # fmt: skip


def _first_batch_seconds(recipe: object, workspace: object) -> float:
    from lumos.train import train
    from lumos.train.trainer import Callback, StopTraining

    class FirstBatch(Callback):
        def after_batch(self, trainer: object) -> None:
            raise StopTraining

    started = time.perf_counter()
    train(recipe, workspace=workspace, progress=False, callbacks=(FirstBatch(),))
    return time.perf_counter() - started


def start(work: Path, workspace: object, repeats: int = 3) -> None:
    import torchvision
    from torchvision.models import ResNet18_Weights

    from lumos.data import import_dataset
    from lumos.train import Recipe

    folder = make.colours(work / "start", list(make.HUES)[:4], 20, seed=0)
    import_dataset(folder, "start", workspace=workspace)
    _cache_torchvision(torchvision.models.resnet18().state_dict(),
                       ResNet18_Weights.IMAGENET1K_V1, work / "torch")  # fmt: skip
    recipe = Recipe(dataset="start", network="resnet18", epochs=1, batch_size=8, workers=0)
    spec = "torchvision:resnet18.IMAGENET1K_V1"
    pulled = _first_batch_seconds(recipe.model_copy(update={"init": spec}), workspace)
    scratch = [_first_batch_seconds(recipe, workspace) for _ in range(repeats)]
    stored = [
        _first_batch_seconds(recipe.model_copy(update={"init": spec}), workspace)
        for _ in range(repeats)
    ]
    base = statistics.median(scratch)
    print("\n== 2. from train() to the end of the first batch (ResNet-18, median of "
          f"{repeats})")  # fmt: skip
    print(f"zoo network from scratch            {base:6.2f} s")
    print(f"init={spec} (pulled from torch.hub's cache)  {pulled:6.2f} s  (+{pulled - base:.2f} s)")
    later = statistics.median(stored)
    print(f"init={spec} (in the store)          {later:6.2f} s  (+{later - base:.2f} s)")


def _curve(job: object) -> list[float]:
    from lumos.train.callbacks import METRICS, read_metrics

    rows = read_metrics(job.folder / METRICS)  # type: ignore[attr-defined]
    return [r["val_accuracy"] for r in rows if r["kind"] == "epoch"]


def help_of_a_source(work: Path, workspace: object, seeds: int, epochs: int) -> None:
    from lumos.bundle import Bundle, list_bundles
    from lumos.data import import_dataset, list_datasets
    from lumos.deploy.from_job import bundle_from_job
    from lumos.tasks import CLASSIFICATION
    from lumos.train import Recipe, train

    known = {row["name"] for row in list_datasets(workspace)}
    if "am" not in known:
        source_data = make.glyphs(work / "am", LETTERS[:13], 100, seed=1)
        import_dataset(source_data, "am", workspace=workspace)
    if "nz" not in known:  # 30 training and 10 validation images a class
        target_data = make.glyphs(work / "nz", LETTERS[13:], 40, seed=2)
        import_dataset(target_data, "nz", workspace=workspace, val_percent=25, test_percent=0)
    settings = {"network": "resnet18", "batch_size": 32, "lr": 0.05, "workers": 0,
                "precision": "fp32"}  # fmt: skip
    if "letters-am" not in {row["name"] for row in list_bundles(workspace)}:  # kept in --work
        source = train(Recipe(dataset="am", epochs=15, **settings), workspace=workspace,
                       progress=False)  # fmt: skip
        bundle_from_job(source.id, "letters-am", workspace=workspace)
    accuracy = Bundle.load("letters-am", workspace).meta.metrics["val_accuracy"]
    tuning = dict(CLASSIFICATION.fine_tuning)  # what preset=finetune sets: LP-FT at lr 0.01
    print(f"\n== 3. a source of its own (letters A-M: {accuracy:.3f} val accuracy) on letters "
          f"N-Z, 30 training images a class; fine-tuned with {tuning}")  # fmt: skip
    print(f"{'seed':<5} {'scratch final':>13} {'epochs to it (fine-tune)':>25} "
          f"{'at 1/5 of the epochs: scratch':>30} {'fine-tune':>10}")  # fmt: skip
    fifth = max(1, epochs // 5)
    for seed in range(seeds):
        run = {"dataset": "nz", "epochs": epochs, "seed": seed, **settings}
        scratch = _curve(train(Recipe(**run), workspace=workspace, progress=False))
        tuned_run = Recipe(**(run | tuning), init="letters-am")
        tuned = _curve(train(tuned_run, workspace=workspace, progress=False))
        reached = next((i + 1 for i, a in enumerate(tuned) if a >= scratch[-1]), None)
        print(f"{seed:<5} {scratch[-1]:>13.3f} {reached!s:>25} {scratch[fifth - 1]:>30.3f} "
              f"{tuned[fifth - 1]:>10.3f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--parts", default="parity,start,help", help="which of them to run")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="lumos-pretrained-"))
    os.environ["TORCH_HOME"] = str(work / "torch")  # the benchmark's own cache
    from lumos.workspace import Workspace

    workspace = Workspace(work / "workspace").ensure()
    print_machine()
    parts = args.parts.split(",")
    if "parity" in parts:
        parity(work, workspace)
    if "start" in parts:
        start(work, workspace)
    if "help" in parts:
        help_of_a_source(work, workspace, args.seeds, args.epochs)


if __name__ == "__main__":
    main()
