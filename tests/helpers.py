"""Small builders of source data used across the tests."""

from __future__ import annotations

import atexit
import contextlib
import functools
import gzip
import io
import json
import pickle
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lumos.cli import main
from lumos.data import Dataset, Sample
from needs import missing

PYTHON_NETWORK = (
    "from torch import nn\n"
    "def build(num_classes, in_channels, input_size):\n"
    "    features = in_channels * input_size[0] * input_size[1]\n"
    "    return nn.Sequential(nn.Flatten(), nn.Linear(features, num_classes))\n"
)
"""A network file as a user would write it."""


def write_image(
    path: Path,
    size: tuple[int, int] = (32, 24),
    colour: tuple[int, int, int] | int = (200, 30, 30),
    mode: str = "RGB",
    seed: int | None = None,
) -> Path:
    """An image file of ``size`` (width, height); random pixels when ``seed`` is given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if seed is not None:
        rng = np.random.default_rng(seed)
        channels = 1 if mode == "L" else 3
        pixels = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
        image = Image.fromarray(pixels[:, :, 0] if channels == 1 else pixels)
    else:
        image = Image.new(mode, size, colour)
    image.save(path)
    return path


def png_claiming_size(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width`` x ``height`` (the pixel data stays tiny)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    header = b"IHDR" + struct.pack(">II", width, height) + bytes(data[24:29])
    data[12:29] = header
    data[29:33] = struct.pack(">I", zlib.crc32(header))
    path.write_bytes(bytes(data))
    return path


def class_folders(root: Path, counts: dict[str, int], size: tuple[int, int] = (32, 24)) -> Path:
    """``root/<class>/<i>.png`` with distinct random pixels."""
    seed = 0
    for name, count in counts.items():
        for i in range(count):
            write_image(root / name / f"{i}.png", size, seed=seed)
            seed += 1
    return root


def assert_same_records(
    a: Dataset, b: Dataset, *, boxes: bool = True, masks: bool = True, box_tolerance: float = 0.01
) -> None:
    """Two datasets hold the same records (compared in a canonical order)."""
    assert a.classes == b.classes
    assert len(a) == len(b)

    def key(sample: Sample) -> tuple:
        return (
            sample.split,
            sample.image.tobytes(),
            str(sample.label),
            sample.boxes.round(1).tobytes(),
        )

    for x, y in zip(sorted(a, key=key), sorted(b, key=key), strict=True):
        assert x.split == y.split, (x.source, y.source)
        np.testing.assert_array_equal(x.image, y.image, err_msg=f"{x.source} vs {y.source}")
        assert x.label == y.label
        if boxes:
            np.testing.assert_allclose(x.boxes, y.boxes, atol=box_tolerance)
            np.testing.assert_array_equal(x.box_labels, y.box_labels)
        if masks:
            np.testing.assert_array_equal(x.mask, y.mask)


def run_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, *args: str
) -> tuple[int, str, str]:
    """Run ``lumos ARGS`` in process; returns (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["lumos", *args])
    code = 0
    try:
        main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write_idx(path: Path, array: np.ndarray, *, compress: bool = False) -> None:
    raw = (
        bytes([0, 0, 8, array.ndim])
        + struct.pack(f">{array.ndim}I", *array.shape)
        + array.tobytes()
    )
    path.write_bytes(gzip.compress(raw) if compress else raw)


def mnist_source(folder: Path, train: int = 40, test: int = 10) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, count, compress in (("train", train, True), ("t10k", test, False)):
        suffix = ".gz" if compress else ""
        write_idx(
            folder / f"{prefix}-images-idx3-ubyte{suffix}",
            rng.integers(0, 256, (count, 28, 28), dtype=np.uint8),
            compress=compress,
        )
        write_idx(
            folder / f"{prefix}-labels-idx1-ubyte{suffix}",
            (np.arange(count) % 10).astype(np.uint8),
            compress=compress,
        )
    return folder


