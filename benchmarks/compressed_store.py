"""The re-encoded (JPEG) store against its source JPEGs and against torchvision's
ImageFolder: disk, and the time of an epoch of reading 224x224 batches with the same number
of worker threads/processes.

The source: photo-like JPEGs (crops of sklearn's two sample photographs with noise and a
tint per class, 500x375, quality 90) in class folders. lumos imports them at 224x224 as
raw arrays and as JPEG; ImageFolder decodes and resizes the source files every epoch
(PIL, Resize((224, 224)), ToTensor), as a torchvision training script does.

    python benchmarks/compressed_store.py [--images 2000] [--workers 2]
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

CLASSES = 10


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


def imagefolder_epoch(folder: Path, workers: int) -> float:
    prepare = transforms.Compose([transforms.Resize((224, 224)), transforms.ToTensor()])
    data = datasets.ImageFolder(str(folder), transform=prepare)
    loader = torch.utils.data.DataLoader(data, batch_size=64, shuffle=True, num_workers=workers)
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
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source_bytes = write_source(root / "source", args.images)
        workspace = Workspace(root / "ws").ensure()
        stores = {}
        for encoding in ("raw", "jpeg"):
            options = ImportOptions(size=(224, 224), encoding=encoding, val_percent=0,
                                    test_percent=0)  # fmt: skip
            import_dataset(str(root / "source"), encoding, options, workspace=workspace)
            stores[encoding] = Dataset.open(encoding, workspace)
        print(f"{args.images} source JPEGs (500x375, q90): {source_bytes / 1e6:.1f} MB")
        for encoding, dataset in stores.items():
            size = folder_bytes(dataset.folder, "images-*")
            print(f"lumos {encoding:4s} store at 224x224: {size / 1e6:.1f} MB "
                  f"({size / source_bytes:.2f}x the source)")  # fmt: skip
        times: dict[str, list[float]] = {"ImageFolder + PIL": [], "lumos raw": [], "lumos jpeg": []}
        for _ in range(args.repeats):
            times["ImageFolder + PIL"].append(imagefolder_epoch(root / "source", args.workers))
            for encoding, dataset in stores.items():
                times[f"lumos {encoding}"].append(lumos_epoch(dataset, args.workers))
    baseline = statistics.median(times["ImageFolder + PIL"])
    for name, runs in times.items():
        median = statistics.median(runs)
        print(f"{name:18s} epoch {median:6.2f} s  ({args.images / median:6.0f} img/s, "
              f"{baseline / median:.1f}x ImageFolder) with {args.workers} workers")  # fmt: skip


if __name__ == "__main__":
    main()
