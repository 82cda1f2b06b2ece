"""One epoch of 64x64 JPEGs as float tensors: torchvision ImageFolder vs the lumos store.

Generates 20,000 JPEG images in 10 class folders, then measures in the same process:
(a) ``torchvision.datasets.ImageFolder`` + PIL + ``DataLoader`` for one epoch,
(b) importing the folder into lumos, and
(c) one epoch from the lumos store,
each at the same worker count, and prints the ratios the foundation issue sets as goals:
(c) >= 20x the images/s of (a), and (b) within 2x of the time of (a).

    python benchmarks/data_pipeline.py [--images 20000] [--workers 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from lumos.data import Dataset, import_dataset
from lumos.data.loader import BatchLoader
from lumos.workspace import Workspace
from machine import print_machine


def make_images(root: Path, count: int, size: int = 64, classes: int = 10) -> None:
    rng = np.random.default_rng(0)
    for i in range(count):
        folder = root / f"class_{i % classes}"
        folder.mkdir(parents=True, exist_ok=True)
        base = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        image = Image.fromarray(base).resize((size, size), Image.Resampling.BILINEAR)
        image.save(folder / f"{i:06d}.jpg", quality=90)


def epoch_imagefolder(root: Path, workers: int, batch_size: int) -> float:
    data = datasets.ImageFolder(str(root), transform=transforms.ToTensor())
    loader = DataLoader(data, batch_size=batch_size, shuffle=True, num_workers=workers)
    start = time.perf_counter()
    seen = 0
    for images, _ in loader:
        seen += len(images)
    assert seen == len(data)
    return time.perf_counter() - start


def epoch_lumos(dataset: Dataset, workers: int, batch_size: int) -> float:
    loader = BatchLoader(dataset, batch_size, shuffle=True, workers=workers)
    start = time.perf_counter()
    seen = 0
    for images, _ in loader:
        assert images.dtype == torch.float32
        seen += len(images)
    assert seen == len(dataset)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print_machine()
    torch.set_num_threads(os.cpu_count() or 1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "images"
        make_images(root, args.images)
        workspace = Workspace(Path(tmp) / "ws")
        baseline = [
            epoch_imagefolder(root, args.workers, args.batch_size) for _ in range(args.repeats)
        ]
        imports = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            folder = import_dataset(
                root,
                "bench",
                workspace=workspace,
                overwrite=True,
                workers=args.workers,
                val_percent=0,
                test_percent=0,
            )
            imports.append(time.perf_counter() - start)
        dataset = Dataset(folder)
        ours = [epoch_lumos(dataset, args.workers, args.batch_size) for _ in range(args.repeats)]
    base_t, ours_t, import_t = (statistics.median(x) for x in (baseline, ours, imports))
    n = args.images
    print(
        f"images: {n} JPEG 64x64, 10 classes; workers: {args.workers}; batch: {args.batch_size}; "
        f"median of {args.repeats}"
    )
    print(f"(a) ImageFolder+PIL+DataLoader epoch: {base_t:8.3f} s  {n / base_t:12,.0f} img/s")
    print(f"(b) lumos import:                     {import_t:8.3f} s  {n / import_t:12,.0f} img/s")
    print(f"(c) lumos store epoch:                {ours_t:8.3f} s  {n / ours_t:12,.0f} img/s")
    print(f"epoch speed-up (c) vs (a): {base_t / ours_t:.1f}x   (goal >= 20x)")
    print(f"import time (b) / epoch time (a): {import_t / base_t:.2f}   (goal <= 2)")


if __name__ == "__main__":
    main()