def cifar_source(folder: Path, names: list[bytes] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name, count in (("data_batch_1", 30), ("test_batch", 10)):
        batch = {
            b"data": rng.integers(0, 256, (count, 3072), dtype=np.uint8),
            b"labels": [i % 3 for i in range(count)],
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    meta = {b"label_names": names or [b"airplane", b"automobile", b"bird"]}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return folder


def colour_labels(
    folder: Path, workspace: object, count: int, *, val_percent: float, test_percent: float
) -> None:
    """Import a multi-label set: red, blue, and magenta (both) 16x16 squares, as ``colours``."""
    from lumos.data import import_dataset

    lines = []
    for i in range(count):
        colour = [(255, 0, 0), (0, 0, 255), (255, 0, 255)][i % 3]
        write_image(folder / f"{i}.png", (16, 16), colour=colour)
        lines.append(f"{i}.png {['red', 'blue', 'red,blue'][i % 3]}")
    (folder / "train.txt").write_text("\n".join(lines))
    import_dataset(
        folder, "colours", workspace=workspace, val_percent=val_percent, test_percent=test_percent
    )


def colours_recipe() -> object:
    from lumos.train import Recipe

    return Recipe(
        dataset="colours",
        network="lenet5",
        epochs=15,
        batch_size=8,
        lr=0.1,
        workers=0,
        metric="val_f1",
        precision="fp32",  # the scores the tests assert were measured in it
    )


def square_masks(folder: Path, count: int = 80) -> Path:
    """Gray images with a bright square on noise, and its mask (value 1)."""
    rng = np.random.default_rng(0)
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    for i in range(count):
        pixels = rng.integers(0, 90, (32, 32), dtype=np.uint8)
        mask = np.zeros((32, 32), np.uint8)
        x, y, side = *rng.integers(0, 20, 2), int(rng.integers(6, 12))
        pixels[y : y + side, x : x + side] = rng.integers(170, 255)
        mask[y : y + side, x : x + side] = 1
        Image.fromarray(pixels).save(folder / "images" / f"{i}.png")
        Image.fromarray(mask).save(folder / "masks" / f"{i}.png")
    (folder / "classes.txt").write_text("background\nsquare\n")
    return folder


def import_squares(folder: Path, workspace: object, *, test_percent: float) -> None:
    """The :func:`square_masks` set imported as dataset ``squares`` (20% validation)."""
    from lumos.data import import_dataset

    import_dataset(
        square_masks(folder),
        "squares",
        workspace=workspace,
        test_percent=test_percent,
        val_percent=20,
    )


def squares_recipe() -> object:
    """A U-Net recipe that learns :func:`square_masks` in a few seconds."""
    from lumos.train import Recipe

    return Recipe(
        dataset="squares", network="unet", epochs=8, batch_size=8, lr=0.003, optimizer="adamw",
        weight_decay=1e-4, metric="val_miou", hflip=True, vflip=True, workers=0,
        precision="fp32",  # the scores the tests assert were measured in it
    )  # fmt: skip


def detector_recipe(dataset: str, **values: object) -> object:
    """The detector recipe the tests' scores were measured with: FCOS ResNet-18 FPN at
    96x96 in fp32, batch 8, AdamW (the demo's until its light detector took over)."""
    from lumos.train import Recipe

    base = {
        "network": "fcos_resnet18_fpn", "input_size": (96, 96), "epochs": 40, "batch_size": 8,
        "optimizer": "adamw", "lr": 0.001, "weight_decay": 1e-4, "warmup_epochs": 1,
        "clip_grad": 10, "hflip": True, "scale_jitter": 0.2, "precision": "fp32", "workers": 1,
    }  # fmt: skip
    return Recipe(**{**base, "dataset": dataset, **values})


def colour_folders(root: Path, per_class: int = 12, size: int = 16) -> Path:
    """``root/<red|green|blue>/<i>.png``: noisy squares of one colour per class, easy to learn."""
    rng = np.random.default_rng(0)
    for label, channel in (("red", 0), ("green", 1), ("blue", 2)):
        for i in range(per_class):
            pixels = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
            pixels[:, :, channel] += 180
            path = root / label / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(path)
    return root


def coco_with_negatives_and_crowds(folder: Path, workspace: object) -> None:
    """Twelve 48x48 COCO images as dataset ``crowded``: negatives, crowds, two classes."""
    from lumos.data import import_dataset

    images, annotations = [], []
    for i in range(12):
        write_image(folder / f"{i}.png", (48, 48), seed=i)
        images.append({"id": i, "file_name": f"{i}.png", "width": 48, "height": 48})
        if i % 4 == 0:
            continue  # a negative: no objects
        annotations.append(
            {"id": len(annotations) + 1, "image_id": i, "category_id": 1 + i % 2,
             "bbox": [4, 4, 20, 20], "area": 400, "iscrowd": int(i % 3 == 0)}
        )  # fmt: skip
    categories = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    (folder / "annotations.json").write_text(
        json.dumps({"images": images, "annotations": annotations, "categories": categories})
    )
    import_dataset(
        folder / "annotations.json", "crowded", workspace=workspace, val_percent=25, seed=1
    )


def square_boxes(
    folder: Path, count: int = 96, size: int = 64, names: tuple[str, str] = ("red", "blue")
) -> Path:
    """A COCO file of ``count`` gray-noise images with one or two red or blue squares each
    (classes ``names``): a detection set a small detector learns in seconds."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for i in range(count):
        pixels = rng.integers(60, 120, (size, size, 3), dtype=np.uint8)
        for _ in range(int(rng.integers(1, 3))):
            side = int(rng.integers(10, 22))
            x, y = (int(v) for v in rng.integers(0, size - side, 2))
            category = int(rng.integers(1, 3))
            pixels[y : y + side, x : x + side] = (230, 40, 40) if category == 1 else (40, 40, 230)
            annotations.append(
                {"id": len(annotations) + 1, "image_id": i, "category_id": category,
                 "bbox": [x, y, side, side], "area": side * side, "iscrowd": 0}
            )  # fmt: skip
        Image.fromarray(pixels).save(folder / f"{i}.png")
        images.append({"id": i, "file_name": f"{i}.png", "width": size, "height": size})
    categories = [{"id": 1, "name": names[0]}, {"id": 2, "name": names[1]}]
    path = folder / "annotations.json"
    path.write_text(
        json.dumps({"images": images, "annotations": annotations, "categories": categories})
    )
    return path


def api_error(response: object, status: int) -> str:
    """The one-line ``error`` of a JSON error answer, checked to have ``status``."""
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"} and "\n" not in body["error"]
    return body["error"]


def workbench_client(workspace: object, **settings: object):
    """A test client of the workbench as its own pages talk to it: on a loopback address,
    with the header its scripts send (lumos.web.guard)."""
    from fastapi.testclient import TestClient

    from lumos.web.app import create_app
    from lumos.web.settings import WebSettings

    app = create_app(WebSettings(workspace, **settings))  # type: ignore[arg-type]
    return TestClient(app, base_url="http://127.0.0.1:5000", headers={"X-Lumos-Request": "1"})


@contextlib.contextmanager
def running_server(app: object, **config: object) -> Iterator[tuple[str, object]]:
    """``app`` served by Uvicorn in a thread on the loopback port the system gives it (port 0:
    no other process can take it between a choice and the bind); yields (url, server).
    Leaving asks the server to exit and waits for it (requests in flight are answered)."""
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", **config)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "server did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.should_exit = True
        thread.join(30)


@contextlib.contextmanager
def reserved_ports(count: int = 1) -> Iterator[list[int]]:
    """Loopback ports the system gives, for a server that must be told its port before it
    starts (torchrun's rendezvous, Triton). Each stays bound here (SO_REUSEADDR, not
    listening) until the block ends, so no other process takes it in between; the server,
    which binds with SO_REUSEADDR too, can."""
    held = [socket.socket() for _ in range(count)]
    try:
        for s in held:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", 0))
        yield [s.getsockname()[1] for s in held]
    finally:
        for s in held:
            s.close()


def lenet_workspace(root: Path) -> object:
    """A workspace at ``root`` (which must not exist) holding ``digits`` (sklearn's digits,
    80 a class) and ``lenet``, a LeNet-5 trained on it in fp32 and saved: built once a test
    process and copied, so each caller has its own to change."""
    from lumos.workspace import Workspace

    shutil.copytree(_lenet_template(), root)
    return Workspace(root)


@functools.cache
def _lenet_template() -> Path:
    from lumos.data import import_dataset
    from lumos.deploy.from_job import bundle_from_job
    from lumos.train import Recipe, train
    from lumos.workspace import Workspace

    folder = Path(tempfile.mkdtemp(prefix="lumos-lenet-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    workspace = Workspace(folder / "workspace").ensure()
    import_dataset("sample:digits", "digits", workspace=workspace, max_per_class=80)
    recipe = Recipe(dataset="digits", network="lenet5", epochs=8, batch_size=32, lr=0.05, workers=0,
                    precision="fp32")  # fmt: skip
    job = train(recipe, workspace=workspace, progress=False)
    bundle_from_job(job.id, "lenet", workspace=workspace)
    return workspace.root


def digit_png(workspace: object, index: int = 1) -> tuple[bytes, str]:
    """A test image of ``digits`` (see :func:`lenet_workspace`) as PNG bytes, and its class."""
    from lumos.data import Dataset

    test = Dataset.open("digits", workspace).split("test")
    buffer = io.BytesIO()
    Image.fromarray(test.images([index])[0][:, :, 0]).save(buffer, format="PNG")
    return buffer.getvalue(), test.classes[test.labels()[index]]


CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; `make test` installs it as root
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


@contextlib.contextmanager
def chromium() -> Iterator[object]:
    """Debian's Chromium, headless, driven by Playwright, as every browser test starts it."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        missing("chromium", f"{CHROMIUM} is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def wait_for_job(workspace: object, job_id: str, state: str = "done") -> object:
    """Job ``job_id`` once it reached ``state``, read from the store as every front end reads
    it; one that ends in another state fails the test at once with its error. The deadline
    only catches a hang: a slow machine is slow, not wrong."""
    from lumos.jobs import FINAL, open_job

    deadline = time.monotonic() + 900
    while True:
        job = open_job(workspace, job_id)  # type: ignore[arg-type]
        if job.state == state:
            return job
        assert job.state not in FINAL, f"job {job_id} is {job.state}: {job.error}"
        assert time.monotonic() < deadline, f"job {job_id} still {job.state} after 15 minutes"
        time.sleep(0.1)


def insert_jobs(root: str, worker: int) -> None:
    """Forty job rows written one transaction each: a process of the concurrency test.

    Here, not in the test module: a spawned process finds a function by its module's name,
    and ``tests`` may name another package (label-studio-converter installs one)."""
    from lumos.workspace import Workspace

    ws = Workspace(root)
    for i in range(40):
        with ws.db() as db:
            db.execute(
                "INSERT INTO jobs (id, kind, state, params, created) "
                "VALUES (?, 'import', 'done', '{}', 'now')",
                (f"{worker}-{i}",),
            )


def cache_torchvision_weights(
    weights: object, state: dict, torch_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """``state`` in torch.hub's cache under ``torch_home``, named as torchvision names its
    files (the SHA-256 prefix torch.hub checks); torchvision's ``weights`` entry points to
    that name at a URL never reached. Returns the file."""
    import hashlib

    import torch

    buffer = io.BytesIO()
    torch.save(state, buffer)
    stem = Path(weights.url).name.split("-")[0]  # type: ignore[attr-defined]
    name = f"{stem}-{hashlib.sha256(buffer.getvalue()).hexdigest()[:8]}.pth"
    folder = torch_home / "hub" / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(buffer.getvalue())
    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    monkeypatch.setattr(weights.value, "url", f"http://127.0.0.1:9/{name}")  # type: ignore[attr-defined]
    return folder / name
