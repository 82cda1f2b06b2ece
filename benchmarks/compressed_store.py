"""The re-encoded (JPEG) store against its source JPEGs and against torchvision's
ImageFolder: disk, and the time of an epoch of reading 224x224 batches with the same number
of worker threads/processes.

The source: photo-like JPEGs (crops of sklearn's two sample photographs with noise and a
tint per class, 500x375, quality 90) in class folders. lumos imports them at 224x224 as
raw arrays and as JPEG (quality 95). The fair baseline is what a careful torchvision user
does: the same images resized once to 224x224 JPEGs of the store's quality, read by
ImageFolder (PIL, ToTensor) through a DataLoader whose worker processes persist across
epochs (the epochs timed after one that starts them). The source files decoded and resized
every epoch (Resize((224, 224))) are shown too, as a plain training script reads them.

    python benchmarks/compressed_store.py [--images 2000] [--workers 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from sklearn.datasets import load_sample_images
from torchvision import datasets, transforms

from lumos.data import Dataset, ImportOptions, import_dataset
from lumos.data.loader import BatchLoader
from lumos.workspace import Workspace
from machine import print_machine

CLASSES = 10
QUALITY = 95  # lumos's JPEG store


def write_source(folder: Path, count: int) -> int:
    """``count`` JPEGs in class folders; their total bytes."""
    photos = load_sample_images().images
    rng = np.random.default_rng(0)
    total = 0
    for i in range(count):
        label = i % CLASSES
        photo = photos[i % len(photos)]
        y, x = rng.integers(0, photo.shape[0] - 375), rng.integers(0, photo.shape[1] - 500)
        crop = photo[y : y + 375, x : x + 500].astype(np.float32)
        crop = crop * (0.6 + 0.04 * label) + rng.normal(0, 6, crop.shape)
        path = folder / f"class{label}" / f"{i:06d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(crop, 0, 255).astype(np.uint8)).save(path, quality=90)
        total += path.stat().st_size
    return total


def folder_bytes(folder: Path, pattern: str) -> int:
    return sum(p.stat().st_size for p in folder.glob(pattern))


def lumos_epoch(dataset: Dataset, workers: int) -> float:
    started = time.perf_counter()
    for images, _ in BatchLoader(dataset, 64, shuffle=True, workers=workers):
        images.sum()
    return time.perf_counter() - started


def resized_copy(source: Path, out: Path) -> int:
    """The source JPEGs resized once to 224x224 (bilinear) at the store's quality; bytes."""
    total = 0
    for path in sorted(source.glob("*/*.jpg")):
        target = out / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(path) as image:
            image.convert("RGB").resize((224, 224), Image.BILINEAR).save(target, quality=QUALITY)
        total += target.stat().st_size
    return total


def imagefolder_loader(folder: Path, workers: int, resize: bool) -> torch.utils.data.DataLoader:
    steps = [transforms.Resize((224, 224))] if resize else []
    data = datasets.ImageFolder(
        str(folder), transform=transforms.Compose([*steps, transforms.ToTensor()])
    )
    return torch.utils.data.DataLoader(data, batch_size=64, shuffle=True, num_workers=workers,
                                       persistent_workers=workers > 0)  # fmt: skip


def loader_epoch(loader: torch.utils.data.DataLoader) -> float:
    started = time.perf_counter()
    for images, _ in loader:
        images.sum()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print_machine()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source_bytes = write_source(root / "source", args.images)
        resized_bytes = resized_copy(root / "source", root / "resized")
        workspace = Workspace(root / "ws").ensure()
        stores = {}
        for encoding in ("raw", "jpeg"):
            options = ImportOptions(size=(224, 224), encoding=encoding, val_percent=0,
                                    test_percent=0)  # fmt: skip
            import_dataset(str(root / "source"), encoding, options, workspace=workspace)
            stores[encoding] = Dataset.open(encoding, workspace)
        print(f"{args.images} source JPEGs (500x375, q90): {source_bytes / 1e6:.1f} MB; "
              f"resized to 224x224 (q{QUALITY}): {resized_bytes / 1e6:.1f} MB")  # fmt: skip
        for encoding, dataset in stores.items():
            size = folder_bytes(dataset.folder, "images-*")
            print(f"lumos {encoding:4s} store at 224x224: {size / 1e6:.1f} MB "
                  f"({size / source_bytes:.2f}x the source, {size / resized_bytes:.2f}x the "
                  f"resized JPEGs)")  # fmt: skip
        loaders = {
            "resized JPEGs, ImageFolder + persistent workers": imagefolder_loader(
                root / "resized", args.workers, resize=False
            ),
            "source JPEGs, ImageFolder + Resize": imagefolder_loader(
                root / "source", args.workers, resize=True
            ),
        }
        for loader in loaders.values():
            loader_epoch(loader)  # starts the persistent workers
        times: dict[str, list[float]] = {name: [] for name in [*loaders, "lumos raw", "lumos jpeg"]}
        for _ in range(args.repeats):  # interleaved: every reader sees the same machine
            for name, loader in loaders.items():
                times[name].append(loader_epoch(loader))
            for encoding, dataset in stores.items():
                times[f"lumos {encoding}"].append(lumos_epoch(dataset, args.workers))
        del loaders  # their worker processes end with the temporary folder still there
    baseline = statistics.median(times[next(iter(times))])
    for name, runs in times.items():
        median = statistics.median(runs)
        print(f"{name:48s} epoch {median:6.2f} s  ({args.images / median:6.0f} img/s, "
              f"{baseline / median:.2f}x the resized JPEGs), {args.workers} workers")  # fmt: skip


if __name__ == "__main__":
    main()
